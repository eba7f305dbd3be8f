package main

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"atoll/hub"
	"atoll/internal/ollamafake"
	"atoll/llm"
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
	token := func(name string) string {
		ws, err := h.Store().CreateWorkspace(context.Background(), name)
		if err != nil {
			t.Fatal(err)
		}
		tok, hash := hub.NewToken()
		if _, err := h.Store().CreateToken(context.Background(), ws.ID, "test", hash); err != nil {
			t.Fatal(err)
		}
		return tok
	}
	first, second := token("first"), token("second")

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
}
