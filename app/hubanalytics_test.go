package app

import (
	"context"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"atoll/agent"
	"atoll/hub"
	"atoll/hubstore"
	"atoll/internal/hubtest"
	"atoll/internal/ollamafake"
	"atoll/llm"
	"atoll/store"
)

// TestPublishedAnalytics: the window's "Published (hub)" figures are the
// remembered hub's report of its own conversations, and the CSV export is
// the same report; without a remembered hub it says to publish first.
func TestPublishedAnalytics(t *testing.T) {
	fake := ollamafake.New(t)
	data := t.TempDir()
	a, err := New(Config{DataDir: data, OllamaURL: fake.URL, Version: "test"}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	if _, err := a.PublishedAnalytics("baker", 30); err == nil || !strings.Contains(err.Error(), "publish the agent first") {
		t.Fatalf("without a hub: %v", err)
	}

	// A hub folder from before the database carries "baker" into the
	// default workspace on the hub's first start.
	hubDir := t.TempDir()
	hd := filepath.Join(hubDir, "data")
	st, err := store.Open(hd)
	if err != nil {
		t.Fatal(err)
	}
	st.Create("bakery", "")
	st.Close()
	if _, err := agent.NewRepo(filepath.Join(hd, "agents")).Save(agent.Definition{Name: "baker", Model: ollamafake.DefaultChatModel, KBs: []string{"bakery"}}); err != nil {
		t.Fatal(err)
	}
	c, _ := llm.New(fake.URL)
	h, srv := hubtest.Serve(t, hub.Config{Dir: hubDir, Model: c})
	ctx := context.Background()
	ws, err := h.Store().WorkspaceByName(ctx, hub.DefaultWorkspace)
	if err != nil {
		t.Fatal(err)
	}
	tok := hubtest.Token(t, h, ws.ID)
	meta, _ := json.Marshal(map[string]any{"not_covered": true, "ttftSeconds": 0.8})
	turn, _, err := h.Store().AppendTurn(ctx, ws.ID, "baker", "c1", hubstore.Turn{Key: "k", Question: "Gluten-free bread?", Answer: "…", Meta: meta, At: time.Now().UTC()})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := h.Store().SetFeedback(ctx, ws.ID, "baker", "c1", turn.Seq, hubstore.Feedback{Rating: -1}); err != nil {
		t.Fatal(err)
	}
	if err := a.savePublishConfig(publishConfig{URL: srv.URL, Token: tok}); err != nil {
		t.Fatal(err)
	}

	r, err := a.PublishedAnalytics("baker", 7)
	if err != nil || r.Questions != 1 || r.NotCovered != 1 || r.Down != 1 || r.TTFTMedian != 0.8 || len(r.Days) != 7 {
		t.Fatalf("published analytics: %+v %v", r, err)
	}
	csv, err := a.ExportPublishedAnalyticsCSV("baker", 7)
	if err != nil || !strings.HasPrefix(csv, "date,conversations,questions,") || !strings.Contains(csv, "Gluten-free bread?") {
		t.Fatalf("csv: %v\n%s", err, csv)
	}
	if _, err := a.PublishedAnalytics("baker", 366); err == nil {
		t.Fatal("a period past a year was accepted")
	}
	if _, err := a.PublishedAnalytics("nobody", 7); err == nil || !strings.Contains(err.Error(), "no agent named") {
		t.Fatalf("an agent the hub does not serve: %v", err)
	}
}
