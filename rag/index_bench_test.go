package rag

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"
)

var (
	lexMu   sync.Mutex
	lexSets = map[int]*Index{}
)

// zipfIndex builds n passages of 120 words drawn from a Zipf-distributed
// vocabulary of 50k words, roughly the shape of real text.
func zipfIndex(n int) *Index {
	lexMu.Lock()
	defer lexMu.Unlock()
	if ix := lexSets[n]; ix != nil {
		return ix
	}
	r := rand.New(rand.NewPCG(uint64(n), 1))
	z := rand.NewZipf(r, 1.1, 2, 49_999)
	ix := NewIndex()
	batch := make([]Passage, 0, 1000)
	var b strings.Builder
	for i := 0; i < n; i++ {
		b.Reset()
		for w := 0; w < 120; w++ {
			fmt.Fprintf(&b, "w%d ", z.Uint64())
		}
		batch = append(batch, Passage{ID: fmt.Sprint(i), Source: fmt.Sprintf("doc%d.txt", i/50), Start: (i % 50) * 1000, End: (i%50)*1000 + 600, Text: b.String()})
		if len(batch) == cap(batch) {
			ix.Add(batch...)
			batch = batch[:0]
		}
	}
	ix.Add(batch...)
	lexSets[n] = ix
	return ix
}

func BenchmarkLexicalSearch(b *testing.B) {
	for _, n := range []int{10_000, 100_000} {
		b.Run(fmt.Sprintf("n=%d", n), func(b *testing.B) {
			ix := zipfIndex(n)
			queries := []string{"w3 w150 w2000", "w1 w2 w5 w40 w900", "w12000 w7", "w0 w1 w2 w3 w4 w5 w6 w7"}
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				ix.Search(Query{Text: queries[i%len(queries)], K: 8})
			}
		})
	}
}

// BenchmarkHybridSearch is one knowledge-base query as the app runs it:
// BM25 with proximity, the quantised vector search, fusion, merging.
func BenchmarkHybridSearch(b *testing.B) {
	for _, n := range []int{10_000, 100_000} {
		b.Run(fmt.Sprintf("n=%d", n), func(b *testing.B) {
			ix := zipfIndex(n)
			r := rand.New(rand.NewPCG(9, uint64(n)))
			if !ix.HasVectors() {
				for i := 0; i < n; i++ {
					ix.SetVector(fmt.Sprint(i), randUnit(r, benchDims))
				}
			}
			queries := []string{"w3 w150 w2000", "w1 w2 w5 w40 w900", "w12000 w7", "w0 w1 w2 w3 w4 w5 w6 w7"}
			vecs := randomSet(r, len(queries), benchDims)
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				ix.Search(Query{Text: queries[i%len(queries)], Vector: vecs[i%len(vecs)], K: 8})
			}
		})
	}
}
