package knowledge

import (
	"context"
	"sync"
	"testing"

	"atoll/store"
)

// countingEmbedder counts the texts it is asked to embed.
type countingEmbedder struct {
	hashEmbedder
	mu    sync.Mutex
	texts int
}

func (c *countingEmbedder) Embed(ctx context.Context, model string, texts []string) ([][]float32, error) {
	c.mu.Lock()
	c.texts += len(texts)
	c.mu.Unlock()
	return c.hashEmbedder.Embed(ctx, model, texts)
}

func (c *countingEmbedder) take() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := c.texts
	c.texts = 0
	return n
}

// The first hybrid search of a knowledge base measures its fusion figures
// (pseudo-queries embedded in one batch) and keeps them in kb.json; a
// reopened knowledge base serves them without embedding the pseudo-queries
// again. The hash embedder is useless for meaning, so the figures must say
// keyword only.
func TestSearcherMeasuresFusionOnceAndKeepsIt(t *testing.T) {
	data, docs := t.TempDir(), makeDocs(t, 12)
	st, err := store.Open(data)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := New(st, hashEmbedder{}).Run(context.Background(), "j", "kb", "emb", []string{docs}, nil); err != nil {
		t.Fatal(err)
	}
	emb := &countingEmbedder{}
	s := &Searcher{Store: st, Embedder: emb}
	hits, err := s.Search(context.Background(), []string{"kb"}, "topic7 item3", 5, nil)
	if err != nil || len(hits) == 0 {
		t.Fatalf("%v %v", hits, err)
	}
	if n := emb.take(); n < 10 {
		t.Fatalf("the first hybrid search embedded %d texts: the fusion figures were not measured", n)
	}
	kb, _ := st.KB("kb")
	w := kb.Index().Fusion()
	if !w.Measured() || w.Model != "emb" || w.Keyword <= w.Meaning {
		t.Fatalf("measured %+v", w)
	}
	if f := kb.Meta().Fusion; f == nil || *f != w {
		t.Fatalf("kb.json keeps %+v, the index has %+v", f, w)
	}
	if _, err := s.Search(context.Background(), []string{"kb"}, "topic3", 5, nil); err != nil {
		t.Fatal(err)
	}
	if n := emb.take(); n != 1 {
		t.Fatalf("a second search embedded %d texts, want only the query", n)
	}
	st.Close()

	st2, err := store.Open(data)
	if err != nil {
		t.Fatal(err)
	}
	defer st2.Close()
	kb2, err := st2.KB("kb")
	if err != nil {
		t.Fatal(err)
	}
	if got := kb2.Index().Fusion(); got != w {
		t.Fatalf("reopened with %+v, want %+v", got, w)
	}
	s2 := &Searcher{Store: st2, Embedder: emb}
	hits, err = s2.Search(context.Background(), []string{"kb"}, "topic7 item3", 5, nil)
	if err != nil || len(hits) == 0 {
		t.Fatalf("%v %v", hits, err)
	}
	if n := emb.take(); n != 1 {
		t.Fatalf("a search after reopening embedded %d texts, want only the query", n)
	}
	if hits[0].Source == "" || hits[0].Score <= 0 {
		t.Fatalf("top hit %+v", hits[0])
	}
}
