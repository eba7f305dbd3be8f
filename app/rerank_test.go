package app

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"atoll/internal/ollamafake"
	"atoll/knowledge"
)

// Reranking is off until an address is set in Settings; a reranker on
// another machine needs the same switch as a remote Ollama; once set, the
// Knowledge screen's search uses it.
func TestRerankerSettings(t *testing.T) {
	fake := ollamafake.New(t)
	a, err := New(Config{DataDir: t.TempDir(), OllamaURL: fake.URL}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	if a.searcherNow().Reranker != nil {
		t.Fatal("reranking must be off by default")
	}
	docs := t.TempDir()
	for i := 0; i < 6; i++ {
		os.WriteFile(filepath.Join(docs, fmt.Sprintf("door%d.md", i)), []byte(fmt.Sprintf("# Door %d\n\nThe door key opens door %d; door and key.", i, i)), 0o644)
	}
	os.WriteFile(filepath.Join(docs, "spare.md"), []byte("# Spare\n\nA spare key for the front door hangs in the garden shed."), 0o644)
	if _, err := knowledge.New(a.store, nil).Run(context.Background(), "j", "home", "", []string{docs}, nil); err != nil {
		t.Fatal(err)
	}
	if hits, err := a.Search("home", "door key", 3); err != nil || len(hits) == 0 || filepath.Base(hits[0].Source) == "spare.md" {
		t.Fatalf("the fixture must rank spare.md below first without a reranker: %+v %v", hits, err)
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var req struct {
			Documents []string `json:"documents"`
		}
		json.NewDecoder(r.Body).Decode(&req)
		var res []map[string]any
		for i, d := range req.Documents {
			s := 0.1
			if strings.Contains(d, "garden shed") {
				s = 0.9
			}
			res = append(res, map[string]any{"index": i, "relevance_score": s})
		}
		json.NewEncoder(w).Encode(map[string]any{"results": res})
	}))
	defer srv.Close()

	s, _ := a.GetSettings()
	s.RerankURL = "http://192.168.1.20:8012"
	if _, err := a.SaveSettings(s); err == nil || !strings.Contains(err.Error(), "not on this computer") {
		t.Fatalf("a reranker on another machine must need the switch: %v", err)
	}
	s.RerankURL, s.RerankModel, s.RerankTopN = srv.URL, "bge-reranker", 10
	if _, err := a.SaveSettings(s); err != nil {
		t.Fatal(err)
	}
	hits, err := a.Search("home", "door key", 3)
	if err != nil || len(hits) == 0 || filepath.Base(hits[0].Source) != "spare.md" {
		t.Fatalf("search with the reranker: %+v %v", hits, err)
	}
	s.RerankURL = ""
	if _, err := a.SaveSettings(s); err != nil || a.searcherNow().Reranker != nil {
		t.Fatalf("clearing the address must turn reranking off: %v", err)
	}
}
