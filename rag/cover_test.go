package rag

import (
	"testing"
)

func TestCovered(t *testing.T) {
	ix := NewIndex()
	ix.Add(sections("kb", "faq-zh.md", faqZh)...)
	ix.Add(sections("kb", "faq-en.md", faqEn)...)
	ix.Add(passage("kb", "misc.txt", 0, "Keep the receipt. What is the weather like? It is the same as ever."))
	for _, tc := range []struct {
		q    string
		want bool
	}{
		{"How long can I borrow books for?", true},
		{"What are the library opening hours?", true},
		{"What is the capital of France?", false},
		{"Who won the football world cup in 2018?", false},
		{"配送费怎么收？", true},
		{"会员有什么优惠？", true},
		{"今天天气怎么样？", false},
		{"怎么申请护照？", false},
	} {
		hits := ix.Search(Query{Text: tc.q, K: 5})
		best := 0.0
		for _, h := range hits {
			best = max(best, h.Coverage)
		}
		t.Logf("%.2f %s", best, tc.q)
		if got := Covered(hits, tc.q); got != tc.want {
			t.Errorf("Covered(%q) = %v (best coverage %.2f), want %v", tc.q, got, best, tc.want)
		}
	}
	if Covered(nil, "anything") {
		t.Error("Covered(nil) = true")
	}
	// Across languages lexical coverage cannot judge: the model decides.
	en := []Hit{{Passage: Passage{Text: "Birthday cakes must be ordered 48 hours ahead."}}}
	if !Covered(en, "生日蛋糕要提前多久预订？") {
		t.Error("cross-language hit judged not covered")
	}
	// Hits without Coverage (e.g. built elsewhere) fall back to the text.
	h := Hit{Passage: Passage{Text: "Members may borrow up to six books."}}
	if !Covered([]Hit{h}, "borrow books") || Covered([]Hit{h}, "passport renewal fees") {
		t.Error("fallback coverage")
	}
}

// TestCoveredThreshold measures coverage on the development set: every
// answerable question against off-topic ones.
func TestCoveredThreshold(t *testing.T) {
	ix, qs := devIndex(t)
	best := func(q string) float64 {
		b := 0.0
		for _, h := range ix.Search(Query{Text: q, K: 5}) {
			b = max(b, h.Coverage)
		}
		return b
	}
	lowIn := 1.0
	for _, q := range qs {
		c := best(q.Q)
		t.Logf("answerable %.2f %s", c, q.Q)
		lowIn = min(lowIn, c)
		if c < coveredAt {
			t.Errorf("answerable %q: coverage %.2f < %.2f", q.Q, c, coveredAt)
		}
	}
	highOut := 0.0
	for _, q := range []string{
		"How do I renew my passport?", "Who painted the Mona Lisa?",
		"What is the best recipe for lasagna?", "今天天气怎么样？", "怎么申请护照？", "谁是第一个登上月球的人？",
	} {
		c := best(q)
		t.Logf("off-topic  %.2f %s", c, q)
		highOut = max(highOut, c)
		if c >= coveredAt {
			t.Errorf("off-topic %q: coverage %.2f >= %.2f", q, c, coveredAt)
		}
	}
	t.Logf("lowest answerable coverage %.2f, highest off-topic %.2f, threshold %.2f", lowIn, highOut, coveredAt)
	// A known limit of lexical coverage: "capital" is in the sed FAQ
	// ("capital letters"), so half the question's content is found. The
	// answer prompt still tells the model to say when passages don't answer.
	t.Logf("known false positive: %q coverage %.2f", "What is the capital of France?", best("What is the capital of France?"))
}
