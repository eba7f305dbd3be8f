package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"atoll/internal/ollamafake"
)

// TestExportImportCLI is the user's round trip: ingest and export from one
// data folder, import into a fresh one, and search both.
func TestExportImportCLI(t *testing.T) {
	fake := ollamafake.New(t)
	dir := t.TempDir()
	a, b := filepath.Join(dir, "a"), filepath.Join(dir, "b")
	docs := write(t, dir, "docs/bakery.md", bakeryEN)
	if r := atoll(t, "--data", a, "--ollama", fake.URL, "ingest", "--kb", "bakery", "--embed-model", ollamafake.DefaultEmbedModel, docs); r.code != 0 {
		t.Fatalf("ingest: %+v", r)
	}
	if r := atoll(t, "--data", a, "agent", "create", "Baker", "--kb", "bakery", "--model", ollamafake.DefaultChatModel); r.code != 0 {
		t.Fatalf("agent create: %+v", r)
	}
	bundle := filepath.Join(dir, "baker.atoll")
	if r := atoll(t, "--data", a, "--ollama", fake.URL, "export", "--agent", "Baker", "-o", bundle); r.code != 0 {
		t.Fatalf("export: %+v", r)
	}
	if r := atoll(t, "--data", b, "--ollama", fake.URL, "import", bundle); r.code != 0 || !strings.Contains(r.stderr, `Imported agent "Baker"`) {
		t.Fatalf("import: %+v", r)
	}
	for _, q := range []string{"cake price", "when are you closed"} {
		ra := atoll(t, "--data", a, "--ollama", fake.URL, "search", "--kb", "bakery", "--json", q)
		rb := atoll(t, "--data", b, "--ollama", fake.URL, "search", "--kb", "bakery", "--json", q)
		// The bundle names the document relative to its folder (docs/bakery.md).
		bundled := strings.ReplaceAll(ra.stdout, filepath.Join(dir, "docs")+string(filepath.Separator), "docs/")
		if ra.code != 0 || bundled != rb.stdout || len(ra.stdout) < 10 || strings.Contains(rb.stdout, dir) {
			t.Fatalf("%q: exported %+v, imported %+v", q, ra, rb)
		}
	}
	if r := atoll(t, "--data", b, "--ollama", fake.URL, "import", bundle); r.code != 1 || !strings.Contains(r.stderr, "--as") {
		t.Fatalf("second import: %+v", r)
	}

	// A refused bundle leaves no data folder behind.
	c := filepath.Join(dir, "c")
	write(t, dir, "bad.atoll", "not a zip")
	if r := atoll(t, "--data", c, "import", filepath.Join(dir, "bad.atoll")); r.code != 1 || !strings.Contains(r.stderr, "invalid bundle") {
		t.Fatalf("bad bundle: %+v", r)
	}
	if _, err := os.Stat(c); !os.IsNotExist(err) {
		t.Fatalf("a refused import created %s", c)
	}

	mf := filepath.Join(dir, "Modelfile")
	if r := atoll(t, "--data", a, "export", "--agent", "Baker", "--format", "modelfile", "-o", mf); r.code != 1 {
		t.Fatalf("modelfile of an agent with knowledge: %+v", r)
	}
	if r := atoll(t, "--data", a, "export", "--agent", "Baker", "--format", "modelfile", "--without-knowledge", "-o", mf); r.code != 0 {
		t.Fatalf("modelfile: %+v", r)
	}
	if r := atoll(t, "--data", a, "export", "--agent", "Baker", "--format", "dify", "-o", filepath.Join(dir, "dify")); r.code != 0 {
		t.Fatalf("dify: %+v", r)
	}
	if _, err := os.Stat(filepath.Join(dir, "dify", "Baker.yml")); err != nil {
		t.Fatal(err)
	}
}
