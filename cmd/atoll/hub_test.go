package main

import (
	"archive/zip"
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"atoll/hub"
	"atoll/internal/ollamafake"
	"atoll/llm"
)

// TestPublishToHub: build an agent on the desktop, publish it with the CLI
// to a hub, chat with it through the OpenAI-compatible endpoint, republish
// (a new version), and see a malicious bundle refused with the hub unchanged.
func TestPublishToHub(t *testing.T) {
	fake := ollamafake.New(t)
	data, docs, hubDir := t.TempDir(), t.TempDir(), t.TempDir()
	write(t, docs, "faq-en.md", bakeryEN)
	if r := atoll(t, "--data", data, "--ollama", fake.URL, "ingest", "--kb", "shop", "--embed-model", ollamafake.DefaultEmbedModel, docs); r.code != 0 {
		t.Fatal(r.stderr)
	}
	form := write(t, docs, "form.json", `{"fields": [{"name": "name", "label": "Name", "type": "text", "required": true}, {"name": "phone", "label": "Phone", "type": "phone", "required": true}]}`)
	if r := atoll(t, "--data", data, "agent", "create", "baker", "--kb", "shop", "--model", ollamafake.DefaultChatModel, "--tools", "search_knowledge,save_lead", "--lead-form", form); r.code != 0 {
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
	r := atoll(t, "--data", hubDir, "hub", "token", "create", "--label", "test")
	tok := strings.TrimSpace(r.stdout)
	if r.code != 0 || !strings.HasPrefix(tok, "atl_") {
		t.Fatalf("token create: %d %q %s", r.code, r.stdout, r.stderr)
	}

	if r := atoll(t, "--data", data, "--ollama", fake.URL, "publish", "--agent", "baker", "--to", srv.URL, "--token", "wrong"); r.code != 1 || !strings.Contains(r.stderr, "token") {
		t.Fatalf("a wrong token must be refused: %d %s", r.code, r.stderr)
	}
	r = atoll(t, "--data", data, "--ollama", fake.URL, "publish", "--agent", "baker", "--to", srv.URL, "--token", tok)
	if r.code != 0 || !strings.Contains(r.stdout, "version 1") || !strings.Contains(r.stdout, "/a/baker") || !strings.Contains(r.stdout, "widget.js") {
		t.Fatalf("publish: %d %s %s", r.code, r.stdout, r.stderr)
	}
	if fi, err := os.Stat(filepath.Join(data, "publish.json")); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("the hub address and token must be remembered, readable by the user only: %v", err)
	}

	fake.Script(
		ollamafake.Reply{ToolCalls: []ollamafake.ToolCall{{Name: "search_knowledge", Arguments: map[string]any{"query": "birthday cake notice"}}}},
		ollamafake.Reply{Text: "Birthday cakes need 48 hours notice [1]."},
	)
	res, err := http.Post(srv.URL+"/v1/chat/completions", "application/json", strings.NewReader(`{"model":"baker","messages":[{"role":"user","content":"How much notice do birthday cakes need?"}]}`))
	if err != nil {
		t.Fatal(err)
	}
	var out struct {
		Choices []struct{ Message struct{ Content string } }
		Atoll   struct {
			Citations []struct {
				Source string
				Used   bool
			}
		}
	}
	json.NewDecoder(res.Body).Decode(&out)
	res.Body.Close()
	if len(out.Choices) != 1 || !strings.Contains(out.Choices[0].Message.Content, "48 hours") || len(out.Atoll.Citations) == 0 || !strings.HasSuffix(out.Atoll.Citations[0].Source, "faq-en.md") {
		t.Fatalf("chat with the published agent: %+v", out)
	}

	// A visitor leaves their details: the lead lands in the hub's inbox, and
	// the desktop pulls it back.
	fake.Script(
		ollamafake.Reply{ToolCalls: []ollamafake.ToolCall{{Name: "save_lead", Arguments: map[string]any{"name": "Ana", "phone": "+31 612 345 678"}}}},
		ollamafake.Reply{Text: "Thanks Ana, we will call you."},
	)
	res, err = http.Post(srv.URL+"/v1/chat/completions", "application/json", strings.NewReader(`{"model":"baker","messages":[{"role":"user","content":"Please call me about a birthday cake, I am Ana, +31 612 345 678"}]}`))
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	req, _ := http.NewRequest("GET", srv.URL+"/api/leads?agent=baker", nil)
	req.Header.Set("Authorization", "Bearer "+tok)
	res, _ = http.DefaultClient.Do(req)
	inbox, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if !strings.Contains(string(inbox), "Ana") {
		t.Fatalf("the hub's inbox should hold the lead: %s", inbox)
	}
	if r := atoll(t, "--data", data, "leads", "pull", "--agent", "baker"); r.code != 0 || !strings.Contains(r.stderr, "1 new") {
		t.Fatalf("leads pull: %d %s", r.code, r.stderr)
	}
	if r := atoll(t, "--data", data, "leads", "pull", "--agent", "baker"); !strings.Contains(r.stderr, "1 merged") {
		t.Fatalf("pulling again must not duplicate: %s", r.stderr)
	}
	if r := atoll(t, "--data", data, "leads", "list", "--agent", "baker", "--json"); !strings.Contains(r.stdout, "+31 612 345 678") {
		t.Fatalf("pulled lead not listed: %s", r.stdout)
	}

	// Republish (remembered address and token): version 2.
	if r := atoll(t, "--data", data, "--ollama", fake.URL, "publish", "--agent", "baker"); r.code != 0 || !strings.Contains(r.stdout, "version 2") {
		t.Fatalf("republish: %d %s %s", r.code, r.stdout, r.stderr)
	}

	// With a test set, publishing runs it first and shows the result;
	// rollback restores the previous version on the hub.
	checks := write(t, docs, "checks.jsonl", `{"q": "How much notice do birthday cakes need?", "must": ["48"]}`+"\n")
	fake.Script(ollamafake.Reply{Text: "Birthday cakes need 48 hours notice."})
	if r := atoll(t, "--data", data, "--ollama", fake.URL, "agent", "test", "baker", "--questions", checks); r.code != 0 {
		t.Fatalf("agent test: %d %s %s", r.code, r.stdout, r.stderr)
	}
	fake.Script(ollamafake.Reply{Text: "Birthday cakes need 48 hours notice."})
	r = atoll(t, "--data", data, "--ollama", fake.URL, "publish", "--agent", "baker")
	if r.code != 0 || !strings.Contains(r.stdout, "Test set: retrieval") || !strings.Contains(r.stdout, "answers 1/1") || !strings.Contains(r.stdout, "version 3") {
		t.Fatalf("publish with a test set: %d %s %s", r.code, r.stdout, r.stderr)
	}
	if r := atoll(t, "--data", data, "publish", "--agent", "baker", "--rollback"); r.code != 0 || !strings.Contains(r.stdout, "serves version 2 again") {
		t.Fatalf("rollback: %d %s %s", r.code, r.stdout, r.stderr)
	}

	// A bundle with an entry outside the bundle is refused; nothing changes.
	before := listDir(t, filepath.Join(hubDir, "cache"))
	var evil bytes.Buffer
	zw := zip.NewWriter(&evil)
	w, _ := zw.Create("../escape.txt")
	io.WriteString(w, "x")
	zw.Close()
	req, _ = http.NewRequest("POST", srv.URL+"/api/publish", &evil)
	req.Header.Set("Authorization", "Bearer "+tok)
	res, _ = http.DefaultClient.Do(req)
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != http.StatusUnprocessableEntity {
		t.Fatalf("malicious bundle: %d %s", res.StatusCode, body)
	}
	if after := listDir(t, filepath.Join(hubDir, "cache")); after != before {
		t.Fatalf("a refused bundle changed the hub:\n%s\n---\n%s", before, after)
	}
	if _, err := os.Stat(filepath.Join(hubDir, "escape.txt")); err == nil {
		t.Fatal("the bundle wrote outside the hub")
	}
}

func listDir(t *testing.T, dir string) string {
	var b strings.Builder
	filepath.Walk(dir, func(p string, fi os.FileInfo, err error) error {
		if err == nil {
			rel, _ := filepath.Rel(dir, p)
			b.WriteString(rel + "\n")
		}
		return nil
	})
	return b.String()
}
