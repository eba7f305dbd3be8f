package eval

import (
	"context"
	"hash/fnv"
	"math"
	"math/rand/v2"
	"testing"

	"atoll/rag"
)

// randomEmbed stands in for a useless embedding model (the test model's
// random weights): each text gets a fixed pseudo-random unit vector.
func randomEmbed(_ context.Context, texts []string) ([][]float32, error) {
	out := make([][]float32, len(texts))
	for i, t := range texts {
		h := fnv.New64a()
		h.Write([]byte(t))
		rng := rand.New(rand.NewPCG(h.Sum64(), 1))
		v := make([]float32, 64)
		for j := range v {
			v[j] = float32(rng.NormFloat64())
		}
		out[i] = unit(v)
	}
	return out, nil
}

// wordsEmbed is a scripted "good" model: a text's vector is built from its
// words (hashed bag of terms), so texts that share words point the same way.
func wordsEmbed(_ context.Context, texts []string) ([][]float32, error) {
	out := make([][]float32, len(texts))
	for i, t := range texts {
		v := make([]float32, 512)
		for _, term := range rag.Tokenize(t) {
			h := fnv.New32a()
			h.Write([]byte(term))
			v[h.Sum32()%512]++
		}
		out[i] = unit(v)
	}
	return out, nil
}

func unit(v []float32) []float32 {
	var n float64
	for _, x := range v {
		n += float64(x) * float64(x)
	}
	if n == 0 {
		v[0] = 1
		return v
	}
	s := float32(1 / math.Sqrt(n))
	for i := range v {
		v[i] *= s
	}
	return v
}

type sideScores struct {
	w                    rag.FusionWeights
	hybrid, lex, meaning rag.EvalResult
}

// hybridScores indexes a set's chunks with vectors from embed, measures the
// fusion weights as Atoll would, and scores hybrid, keyword-only and
// meaning-only search.
func hybridScores(t testing.TB, name string, embed func(context.Context, []string) ([][]float32, error)) sideScores {
	s := loadSet(t, name)
	ix := rag.NewIndex()
	ix.Add(s.passages...)
	ids := make([]string, len(s.passages))
	texts := make([]string, len(s.passages))
	for i, p := range s.passages {
		ids[i], texts[i] = p.ID, p.Text
	}
	vecs, _ := embed(context.Background(), texts)
	ix.SetVectors(ids, vecs)
	w, err := ix.MeasureFusion(context.Background(), "m", embed)
	if err != nil {
		t.Fatal(err)
	}
	// The meaning side alone, unweighted: an index with no fusion figures.
	alone := rag.NewIndex()
	alone.Add(s.passages...)
	alone.SetVectors(ids, vecs)
	qv := func(q string) []float32 {
		v, _ := embed(context.Background(), []string{q})
		return v[0]
	}
	return sideScores{
		w: w,
		hybrid: rag.Evaluate(s.qs, 5, func(q string, k int) []rag.Hit {
			return ix.Search(rag.Query{Text: q, Vector: qv(q), K: k})
		}),
		lex: rag.Evaluate(s.qs, 5, func(q string, k int) []rag.Hit {
			return ix.Search(rag.Query{Text: q, K: k})
		}),
		meaning: rag.Evaluate(s.qs, 5, func(q string, k int) []rag.Hit {
			return alone.Search(rag.Query{Vector: qv(q), K: k})
		}),
	}
}

func atLeast(t *testing.T, what string, a, b rag.EvalResult) {
	t.Helper()
	if a.HitAt1 < b.HitAt1 || a.HitAtK < b.HitAtK {
		t.Errorf("hybrid below %s: hit@1 %.3f vs %.3f, hit@5 %.3f vs %.3f", what, a.HitAt1, b.HitAt1, a.HitAtK, b.HitAtK)
	}
}

// TestHybridRandomModel: with embeddings that carry no meaning, hybrid
// search must do no worse than keyword search alone on every set.
func TestHybridRandomModel(t *testing.T) {
	for _, name := range []string{"dev", "heldout-1", "heldout-2"} {
		t.Run(name, func(t *testing.T) {
			r := hybridScores(t, name, randomEmbed)
			t.Logf("%s: %s; hybrid %.3f/%.3f keyword %.3f/%.3f meaning %.3f/%.3f", name, r.w.Summary(),
				r.hybrid.HitAt1, r.hybrid.HitAtK, r.lex.HitAt1, r.lex.HitAtK, r.meaning.HitAt1, r.meaning.HitAtK)
			atLeast(t, "keyword only", r.hybrid, r.lex)
		})
	}
}

// TestHybridGoodModel: with embeddings built from the passages' words,
// hybrid search must do no worse than either side alone on every set.
func TestHybridGoodModel(t *testing.T) {
	for _, name := range []string{"dev", "heldout-1", "heldout-2"} {
		t.Run(name, func(t *testing.T) {
			r := hybridScores(t, name, wordsEmbed)
			t.Logf("%s: %s; hybrid %.3f/%.3f keyword %.3f/%.3f meaning %.3f/%.3f", name, r.w.Summary(),
				r.hybrid.HitAt1, r.hybrid.HitAtK, r.lex.HitAt1, r.lex.HitAtK, r.meaning.HitAt1, r.meaning.HitAtK)
			if r.w.Meaning < 0.5 {
				t.Errorf("the words model found only %.2f of its pseudo-queries' passages", r.w.Meaning)
			}
			atLeast(t, "keyword only", r.hybrid, r.lex)
			atLeast(t, "meaning only", r.hybrid, r.meaning)
		})
	}
}
