package knowledge

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"atoll/rag"
	"atoll/store"
)

// rerankServer is a scripted /v1/rerank endpoint: it scores each document
// by answer(query, doc) and records what it was sent.
type rerankServer struct {
	*httptest.Server
	mu   sync.Mutex
	reqs []rerankRequest
}

func newRerankServer(t testing.TB, reply func(w http.ResponseWriter, req rerankRequest)) *rerankServer {
	rs := &rerankServer{}
	rs.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/v1/rerank" || r.Method != http.MethodPost {
			http.NotFound(w, r)
			return
		}
		var req rerankRequest
		if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		rs.mu.Lock()
		rs.reqs = append(rs.reqs, req)
		rs.mu.Unlock()
		reply(w, req)
	}))
	t.Cleanup(rs.Close)
	return rs
}

// jinaReply answers in the shared shape, scoring a document 1 when it
// contains want and by its length otherwise (so the order differs from
// the lexical one).
func jinaReply(want string) func(w http.ResponseWriter, req rerankRequest) {
	return func(w http.ResponseWriter, req rerankRequest) {
		type res struct {
			Index int     `json:"index"`
			Score float64 `json:"relevance_score"`
		}
		var out []res
		for i, d := range req.Documents {
			s := 0.5 / float64(1+len(d))
			if strings.Contains(d, want) {
				s = 1
			}
			out = append(out, res{i, s})
		}
		json.NewEncoder(w).Encode(map[string]any{"model": req.Model, "results": out})
	}
}

// rerankKB makes a knowledge base where lexical search ranks the passage
// about the spare key low: every file says "door" and "key" more often.
func rerankKB(t *testing.T) *store.Store {
	docs := t.TempDir()
	for i := 0; i < 8; i++ {
		os.WriteFile(filepath.Join(docs, fmt.Sprintf("door%d.md", i)), []byte(fmt.Sprintf("# Door %d\n\nThe door key opens door %d. Key and door, door and key: lock the door with the key.", i, i)), 0o644)
	}
	os.WriteFile(filepath.Join(docs, "spare.md"), []byte("# Spare\n\nA spare key for the front door hangs in the garden shed."), 0o644)
	st, err := store.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(st.Close)
	if _, err := New(st, nil).Run(context.Background(), "j", "kb", "", []string{docs}, nil); err != nil {
		t.Fatal(err)
	}
	return st
}

func sources(hits []rag.Hit) []string {
	var out []string
	for _, h := range hits {
		out = append(out, filepath.Base(h.Source))
	}
	return out
}

// The reranker's order wins over the lexical one among the top candidates,
// and it is sent the shared request shape: model, query, the candidates.
func TestRerankerReordersTopCandidates(t *testing.T) {
	st := rerankKB(t)
	plain, err := (&Searcher{Store: st}).Search(context.Background(), []string{"kb"}, "door key", 3, nil)
	if err != nil {
		t.Fatal(err)
	}
	if filepath.Base(plain[0].Source) == "spare.md" {
		t.Fatalf("the fixture must rank spare.md below first lexically: %v", sources(plain))
	}
	srv := newRerankServer(t, jinaReply("garden shed"))
	s := &Searcher{Store: st, Reranker: &Reranker{URL: srv.URL, Model: "bge-reranker-v2-m3", TopN: 10}}
	hits, err := s.Search(context.Background(), []string{"kb"}, "door key", 3, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(hits) != 3 || filepath.Base(hits[0].Source) != "spare.md" || hits[0].Score != 1 {
		t.Fatalf("reranked: %v (%+v)", sources(hits), hits)
	}
	srv.mu.Lock()
	defer srv.mu.Unlock()
	if len(srv.reqs) != 1 {
		t.Fatalf("%d requests", len(srv.reqs))
	}
	r := srv.reqs[0]
	if r.Model != "bge-reranker-v2-m3" || r.Query != "door key" || len(r.Documents) != 9 {
		t.Fatalf("request: model %q query %q, %d documents (want all 9 candidates, fewer than TopN 10)", r.Model, r.Query, len(r.Documents))
	}
}

// A reranker that fails, answers garbage or scores out of range leaves the
// search its own order; TEI's bare-list answer is read.
func TestRerankerFailuresKeepTheSearchOrder(t *testing.T) {
	st := rerankKB(t)
	plain, err := (&Searcher{Store: st}).Search(context.Background(), []string{"kb"}, "door key", 3, nil)
	if err != nil {
		t.Fatal(err)
	}
	cases := map[string]func(w http.ResponseWriter, req rerankRequest){
		"server error": func(w http.ResponseWriter, req rerankRequest) {
			http.Error(w, "model not loaded", http.StatusInternalServerError)
		},
		"not JSON": func(w http.ResponseWriter, req rerankRequest) { w.Write([]byte("<html>proxy login</html>")) },
		"bad indexes": func(w http.ResponseWriter, req rerankRequest) {
			w.Write([]byte(`{"results":[{"index":-1,"relevance_score":9},{"index":999,"relevance_score":9}]}`))
		},
	}
	for name, reply := range cases {
		t.Run(name, func(t *testing.T) {
			srv := newRerankServer(t, reply)
			s := &Searcher{Store: st, Reranker: &Reranker{URL: srv.URL}}
			hits, err := s.Search(context.Background(), []string{"kb"}, "door key", 3, nil)
			if err != nil {
				t.Fatal(err)
			}
			if fmt.Sprint(sources(hits)) != fmt.Sprint(sources(plain)) {
				t.Fatalf("got %v, want the search's own %v", sources(hits), sources(plain))
			}
		})
	}
	t.Run("TEI list", func(t *testing.T) {
		srv := newRerankServer(t, func(w http.ResponseWriter, req rerankRequest) {
			for i, d := range req.Documents {
				if strings.Contains(d, "garden shed") {
					fmt.Fprintf(w, `[{"index":%d,"score":0.98}]`, i)
				}
			}
		})
		s := &Searcher{Store: st, Reranker: &Reranker{URL: srv.URL + "/v1/rerank"}}
		hits, err := s.Search(context.Background(), []string{"kb"}, "door key", 3, nil)
		if err != nil {
			t.Fatal(err)
		}
		if filepath.Base(hits[0].Source) != "spare.md" || len(hits) != 3 {
			t.Fatalf("got %v", sources(hits))
		}
	})
}

func TestRerankerEndpoint(t *testing.T) {
	for in, want := range map[string]string{
		"127.0.0.1:8012":               "http://127.0.0.1:8012/v1/rerank",
		"http://127.0.0.1:8012/":       "http://127.0.0.1:8012/v1/rerank",
		"http://localhost:8080/rerank": "http://localhost:8080/rerank",
		"https://r.example/v1/rerank":  "https://r.example/v1/rerank",
	} {
		if got, err := (&Reranker{URL: in}).Endpoint(); err != nil || got != want {
			t.Errorf("%q: %q %v, want %q", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "ftp://x/y", "http://"} {
		if _, err := (&Reranker{URL: bad}).Endpoint(); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}
