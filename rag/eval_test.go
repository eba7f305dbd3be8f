package rag

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

const evalDir = "/work/shared/eval"

// devIndex lays out the development corpus and indexes it with the local
// test splitter.
func devIndex(t testing.TB) (*Index, []EvalQuestion) {
	t.Helper()
	if _, err := os.Stat(evalDir); err != nil {
		t.Skipf("evaluation set not present at %s: %v", evalDir, err)
	}
	dir := t.TempDir()
	cmd := exec.Command(filepath.Join(evalDir, "dev", "corpus.sh"), dir)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("corpus.sh: %v\n%s", err, out)
	}
	files, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	ix := NewIndex()
	for _, f := range files {
		path := filepath.Join(dir, f.Name())
		text, err := extractText(path)
		if err != nil {
			t.Fatal(err)
		}
		ix.Add(splitText("dev", path, text, 800, 160)...)
	}
	qs, err := LoadQuestions(filepath.Join(evalDir, "dev", "questions.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	return ix, qs
}

func TestEvalDev(t *testing.T) {
	ix, qs := devIndex(t)
	search := func(q string, k int) []Hit { return ix.Search(Query{Text: q, K: k}) }
	r := Evaluate(qs, 5, search)
	t.Logf("dev set, %d passages, lexical only: n=%d hit@1=%.3f hit@5=%.3f MRR@5=%.3f",
		ix.Len(), r.N, r.HitAt1, r.HitAtK, r.MRR)
	for _, m := range r.Misses {
		t.Logf("miss: %q (want %s: %q) got %v", m.Q, m.Doc, m.Expect, m.Got)
	}
	// The same ranking without merging adjacent passages or diversifying,
	// to show what those add.
	raw := func(q string, k int) []Hit {
		qt := parseQuery(q)
		st := &corpusStats{df: map[string]int{}}
		ix.mu.RLock()
		defer ix.mu.RUnlock()
		ix.addStats(qt, st)
		var hs []Hit
		for _, s := range ix.lexical(qt, st, k, nil) {
			hs = append(hs, Hit{Passage: ix.docs[s.slot].p, Score: s.score})
		}
		return hs
	}
	rr := Evaluate(qs, 5, raw)
	t.Logf("ranking alone (no merge/diversify): hit@1=%.3f hit@5=%.3f MRR@5=%.3f", rr.HitAt1, rr.HitAtK, rr.MRR)
	if verbose := os.Getenv("ATOLL_EVAL_VERBOSE"); verbose != "" {
		for _, q := range qs {
			hs := search(q.Q, 5)
			one := Evaluate([]EvalQuestion{q}, 5, search)
			t.Logf("Q %s  hit@1=%v mrr=%.2f", q.Q, one.HitAt1, one.MRR)
			for i, h := range hs {
				t.Logf("  %d %.2f %s %d-%d %v", i+1, h.Score, filepath.Base(h.Source), h.Start, h.End, h.Headings)
			}
		}
	}
	if r.HitAt1 < 0.90 || r.HitAtK < 1.0 {
		t.Errorf("dev set below target: hit@1 %.3f (want >= 0.90), hit@5 %.3f (want 1.0)", r.HitAt1, r.HitAtK)
	}
}

// BenchmarkEvalSweep prints the dev-set figures over a grid of lexical
// settings (it is how defaultLex was chosen); run it with -benchtime 1x.
func BenchmarkEvalSweep(b *testing.B) {
	if b.N > 1 {
		return
	}
	t := b
	ix, qs := devIndex(t)
	search := func(q string, k int) []Hit { return ix.Search(Query{Text: q, K: k}) }
	for _, k1 := range []float64{0.9, 1.2, 1.6} {
		for _, b := range []float64{0.5, 0.75, 0.9} {
			for _, head := range []float64{0, 0.5, 1, 2} {
				for _, prox := range []float64{0, 0.5, 1, 2} {
					for _, win := range []int{2, 4, 8} {
						if prox == 0 && win != 4 {
							continue
						}
						ix.lex = lexParams{k1: k1, b: b, headWeight: head, headB: 0.5, prox: prox, proxWindow: win, rerank: 100}
						r := Evaluate(qs, 5, search)
						t.Logf("k1=%.1f b=%.2f head=%.1f prox=%.1f win=%d  hit@1=%.2f hit@5=%.2f mrr=%.3f",
							k1, b, head, prox, win, r.HitAt1, r.HitAtK, r.MRR)
					}
				}
			}
		}
	}
}
