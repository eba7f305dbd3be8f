package rag

import (
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

// Tokenize turns text into index terms: NFKC-normalised and lower-cased;
// runs of Latin (or other alphabetic) letters and digits become words, with
// a light English suffix stripping; CJK runs become overlapping character
// bigrams, and a CJK run of one character becomes that character. There is
// no stop-word list: common words get a low IDF and weigh little.
func Tokenize(s string) []string {
	var out []string
	tokenize(s, func(t string, _ int) { out = append(out, t) })
	return out
}

// tokenize calls emit with each term and its ordinal position. Positions are
// what the proximity bonus measures distances in; a CJK bigram counts as one
// position, like a word.
func tokenize(s string, emit func(term string, pos int)) {
	s = norm.NFKC.String(s)
	pos := 0
	var word []rune
	var cjk []rune
	flushWord := func() {
		if len(word) == 0 {
			return
		}
		emit(stem(string(word)), pos)
		pos++
		word = word[:0]
	}
	flushCJK := func() {
		switch len(cjk) {
		case 0:
			return
		case 1:
			emit(string(cjk), pos)
			pos++
		default:
			for i := 0; i+1 < len(cjk); i++ {
				emit(string(cjk[i:i+2]), pos)
				pos++
			}
		}
		cjk = cjk[:0]
	}
	for _, r := range s {
		switch {
		case isCJK(r):
			flushWord()
			cjk = append(cjk, r)
		case unicode.IsLetter(r) || unicode.IsDigit(r) || unicode.Is(unicode.Mn, r):
			flushCJK()
			word = append(word, unicode.ToLower(r))
		default:
			flushWord()
			flushCJK()
		}
	}
	flushWord()
	flushCJK()
}

// isCJK reports ideographs, kana and hangul: scripts written without spaces
// between words, which are indexed as character bigrams.
func isCJK(r rune) bool {
	if r < 0x2E80 {
		return false
	}
	return unicode.Is(unicode.Han, r) || unicode.Is(unicode.Hiragana, r) ||
		unicode.Is(unicode.Katakana, r) || unicode.Is(unicode.Hangul, r)
}

// stem strips the commonest English inflections so that "settings",
// "setting"; "maintained", "maintain"; "requires", "required", "require"
// meet. It only has to map related forms to one key, not to produce words,
// so it is deliberately smaller than Porter's algorithm; words with digits
// or non-ASCII letters are left alone.
func stem(w string) string {
	if len(w) <= 3 {
		return w
	}
	for i := 0; i < len(w); i++ {
		if c := w[i]; c < 'a' || c > 'z' {
			if c == '\'' {
				continue
			}
			return w
		}
	}
	w = strings.TrimSuffix(w, "'s")
	switch {
	case strings.HasSuffix(w, "sses"):
		w = w[:len(w)-2]
	case strings.HasSuffix(w, "ies") && len(w) > 4:
		w = w[:len(w)-3] + "y"
	case strings.HasSuffix(w, "s") && !strings.HasSuffix(w, "ss") &&
		!strings.HasSuffix(w, "us") && !strings.HasSuffix(w, "is"):
		w = w[:len(w)-1]
	}
	switch {
	case strings.HasSuffix(w, "ied") && len(w) > 4:
		w = w[:len(w)-3] + "y"
	case strings.HasSuffix(w, "eed"):
		// "need", "agreed": keep
	case strings.HasSuffix(w, "ed") && hasVowel(w[:len(w)-2]) && len(w) >= 6:
		w = w[:len(w)-2]
	case strings.HasSuffix(w, "ing") && hasVowel(w[:len(w)-3]) && len(w) >= 6:
		w = w[:len(w)-3]
	}
	// Fold the spelling changes the stripping leaves behind: a final "e"
	// ("require"/"requir-ed"), a doubled consonant ("stopp-ed"), "y"/"i".
	if n := len(w); n > 3 && w[n-1] == 'e' {
		w = w[:n-1]
	}
	if n := len(w); n > 3 && w[n-1] == w[n-2] && !isVowel(w[n-1]) &&
		w[n-1] != 'l' && w[n-1] != 's' && w[n-1] != 'z' {
		w = w[:n-1]
	}
	if n := len(w); n > 3 && w[n-1] == 'y' && !isVowel(w[n-2]) {
		w = w[:n-1] + "i"
	}
	return w
}

func hasVowel(s string) bool {
	for i := 0; i < len(s); i++ {
		if isVowel(s[i]) {
			return true
		}
	}
	return false
}

func isVowel(c byte) bool {
	return c == 'a' || c == 'e' || c == 'i' || c == 'o' || c == 'u' || c == 'y'
}

// runeLen is the length of s in runes.
func runeLen(s string) int { return utf8.RuneCountInString(s) }

func normText(s string) string { return norm.NFKC.String(s) }
