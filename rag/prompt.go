package rag

import (
	"fmt"
	"path/filepath"
	"strings"
)

// Message is one chat message in Ollama's shape.
type Message struct{ Role, Content string }

// PromptInput is what an answer is built from.
type PromptInput struct {
	System   string // the agent's own instructions
	Question string
	Language string // "en" or "zh"; "" = detected from the question
	History  []Message
	Hits     []Hit // best first
	// ContextTokens is the model's context length (default 8192);
	// ReserveTokens is kept free for the answer (default 1024).
	ContextTokens int
	ReserveTokens int
}

// Prompt is the assembled request.
type Prompt struct {
	Messages []Message
	Given    []Hit // the passages sent, numbered 1..n in this order
	Dropped  int   // passages left out to fit the context
	NumCtx   int   // the num_ctx to request: prompt estimate + reserve, rounded up
}

const (
	defaultContextTokens = 8192
	defaultReserveTokens = 1024
	messageOverhead      = 8 // role markers and separators per message
)

// BuildPrompt assembles the messages for an answer: the system message with
// citation rules, the history (oldest turns dropped first if they crowd out
// the passages), and a user message holding the numbered passages and the
// question. Passages go best first and the lowest-ranked are dropped until
// the estimate fits ContextTokens - ReserveTokens; if even the best does not
// fit it is cut short rather than left out.
func BuildPrompt(in PromptInput) Prompt {
	lang := in.Language
	if lang == "" {
		lang = DetectLanguage(in.Question)
	}
	ctx := in.ContextTokens
	if ctx <= 0 {
		ctx = defaultContextTokens
	}
	reserve := in.ReserveTokens
	if reserve <= 0 {
		reserve = min(defaultReserveTokens, ctx/4)
	}
	system := instructions(lang)
	if s := strings.TrimSpace(in.System); s != "" {
		system = s + "\n\n" + system
	}
	question := questionBlock(lang, in.Question)
	fixed := EstimateTokens(system) + EstimateTokens(question) + 2*messageOverhead
	budget := ctx - reserve - fixed

	history := in.History
	histTokens := 0
	for _, m := range history {
		histTokens += EstimateTokens(m.Content) + messageOverhead
	}
	// Keep room for at least the best passage: drop the oldest turns first.
	need := 0
	if len(in.Hits) > 0 {
		need = EstimateTokens(passageBlock(lang, 1, in.Hits[0]))
	}
	for len(history) > 0 && budget-histTokens < need {
		histTokens -= EstimateTokens(history[0].Content) + messageOverhead
		history = history[1:]
	}
	budget -= histTokens

	var blocks []string
	var given []Hit
	for i, h := range in.Hits {
		blk := passageBlock(lang, i+1, h)
		t := EstimateTokens(blk)
		if t > budget {
			if i == 0 && budget > 64 {
				h.Text = truncateToTokens(h.Text, budget-EstimateTokens(passageBlock(lang, 1, Hit{Passage: Passage{Source: h.Source, Page: h.Page, Headings: h.Headings}}))-4)
				blk = passageBlock(lang, 1, h)
				t = EstimateTokens(blk)
			} else {
				break
			}
		}
		blocks = append(blocks, blk)
		given = append(given, h)
		budget -= t
	}
	var user strings.Builder
	if len(blocks) > 0 {
		if isZh(lang) {
			user.WriteString("资料：\n\n")
		} else {
			user.WriteString("Passages:\n\n")
		}
		user.WriteString(strings.Join(blocks, "\n\n"))
		user.WriteString("\n\n")
	}
	user.WriteString(question)

	msgs := []Message{{Role: "system", Content: system}}
	msgs = append(msgs, history...)
	msgs = append(msgs, Message{Role: "user", Content: user.String()})
	used := 0
	for _, m := range msgs {
		used += EstimateTokens(m.Content) + messageOverhead
	}
	numCtx := roundUp(used+reserve, 512)
	numCtx = min(max(numCtx, 2048), ctx)
	return Prompt{Messages: msgs, Given: given, Dropped: len(in.Hits) - len(given), NumCtx: numCtx}
}

func roundUp(n, to int) int { return (n + to - 1) / to * to }

func instructions(lang string) string {
	if isZh(lang) {
		return "只根据下面编号的资料回答问题。在用到资料的句子后面用方括号标出编号，例如 [1] 或 [2][3]。" +
			"如果资料中没有答案，就直接说明文档中没有涉及这个问题，不要猜测或编造。用中文回答。"
	}
	return "Answer the question using only the numbered passages below. After each statement that uses a passage, " +
		"cite it by its number in square brackets, like [1] or [2][3]. If the passages do not contain the answer, " +
		"say that the documents don't cover it; do not guess or make it up. Answer in English."
}

func questionBlock(lang, q string) string {
	if isZh(lang) {
		return "问题：" + strings.TrimSpace(q)
	}
	return "Question: " + strings.TrimSpace(q)
}

// passageBlock is one numbered passage: "[n] (file, page 3 — Heading)" and
// its text.
func passageBlock(lang string, n int, h Hit) string {
	name := filepath.Base(strings.ReplaceAll(h.Source, "\\", "/"))
	var heads []string
	for _, s := range h.Headings {
		if s = strings.TrimSpace(s); s != "" {
			heads = append(heads, s)
		}
	}
	var label string
	if isZh(lang) {
		label = name
		if h.Page > 0 {
			label += fmt.Sprintf("，第 %d 页", h.Page)
		}
		if len(heads) > 0 {
			label += "，" + strings.Join(heads, " > ")
		}
		label = fmt.Sprintf("[%d]（%s）", n, label)
	} else {
		label = name
		if h.Page > 0 {
			label += fmt.Sprintf(", page %d", h.Page)
		}
		if len(heads) > 0 {
			label += " — " + strings.Join(heads, " > ")
		}
		label = fmt.Sprintf("[%d] (%s)", n, label)
	}
	return label + "\n" + strings.TrimSpace(h.Text)
}

// EstimateTokens over-estimates a text's token count the way the context
// budget needs: one token per CJK character, one per four other characters
// (rounded up).
func EstimateTokens(s string) int {
	cjk, other := 0, 0
	for _, r := range s {
		if isCJK(r) {
			cjk++
		} else {
			other++
		}
	}
	return cjk + (other+3)/4
}

// truncateToTokens cuts s to about n tokens at a rune boundary.
func truncateToTokens(s string, n int) string {
	if n <= 0 {
		return ""
	}
	used := 0
	for i, r := range s {
		if isCJK(r) {
			used += 4
		} else {
			used++
		}
		if used > 4*n {
			return s[:i] + "…"
		}
	}
	return s
}
