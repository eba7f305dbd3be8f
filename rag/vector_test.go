package rag

import (
	"math/rand/v2"
	"testing"
)

// exactTop is the ground truth: a plain scan.
func exactTop(data [][]float32, q []float32, k int) []int {
	var h topHeap
	h.init(k)
	for i, v := range data {
		h.push(int32(i), dot(q, v))
	}
	out := make([]VectorHit, len(h.k))
	for i := range h.k {
		out[i] = VectorHit{Key: int(h.k[i]), Score: h.s[i]}
	}
	sortHits(out)
	keys := make([]int, len(out))
	for i, x := range out {
		keys[i] = x.Key
	}
	return keys
}

func sortHits(hs []VectorHit) {
	for i := 1; i < len(hs); i++ {
		for j := i; j > 0 && hs[j].Score > hs[j-1].Score; j-- {
			hs[j], hs[j-1] = hs[j-1], hs[j]
		}
	}
}

func recallAt(truth []int, got []VectorHit) float64 {
	want := map[int]bool{}
	for _, k := range truth {
		want[k] = true
	}
	n := 0
	for _, h := range got {
		if want[h.Key] {
			n++
		}
	}
	return float64(n) / float64(len(truth))
}

// clustered makes vectors that look more like embeddings than uniform
// noise: an offset shared by all (real embeddings are not centred), plus a
// few cluster directions, plus noise.
func clustered(r *rand.Rand, n, d int) [][]float32 {
	offset := randUnit(r, d)
	centres := make([][]float32, 20)
	for i := range centres {
		centres[i] = randUnit(r, d)
	}
	out := make([][]float32, n)
	for i := range out {
		c := centres[r.IntN(len(centres))]
		v := randUnit(r, d)
		for j := range v {
			v[j] = 0.6*offset[j] + 0.5*c[j] + 0.6*v[j]
		}
		out[i] = unit(v)
	}
	return out
}

func TestVectorIndexRecall(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	const n, d, k = 20000, 256, 10
	for name, data := range map[string][][]float32{
		"uniform":   randomSet(r, n, d),
		"clustered": clustered(r, n, d),
	} {
		one := NewVectorIndex()
		for i, v := range data {
			if !one.Set(i, v) {
				t.Fatal("Set refused a vector")
			}
		}
		// SetMany (opening a knowledge base) must index as well as Set.
		bulk := NewVectorIndex()
		keys := make([]int, n)
		for i := range keys {
			keys[i] = i
		}
		if got := bulk.SetMany(keys[:n/2], data[:n/2]) + bulk.SetMany(keys[n/2:], data[n/2:]); got != n || bulk.Len() != n {
			t.Fatalf("SetMany stored %d (Len %d) of %d", got, bulk.Len(), n)
		}
		for how, vi := range map[string]*VectorIndex{"Set": one, "SetMany": bulk} {
			var recall float64
			const queries = 30
			for qi := 0; qi < queries; qi++ {
				q := data[r.IntN(n)]
				if name == "uniform" {
					q = randUnit(r, d)
				}
				recall += recallAt(exactTop(data, q, k), vi.Search(q, k, nil))
			}
			recall /= queries
			t.Logf("%s/%s n=%d d=%d recall@10=%.3f", name, how, n, d, recall)
			if recall < 0.95 {
				t.Errorf("%s/%s: recall@10 %.3f < 0.95", name, how, recall)
			}
		}
	}
}

func randomSet(r *rand.Rand, n, d int) [][]float32 {
	out := make([][]float32, n)
	for i := range out {
		out[i] = randUnit(r, d)
	}
	return out
}

func TestVectorIndexSetDelete(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 1))
	vi := NewVectorIndex()
	data := randomSet(r, 5000, 32)
	for i, v := range data {
		vi.Set(i, v)
	}
	if vi.Set(1, make([]float32, 16)) {
		t.Error("Set accepted a vector of other dimensions")
	}
	q := data[42]
	if got := vi.Search(q, 1, nil); len(got) != 1 || got[0].Key != 42 {
		t.Fatalf("self search = %+v", got)
	}
	vi.Delete(42)
	if got := vi.Search(q, 1, nil); len(got) == 1 && got[0].Key == 42 {
		t.Error("deleted vector found")
	}
	allow := make([]bool, 5000)
	allow[7], allow[9] = true, true
	got := vi.Search(q, 5, allow)
	if len(got) != 2 {
		t.Errorf("filtered search = %+v", got)
	}
	vi.Truncate(100)
	if vi.Len() != 99 { // 42 was deleted
		t.Errorf("Len after Truncate = %d", vi.Len())
	}
}
