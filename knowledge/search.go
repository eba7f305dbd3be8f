package knowledge

import (
	"context"
	"slices"
	"sort"

	"atoll/rag"
	"atoll/store"
)

// QueryEmbedder embeds one query text.
type QueryEmbedder interface {
	Embed(ctx context.Context, model string, texts []string) ([][]float32, error)
}

// Searcher runs hybrid retrieval over one or more knowledge bases. When the
// query cannot be embedded (Ollama down, model missing, vectors pending) it
// searches lexically, with the same output.
type Searcher struct {
	Store    *store.Store
	Embedder QueryEmbedder // nil: lexical only
	// Reranker, when set, re-orders the best Reranker.TopN candidates; when
	// it fails the search keeps its own order. Off (nil) by default.
	Reranker *Reranker
}

// Retrieve searches kbs for query and returns the best k hits.
func (s *Searcher) Retrieve(ctx context.Context, kbs []string, query string, k int) ([]rag.Hit, error) {
	return s.Search(ctx, kbs, query, k, nil)
}

// Search is Retrieve with an optional filter by source path.
func (s *Searcher) Search(ctx context.Context, kbs []string, query string, k int, sources []string) ([]rag.Hit, error) {
	if k <= 0 {
		k = 5
	}
	byModel := map[string][]*rag.Index{}
	kbsOf := map[string][]*store.KB{}
	opened := map[string]*store.KB{}
	for _, name := range kbs {
		kb, err := s.Store.KB(name)
		if err != nil {
			return nil, err
		}
		m := ""
		if kb.Index().HasVectors() {
			m = kb.Meta().EmbedModel
		}
		byModel[m] = append(byModel[m], kb.Index())
		kbsOf[m] = append(kbsOf[m], kb)
		opened[name] = kb
	}
	n := k // candidates to find: more when a reranker chooses among them
	if s.Reranker != nil {
		n = max(k, s.Reranker.topN())
	}
	var hits []rag.Hit
	for model, ixs := range byModel {
		q := rag.Query{Text: query, K: n, Sources: sources}
		if model != "" && s.Embedder != nil {
			s.measureFusion(ctx, model, kbsOf[model])
			if v, err := s.Embedder.Embed(ctx, model, []string{query}); err == nil && len(v) == 1 {
				q.Vector = v[0]
			}
		}
		hits = append(hits, rag.SearchMany(ixs, q)...)
	}
	if len(byModel) > 1 {
		sort.SliceStable(hits, func(i, j int) bool { return hits[i].Score > hits[j].Score })
	}
	if s.Reranker != nil && len(hits) > 1 {
		hits = hits[:min(len(hits), n)]
		texts := make([]string, len(hits))
		for i, h := range hits {
			texts[i] = h.Text
		}
		if scores, err := s.Reranker.Scores(ctx, query, texts); err == nil {
			hits = rerank(hits, scores)
		}
	}
	if len(hits) > k {
		hits = hits[:k]
	}
	alsoIn(hits, opened)
	return hits, nil
}

// alsoIn names, on each hit, the other files of its knowledge base holding
// the same text: the store indexes such a text once, so without this the
// second file (the same document in another encoding, a copy) would never
// be seen.
func alsoIn(hits []rag.Hit, kbs map[string]*store.KB) {
	for i := range hits {
		h := &hits[i]
		kb := kbs[h.KB]
		if kb == nil {
			continue
		}
		for _, p := range kb.Copies(h.Source, h.ID, 8) {
			if !slices.Contains(h.AlsoIn, p) {
				h.AlsoIn = append(h.AlsoIn, p)
			}
		}
	}
}

// measureFusion measures how far to trust each side of hybrid search for
// every knowledge base whose figures are missing, from another model, or from
// a much smaller knowledge base (one batched embedding call of 40 short
// texts), and keeps the figures with it. A failed measurement leaves the old
// figures; the query then fares as before.
func (s *Searcher) measureFusion(ctx context.Context, model string, kbs []*store.KB) {
	for _, kb := range kbs {
		ix := kb.Index()
		if !ix.FusionStale(model) {
			continue
		}
		w, err := ix.MeasureFusion(ctx, model, func(ctx context.Context, texts []string) ([][]float32, error) {
			return s.Embedder.Embed(ctx, model, texts)
		})
		if err == nil && w.Measured() {
			_ = kb.SetFusion(w) // unsaved figures still serve from memory
		}
	}
}
