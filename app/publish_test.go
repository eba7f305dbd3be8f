package app

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"atoll/agent"
	"atoll/hub"
	"atoll/internal/hubtest"
	"atoll/internal/ollamafake"
	"atoll/llm"
	"atoll/store"
)

type publishEvents chan PublishEvent

func (c publishEvents) Emit(name string, payload any) {
	if ev, ok := payload.(PublishEvent); ok && name == EventPublishProgress {
		c <- ev
	}
}

// TestPublishSummaryAndCleanFailure: the Publish screen's summary counts
// what the bundle carries; a wrong token is refused by PublishAgent itself,
// before any job or upload, and leaves the remembered hub as it was; the
// hub is remembered once a publish succeeds.
func TestPublishSummaryAndCleanFailure(t *testing.T) {
	fake := ollamafake.New(t)
	data := t.TempDir()
	events := make(publishEvents, 100)
	a, err := New(Config{DataDir: data, OllamaURL: fake.URL, Version: "test"}, events, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	if _, err := a.store.Create("shop", ""); err != nil {
		t.Fatal(err)
	}
	kb, _ := a.store.KB("shop")
	for i, p := range []string{"/home/ana/shop/prices.md", "/home/ana/shop/hours.md", "/home/ana/shop/broken.pdf"} {
		d := store.Doc{Path: p, Name: filepath.Base(p), Status: store.StatusOK, Ingested: time.Now()}
		if i == 2 {
			d.Status, d.Error = store.StatusFailed, "encrypted"
		}
		for j := 0; j <= i && d.Status == store.StatusOK; j++ {
			tx := fmt.Sprintf("Passage %d of %s.", j, p)
			d.Chunks = append(d.Chunks, store.Chunk{Text: tx, End: len(tx)})
		}
		if err := kb.Put(d); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := a.SaveAgent(agent.Definition{Name: "baker", Model: ollamafake.DefaultChatModel, KBs: []string{"shop"}}); err != nil {
		t.Fatal(err)
	}

	hubDir := t.TempDir()
	c, _ := llm.New(fake.URL)
	h, err := hub.New(hub.Config{Dir: hubDir, Model: c, Embedder: c, Import: hub.Importer(c)})
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	var received atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r.Body = struct {
			io.Reader
			io.Closer
		}{io.TeeReader(r.Body, writerFunc(func(p []byte) { received.Add(int64(len(p))) })), r.Body}
		h.Handler().ServeHTTP(w, r)
	}))
	defer srv.Close()
	_, tok := hubtest.Workspace(t, h, hub.DefaultWorkspace)

	s, err := a.PublishSummary("baker", srv.URL+"/")
	if err != nil || s.Agent != "baker" || s.Documents != 2 || s.Passages != 3 || s.WithSources || s.Hub != srv.URL ||
		len(s.KnowledgeBases) != 1 || s.KnowledgeBases[0].Name != "shop" || s.KnowledgeBases[0].Documents != 2 {
		t.Fatalf("summary %+v %v", s, err)
	}

	cfgPath := filepath.Join(data, "publish.json")
	remembered := `{"url": "https://hub.example.com", "token": "atl_old"}`
	if err := os.WriteFile(cfgPath, []byte(remembered), 0o600); err != nil {
		t.Fatal(err)
	}
	if s, _ := a.PublishSummary("baker", ""); s.Hub != "https://hub.example.com" {
		t.Fatalf("the summary names the remembered hub: %+v", s)
	}
	job, err := a.PublishAgent("baker", srv.URL, "atl_wrong", "")
	if job != "" || err == nil || !strings.Contains(err.Error(), "refused the publisher token") {
		t.Fatalf("wrong token: %q %v", job, err)
	}
	if received.Load() != 0 || len(events) != 0 {
		t.Fatalf("a wrong token sent %d bytes, %d events", received.Load(), len(events))
	}
	if b, _ := os.ReadFile(cfgPath); string(b) != remembered {
		t.Fatalf("a failed publish rewrote publish.json: %s", b)
	}

	job, err = a.PublishAgent("baker", srv.URL, tok, "")
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.After(2 * time.Minute)
	for {
		select {
		case ev := <-events:
			if !ev.Done {
				continue
			}
			if ev.Job != job || ev.Error != "" || ev.Result == nil || ev.Result.Version != 1 {
				t.Fatalf("publish: %+v", ev)
			}
			if b, _ := os.ReadFile(cfgPath); !strings.Contains(string(b), tok) || !strings.Contains(string(b), srv.URL) {
				t.Fatalf("publish.json after a successful publish: %s", b)
			}
			if received.Load() == 0 {
				t.Fatal("the hub received no bundle")
			}
			return
		case <-deadline:
			t.Fatal("the publish did not finish")
		}
	}
}

type writerFunc func(p []byte)

func (f writerFunc) Write(p []byte) (int, error) { f(p); return len(p), nil }
