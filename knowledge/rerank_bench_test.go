package knowledge

import (
	"context"
	"encoding/json"
	"net/http"
	"testing"

	"atoll/store"
)

// BenchmarkSearchRerank is the latency reranking adds around the model:
// the extra candidates (TopN instead of k), the passages' JSON and one HTTP
// round trip to a scripted server that answers at once. A real reranking
// model's own time comes on top and is not measured here (none is
// available on this machine).
//
//	go test -run '^$' -bench BenchmarkSearchRerank -benchtime 200x ./knowledge/
func BenchmarkSearchRerank(b *testing.B) {
	docs := makeDocs(b, 100)
	st, err := store.Open(b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	if _, err := New(st, nil).Run(context.Background(), "j", "kb", "", []string{docs}, nil); err != nil {
		b.Fatal(err)
	}
	srv := newRerankServer(b, func(w http.ResponseWriter, req rerankRequest) {
		type res struct {
			Index int     `json:"index"`
			Score float64 `json:"relevance_score"`
		}
		out := make([]res, len(req.Documents))
		for i := range out {
			out[i] = res{i, float64(len(req.Documents[i]) % 97)}
		}
		json.NewEncoder(w).Encode(map[string]any{"results": out})
	})
	for _, c := range []struct {
		name string
		r    *Reranker
	}{{"off", nil}, {"top20", &Reranker{URL: srv.URL}}, {"top50", &Reranker{URL: srv.URL, TopN: 50}}} {
		s := &Searcher{Store: st, Reranker: c.r}
		if _, err := s.Search(context.Background(), []string{"kb"}, "warm up", 5, nil); err != nil {
			b.Fatal(err)
		}
		b.Run(c.name, func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				if _, err := s.Search(context.Background(), []string{"kb"}, "topic42 item3 in some detail", 5, nil); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
