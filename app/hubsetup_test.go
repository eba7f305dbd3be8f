package app

import (
	"context"
	"net/http/httptest"
	"testing"
	"time"

	"atoll/agent"
	"atoll/hub"
	"atoll/hubstore"
	"atoll/internal/ollamafake"
)

// serveHub starts a hub made with cfg (in a temporary folder when cfg.Dir
// is empty) behind a test server; both close when the test ends.
func serveHub(t *testing.T, cfg hub.Config) (*hub.Hub, *httptest.Server) {
	t.Helper()
	if cfg.Dir == "" {
		cfg.Dir = t.TempDir()
	}
	h, err := hub.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(h.Close)
	srv := httptest.NewServer(h.Handler())
	t.Cleanup(srv.Close)
	return h, srv
}

// newWorkspace creates the workspace name on h and a publisher token for it.
func newWorkspace(t *testing.T, h *hub.Hub, name string) (hubstore.Workspace, string) {
	t.Helper()
	ws, err := h.Store().CreateWorkspace(context.Background(), name)
	if err != nil {
		t.Fatal(err)
	}
	return ws, publisherToken(t, h, ws.ID)
}

// publisherToken makes a publisher token for the workspace with id ws.
func publisherToken(t *testing.T, h *hub.Hub, ws string) string {
	t.Helper()
	tok, hash := hub.NewToken()
	if _, err := h.Store().CreateToken(context.Background(), ws, "test", hash); err != nil {
		t.Fatal(err)
	}
	return tok
}

// publishWait publishes agentName from a and returns the job's last event.
func publishWait(t *testing.T, a *App, events publishEvents, agentName, hubURL, token, public string) PublishEvent {
	t.Helper()
	job, err := a.PublishAgent(agentName, hubURL, token, public)
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.After(2 * time.Minute)
	for {
		select {
		case ev := <-events:
			if ev.Done && ev.Job == job {
				return ev
			}
		case <-deadline:
			t.Fatal("the publish did not finish")
		}
	}
}

// bakerDesktop is a desktop with an agent "baker" over a knowledge base.
func bakerDesktop(t *testing.T, ollamaURL string) (*App, publishEvents) {
	t.Helper()
	events := make(publishEvents, 100)
	a, err := New(Config{DataDir: t.TempDir(), OllamaURL: ollamaURL, Version: "test"}, events, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close() })
	if _, err := a.store.Create("shop", ""); err != nil {
		t.Fatal(err)
	}
	if _, err := a.SaveAgent(agent.Definition{Name: "baker", Model: ollamafake.DefaultChatModel, KBs: []string{"shop"}}); err != nil {
		t.Fatal(err)
	}
	return a, events
}
