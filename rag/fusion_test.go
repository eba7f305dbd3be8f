package rag

import "testing"

func TestFusionWeightsRule(t *testing.T) {
	cases := []struct {
		w      FusionWeights
		kw, mw float64
		words  string
	}{
		{FusionWeights{}, 1, 1, "not measured yet"},
		{FusionWeights{Keyword: 0.92, Meaning: 0.31, Samples: 40}, 1, 0, "keyword 0.92 · meaning 0.31 → keyword only"},
		{FusionWeights{Keyword: 0.2, Meaning: 0.9, Samples: 40}, 0, 1, "keyword 0.20 · meaning 0.90 → meaning only"},
		{FusionWeights{Keyword: 0.9, Meaning: 0.8, Samples: 40}, 0.9, 0.8, "keyword 0.90 · meaning 0.80 → keyword and meaning"},
		{FusionWeights{Samples: 40}, 1, 0, "keyword 0.00 · meaning 0.00 → keyword only"},
	}
	for _, c := range cases {
		kw, mw := c.w.weights()
		if kw != c.kw || mw != c.mw || c.w.Summary() != c.words {
			t.Errorf("%+v: weights %v %v, summary %q; want %v %v %q", c.w, kw, mw, c.w.Summary(), c.kw, c.mw, c.words)
		}
	}
}

func TestFusionStale(t *testing.T) {
	ix := NewIndex()
	if !ix.FusionStale("m") {
		t.Error("unmeasured figures are not stale")
	}
	ix.SetFusion(FusionWeights{Model: "m", Samples: 10, Passages: 0})
	if ix.FusionStale("m") || !ix.FusionStale("other") {
		t.Error("staleness by model wrong")
	}
}
