package rag

import (
	"strings"
	"testing"
)

func hitsOf(n, runes int) []Hit {
	var hs []Hit
	for i := 0; i < n; i++ {
		text := strings.Repeat("word ", runes/5)
		hs = append(hs, Hit{Passage: Passage{ID: string(rune('a' + i)), Source: "/docs/guide.pdf", Page: i + 1, Text: text}, Score: float64(n - i)})
	}
	return hs
}

func TestBuildPromptFits(t *testing.T) {
	hits := hitsOf(10, 2000) // ~500 tokens each
	p := BuildPrompt(PromptInput{Question: "How do I start?", Hits: hits, ContextTokens: 4096, ReserveTokens: 1024})
	if p.Dropped == 0 || len(p.Given)+p.Dropped != 10 {
		t.Fatalf("given %d dropped %d", len(p.Given), p.Dropped)
	}
	for i, h := range p.Given {
		if h.ID != hits[i].ID {
			t.Errorf("given[%d] = %s: lowest-ranked must be dropped first", i, h.ID)
		}
	}
	total := 0
	for _, m := range p.Messages {
		total += EstimateTokens(m.Content) + messageOverhead
	}
	if total > 4096-1024 {
		t.Errorf("prompt estimate %d exceeds budget %d", total, 4096-1024)
	}
	if p.NumCtx < total+1024 || p.NumCtx > 4096 {
		t.Errorf("NumCtx %d, prompt %d", p.NumCtx, total)
	}
	user := p.Messages[len(p.Messages)-1].Content
	if !strings.Contains(user, "[1] (guide.pdf, page 1)") || !strings.Contains(user, "Question: How do I start?") {
		t.Errorf("user message:\n%s", user[:200])
	}
	if !strings.Contains(p.Messages[0].Content, "don't cover") {
		t.Errorf("system message lacks the not-covered rule: %s", p.Messages[0].Content)
	}

	// Everything fits: nothing dropped, small num_ctx requested.
	p = BuildPrompt(PromptInput{Question: "q", Hits: hitsOf(2, 200), ContextTokens: 32768})
	if p.Dropped != 0 || len(p.Given) != 2 || p.NumCtx != 2048 {
		t.Errorf("small prompt: given %d dropped %d numCtx %d", len(p.Given), p.Dropped, p.NumCtx)
	}

	// A single passage larger than the whole budget is cut, not dropped.
	p = BuildPrompt(PromptInput{Question: "q", Hits: hitsOf(1, 40000), ContextTokens: 2048, ReserveTokens: 512})
	if len(p.Given) != 1 || len([]rune(p.Given[0].Text)) >= 40000 {
		t.Errorf("oversized passage: given %d", len(p.Given))
	}
}

func TestBuildPromptChineseAndHistory(t *testing.T) {
	hits := []Hit{{Passage: Passage{Source: "常见问题.md", Page: 0, Headings: []string{"配送"}, Text: "满 100 元免费配送。"}}}
	var history []Message
	for i := 0; i < 50; i++ {
		history = append(history, Message{Role: "user", Content: strings.Repeat("很长的历史消息", 20)})
	}
	p := BuildPrompt(PromptInput{System: "你是面包店的客服。", Question: "配送收费吗？", History: history, Hits: hits, ContextTokens: 2048, ReserveTokens: 512})
	if len(p.Given) != 1 {
		t.Fatalf("passage dropped in favour of history")
	}
	if len(p.Messages) >= 52 {
		t.Errorf("history not trimmed: %d messages", len(p.Messages))
	}
	if !strings.HasPrefix(p.Messages[0].Content, "你是面包店的客服。") || !strings.Contains(p.Messages[0].Content, "用中文回答") {
		t.Errorf("system: %s", p.Messages[0].Content)
	}
	user := p.Messages[len(p.Messages)-1].Content
	if !strings.Contains(user, "[1]（常见问题.md，配送）") || !strings.Contains(user, "问题：配送收费吗？") {
		t.Errorf("user: %s", user)
	}
}

func TestEstimateTokens(t *testing.T) {
	if got := EstimateTokens("abcdefgh"); got != 2 {
		t.Errorf("latin: %d", got)
	}
	if got := EstimateTokens("配送费"); got != 3 {
		t.Errorf("cjk: %d", got)
	}
}

func TestDetectLanguage(t *testing.T) {
	for s, want := range map[string]string{
		"When is the bakery open?":       "en",
		"生日蛋糕要提前多久预订？":                   "zh",
		"GODEBUG 是什么？":                   "zh",
		"What does 配送 mean in this FAQ?": "en",
		"":                               "en",
	} {
		if got := DetectLanguage(s); got != want {
			t.Errorf("DetectLanguage(%q) = %s, want %s", s, got, want)
		}
	}
	if !strings.Contains(NotCoveredAnswer("zh"), "文档中没有涉及这个问题") || !strings.Contains(NotCoveredAnswer("en"), "The documents don't cover this.") {
		t.Error("NotCoveredAnswer wording")
	}
}
