package rag

import (
	"strings"
	"unicode"
)

// DetectLanguage returns "zh" when CJK characters dominate s, else "en". A
// CJK character carries about as much as a word, so they are weighed
// against Latin words, not letters.
func DetectLanguage(s string) string {
	cjk, words := 0, 0
	inWord := false
	for _, r := range s {
		switch {
		case isCJK(r):
			cjk++
			inWord = false
		case unicode.IsLetter(r):
			if !inWord {
				words++
			}
			inWord = true
		default:
			inWord = false
		}
	}
	if cjk > 0 && cjk >= words {
		return "zh"
	}
	return "en"
}

// NotCoveredAnswer is what the assistant says, without calling the model,
// when no passage covers the question.
func NotCoveredAnswer(lang string) string {
	if isZh(lang) {
		return "文档中没有涉及这个问题。可以换个说法，用文档里的词再问一次，或者把相关文档加入知识库。"
	}
	return "The documents don't cover this. Try asking with words the documents would use, or add a document that covers it to the knowledge base."
}

func isZh(lang string) bool {
	return strings.HasPrefix(strings.ToLower(lang), "zh")
}
