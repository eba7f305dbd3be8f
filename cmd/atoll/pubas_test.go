package main

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"atoll/hub"
	"atoll/hubstore"
	"atoll/internal/ollamafake"
	"atoll/llm"
	"atoll/publish"
)

// publish --as's usage errors, kept beside the table in cli_test.go.
func init() {
	usageErrors["publish"] = append(usageErrors["publish"],
		[]string{"--agent", "baker", "--as", "not/a name"},
		[]string{"--agent", "baker", "--as", "baker2", "--rollback"})
}

// TestPublishAs: a name another workspace published first is refused with a
// sentence suggesting --as, and --as NAME publishes the same agent under
// that name, served at /a/NAME, without touching the first workspace's.
// The public name is remembered: publish, --rollback, review pull and
// leads pull with --agent baker then reach baker2, and the public name
// itself is still accepted.
func TestPublishAs(t *testing.T) {
	fake := ollamafake.New(t)
	data, docs, hubDir := t.TempDir(), t.TempDir(), t.TempDir()
	write(t, docs, "faq-en.md", bakeryEN)
	if r := atoll(t, "--data", data, "--ollama", fake.URL, "ingest", "--kb", "shop", "--embed-model", ollamafake.DefaultEmbedModel, docs); r.code != 0 {
		t.Fatal(r.stderr)
	}
	if r := atoll(t, "--data", data, "agent", "create", "baker", "--kb", "shop", "--model", ollamafake.DefaultChatModel); r.code != 0 {
		t.Fatal(r.stderr)
	}
	c, _ := llm.New(fake.URL)
	h, err := hub.New(hub.Config{Dir: hubDir, Model: c, Embedder: c, Import: hub.Importer(c)})
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	srv := httptest.NewServer(h.Handler())
	defer srv.Close()
	token := func(name string) (string, string) {
		ws, err := h.Store().CreateWorkspace(context.Background(), name)
		if err != nil {
			t.Fatal(err)
		}
		tok, hash := hub.NewToken()
		if _, err := h.Store().CreateToken(context.Background(), ws.ID, "test", hash); err != nil {
			t.Fatal(err)
		}
		return tok, ws.ID
	}
	first, _ := token("first")
	second, wsSecond := token("second")

	if r := atoll(t, "--data", data, "--ollama", fake.URL, "publish", "--agent", "baker", "--to", srv.URL, "--token", first, "--yes"); r.code != 0 {
		t.Fatalf("first workspace's publish: %d %s %s", r.code, r.stdout, r.stderr)
	}
	r := atoll(t, "--data", data, "--ollama", fake.URL, "publish", "--agent", "baker", "--to", srv.URL, "--token", second, "--yes")
	if r.code != 1 || !strings.Contains(r.stderr, "--as NEWNAME") {
		t.Fatalf("a taken name must be refused with a hint at --as: %d %s %s", r.code, r.stdout, r.stderr)
	}
	r = atoll(t, "--data", data, "--ollama", fake.URL, "publish", "--agent", "baker", "--as", "baker2", "--token", second, "--yes")
	if r.code != 0 || !strings.Contains(r.stdout, "Published baker2 (version 1)") || !strings.Contains(r.stdout, "/a/baker2") {
		t.Fatalf("publish --as: %d %s %s", r.code, r.stdout, r.stderr)
	}
	for name, ws := range map[string]string{"baker": "first", "baker2": "second"} {
		a, err := h.Store().ResolveAgent(context.Background(), name)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		w, err := h.Store().WorkspaceByName(context.Background(), ws)
		if err != nil || a.Workspace != w.ID || a.Current != 1 {
			t.Fatalf("%s belongs to %q at version %d, want %s at 1 (%v)", name, a.Workspace, a.Current, ws, err)
		}
	}
	res, err := http.Get(srv.URL + "/a/baker2")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != 200 || !strings.Contains(string(b), "baker2") {
		t.Fatalf("/a/baker2: %s %.200s", res.Status, b)
	}

	if cfg := publish.ReadConfig(data); cfg.PublicName("baker") != "baker2" {
		t.Fatalf("--as was not remembered: %+v", cfg)
	}
	r = atoll(t, "--data", data, "--ollama", fake.URL, "publish", "--agent", "baker", "--yes")
	if r.code != 0 || !strings.Contains(r.stdout, "Published baker2 (version 2)") {
		t.Fatalf("publish again without --as: %d %s %s", r.code, r.stdout, r.stderr)
	}
	ctx := context.Background()
	meta, _ := json.Marshal(map[string]any{"not_covered": true})
	turn, _, err := h.Store().AppendTurn(ctx, wsSecond, "baker2", "c1", hubstore.Turn{Key: "k", Question: "Gluten-free bread?", Answer: "…", Meta: meta, At: time.Now().UTC()})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := h.Store().SetFeedback(ctx, wsSecond, "baker2", "c1", turn.Seq, hubstore.Feedback{Rating: -1}); err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	lead := hubstore.Lead{Agent: "baker2", Name: "Ana", Email: "ana@example.com", Fields: map[string]string{"name": "Ana", "email": "ana@example.com"}, Created: now, Updated: now}
	if _, _, err := h.Store().SaveLead(ctx, wsSecond, "baker2", "", lead); err != nil {
		t.Fatal(err)
	}
	if r := atoll(t, "--data", data, "review", "pull", "--agent", "baker"); r.code != 0 || !strings.Contains(r.stdout, "1 new item for baker (1 voted down") {
		t.Fatalf("review pull --agent baker: %d %s %s", r.code, r.stdout, r.stderr)
	}
	if r := atoll(t, "--data", data, "leads", "pull", "--agent", "baker"); r.code != 0 || !strings.Contains(r.stderr, "1 new") {
		t.Fatalf("leads pull --agent baker: %d %s", r.code, r.stderr)
	}
	if r := atoll(t, "--data", data, "leads", "list", "--agent", "baker", "--json"); !strings.Contains(r.stdout, "ana@example.com") {
		t.Fatalf("the pulled lead is not baker's: %s", r.stdout)
	}
	if r := atoll(t, "--data", data, "review", "pull", "--agent", "baker2"); r.code != 0 || !strings.Contains(r.stdout, "1 new item for baker2") {
		t.Fatalf("the public name itself: %d %s %s", r.code, r.stdout, r.stderr)
	}
	if r := atoll(t, "--data", data, "publish", "--agent", "baker", "--rollback"); r.code != 0 || !strings.Contains(r.stdout, "Rolled back baker2") || !strings.Contains(r.stdout, "serves version 1 again") {
		t.Fatalf("rollback --agent baker: %d %s %s", r.code, r.stdout, r.stderr)
	}
	if a, _ := h.Store().ResolveAgent(ctx, "baker"); a.Current != 1 {
		t.Fatalf("the first workspace's baker moved to version %d", a.Current)
	}
}
