package rag

import (
	"context"
	"fmt"
	"strings"
)

// FusionWeights say how much each side of hybrid search is trusted for one
// knowledge base and embedding model, from evidence rather than a constant:
// Keyword and Meaning are the shares of pseudo-queries (a sentence taken
// from a sampled passage) for which that side alone ranks the source
// passage in its top fusionDepth. Users pick small embedding models, and a
// weak one must not bury what the keyword side found.
type FusionWeights struct {
	Model    string  `json:"model"`
	Keyword  float64 `json:"keyword"`
	Meaning  float64 `json:"meaning"`
	Samples  int     `json:"samples"`  // pseudo-queries measured
	Passages int     `json:"passages"` // passages with vectors when measured
}

// fusionDepth is how deep a side's list counts as retrieving the source.
const fusionDepth = 1

// fusionSamples is how many pseudo-queries a measurement embeds: one batch,
// enough to tell a useful model (most found) from a useless one (almost none).
const fusionSamples = 40

// Measured reports whether the figures come from a measurement.
func (w FusionWeights) Measured() bool { return w.Samples > 0 }

// weights are what fusion multiplies each side's reciprocal ranks by. A side
// that finds less than half of what the other finds is dropped, so fusion
// can only add what a comparably good side ranks well; unmeasured figures
// keep equal weights.
func (w FusionWeights) weights() (kw, mw float64) {
	if !w.Measured() {
		return 1, 1
	}
	kw, mw = w.Keyword, w.Meaning
	switch {
	case kw == 0 && mw == 0:
		return 1, 0
	case mw < kw*0.8:
		return 1, 0
	case kw < mw*0.8:
		return 0, 1
	}
	return kw, mw
}

// Mode names how the figures are used, for the Knowledge screen to put in
// words: "keyword", "meaning", "mostlyKeyword", "mostlyMeaning" or "both";
// "" when not measured.
func (w FusionWeights) Mode() string {
	if !w.Measured() {
		return ""
	}
	kw, mw := w.weights()
	switch {
	case mw == 0:
		return "keyword"
	case kw == 0:
		return "meaning"
	case kw > mw*1.25:
		return "mostlyKeyword"
	case mw > kw*1.25:
		return "mostlyMeaning"
	}
	return "both"
}

// Summary is the figure in words for the command line, e.g.
// "keyword 0.92 · meaning 0.31 → keyword only".
func (w FusionWeights) Summary() string {
	words := map[string]string{"keyword": "keyword only", "meaning": "meaning only",
		"mostlyKeyword": "mostly keyword", "mostlyMeaning": "mostly meaning", "both": "keyword and meaning"}
	m := w.Mode()
	if m == "" {
		return "not measured yet"
	}
	return fmt.Sprintf("keyword %.2f · meaning %.2f → %s", w.Keyword, w.Meaning, words[m])
}

// Fusion returns the index's fusion figures.
func (ix *Index) Fusion() FusionWeights {
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	return ix.fusion
}

// SetFusion sets figures measured earlier (kept with the knowledge base).
func (ix *Index) SetFusion(w FusionWeights) {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	ix.fusion = w
}

// FusionStale reports whether the figures should be measured again: never
// measured, measured for another model, or the passages with vectors have
// changed by a fifth since.
func (ix *Index) FusionStale(model string) bool {
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	w := ix.fusion
	if !w.Measured() || w.Model != model {
		return true
	}
	d := ix.vecCount - w.Passages
	return d*5 > w.Passages || -d*5 > w.Passages
}

// MeasureFusion samples passages evenly, makes one pseudo-query from each (a
// sentence of it), embeds them in one call and measures how often each side
// alone retrieves the source passage. It stores and returns the figures.
func (ix *Index) MeasureFusion(ctx context.Context, model string, embed func(ctx context.Context, texts []string) ([][]float32, error)) (FusionWeights, error) {
	type probe struct {
		id, q string
	}
	var probes []probe
	ix.mu.RLock()
	withVec := ix.vecCount
	if withVec > 0 {
		step := max(1, withVec/fusionSamples)
		seen := 0
		for _, d := range ix.docs {
			if d == nil || !d.hasVec {
				continue
			}
			if seen%step == 0 && len(probes) < fusionSamples {
				if q := pseudoQuery(d.p.Text); q != "" {
					probes = append(probes, probe{d.p.ID, q})
				}
			}
			seen++
		}
	}
	ix.mu.RUnlock()
	w := FusionWeights{Model: model, Passages: withVec}
	if len(probes) == 0 {
		return w, nil
	}
	texts := make([]string, len(probes))
	for i, p := range probes {
		texts[i] = p.q
	}
	vecs, err := embed(ctx, texts)
	if err != nil {
		return w, err
	}
	if len(vecs) != len(probes) {
		return w, fmt.Errorf("the embedding model returned %d vectors for %d texts", len(vecs), len(probes))
	}
	var kw, mw int
	for i, p := range probes {
		lex, dense := ix.sides(Query{Text: p.q, Vector: vecs[i], K: fusionDepth})
		if containsID(lex, p.id) {
			kw++
		}
		if containsID(dense, p.id) {
			mw++
		}
	}
	n := float64(len(probes))
	w.Keyword, w.Meaning, w.Samples = float64(kw)/n, float64(mw)/n, len(probes)
	ix.SetFusion(w)
	return w, nil
}

// sides returns this index's lexical and dense lists for q, unfused.
func (ix *Index) sides(q Query) (lex, dense []Hit) {
	qt := parseQuery(q.Text)
	st := &corpusStats{df: map[string]int{}}
	ix.mu.RLock()
	ix.addStats(qt, st)
	ix.mu.RUnlock()
	return ix.candidates(q, qt, st, q.K)
}

func containsID(hs []Hit, id string) bool {
	for _, h := range hs {
		if h.ID == id {
			return true
		}
	}
	return false
}

// pseudoQuery picks the passage's longest sentence of at most 24 terms (and
// at least 4), as a question would name what the passage says.
func pseudoQuery(text string) string {
	best, bestN := "", 0
	for _, s := range strings.FieldsFunc(text, func(r rune) bool {
		return strings.ContainsRune(".!?。！？；;\n", r)
	}) {
		n := len(Tokenize(s))
		if n >= 4 && n <= 24 && n > bestN {
			best, bestN = strings.TrimSpace(s), n
		}
	}
	return best
}
