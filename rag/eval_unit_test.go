package rag

import (
	"os"
	"path/filepath"
	"testing"
)

func TestEvaluateScoringRule(t *testing.T) {
	qs := []EvalQuestion{
		{Q: "a", Doc: "faq.md", Expect: "Open Tuesday  to\nSunday"},
		{Q: "b", Doc: "faq.md", Expect: "closed on mondays"},
		{Q: "c", Doc: "faq.md", Expect: "never there"},
	}
	results := map[string][]Hit{
		// White space and case are ignored; the base name must match.
		"a": {{Passage: Passage{Source: "/kb/docs/faq.md", Text: "We are open tuesday to sunday."}}},
		// Right text in the wrong file does not count; rank 2 gives 1/2.
		"b": {
			{Passage: Passage{Source: "/kb/other.md", Text: "Closed on Mondays."}},
			{Passage: Passage{Source: "faq.md", Text: "We are CLOSED ON MONDAYS."}},
		},
		"c": {{Passage: Passage{Source: "faq.md", Text: "nothing"}}},
	}
	r := Evaluate(qs, 5, func(q string, k int) []Hit { return results[q] })
	if r.N != 3 || r.K != 5 {
		t.Fatalf("N=%d K=%d", r.N, r.K)
	}
	if r.HitAt1 != 1.0/3 || r.HitAtK != 2.0/3 || r.MRR != (1+0.5)/3 {
		t.Errorf("hit@1 %.3f hit@k %.3f mrr %.3f", r.HitAt1, r.HitAtK, r.MRR)
	}
	if len(r.Misses) != 1 || r.Misses[0].Q != "c" || r.Misses[0].Got[0] != "faq.md" {
		t.Errorf("misses %+v", r.Misses)
	}
}

func TestLoadQuestions(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "q.jsonl")
	os.WriteFile(path, []byte(`{"q":"When?","doc":"a.md","expect":"7am"}`+"\n\n"+`{"q":"何时？","doc":"b.md","expect":"8 点"}`+"\n"), 0o644)
	qs, err := LoadQuestions(path)
	if err != nil || len(qs) != 2 || qs[1].Expect != "8 点" {
		t.Fatalf("LoadQuestions = %+v, %v", qs, err)
	}
	os.WriteFile(path, []byte("{not json\n"), 0o644)
	if _, err := LoadQuestions(path); err == nil {
		t.Error("bad line accepted")
	}
	if _, err := LoadQuestions(filepath.Join(dir, "missing.jsonl")); err == nil {
		t.Error("missing file accepted")
	}
}

func TestPassagesInOrder(t *testing.T) {
	ix := NewIndex()
	ps := sections("kb", "faq-en.md", faqEn)
	for i := len(ps) - 1; i >= 0; i-- {
		ix.Add(ps[i])
	}
	got := ix.Passages("faq-en.md")
	if len(got) != len(ps) {
		t.Fatalf("got %d passages", len(got))
	}
	for i := range got {
		if got[i].ID != ps[i].ID {
			t.Errorf("passage %d = %s, want %s", i, got[i].ID, ps[i].ID)
		}
	}
	if len(ix.Passages("nope.md")) != 0 {
		t.Error("passages for an unknown source")
	}
}
