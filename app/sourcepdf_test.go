package app

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"atoll/internal/ollamafake"
	"atoll/store"
)

// TestSourcePDFServesOnlyIngestedFiles: the page preview reads a PDF only if
// it is a knowledge base's document and still the very file that was
// ingested — an imported bundle naming some other path gets nothing.
func TestSourcePDFServesOnlyIngestedFiles(t *testing.T) {
	fake := ollamafake.New(t)
	dir, files := t.TempDir(), t.TempDir()
	good := filepath.Join(files, "manual.pdf")
	os.WriteFile(good, []byte("%PDF-1.4 pretend"), 0o644)
	other := filepath.Join(files, "secret.pdf")
	os.WriteFile(other, []byte("%PDF-1.4 private"), 0o644)
	sum := sha256.Sum256([]byte("%PDF-1.4 pretend"))
	st, _ := store.Open(dir)
	st.Create("kb", "")
	kb, _ := st.KB("kb")
	kb.Put(store.Doc{Path: good, Format: "pdf", Size: 16, Hash: hex.EncodeToString(sum[:]), Status: store.StatusOK, Chunks: []store.Chunk{{Text: "x"}}})
	// As a hostile bundle would list it: a real path, the wrong content hash.
	kb.Put(store.Doc{Path: other, Format: "pdf", Size: 16, Hash: strings.Repeat("0", 64), Status: store.StatusOK, Chunks: []store.Chunk{{Text: "y"}}})
	st.Close()
	a, err := New(Config{DataDir: dir, OllamaURL: fake.URL}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	b64, err := a.SourcePDF(good)
	if b, _ := base64.StdEncoding.DecodeString(b64); err != nil || string(b) != "%PDF-1.4 pretend" {
		t.Fatalf("the ingested PDF: %v", err)
	}
	if _, err := a.SourcePDF(other); err == nil {
		t.Fatal("a file whose content does not match the document must not be served")
	}
	if _, err := a.SourcePDF("/etc/passwd"); err == nil {
		t.Fatal("a path that is no document must not be served")
	}
	os.WriteFile(good, []byte("%PDF-1.4 changed!"), 0o644)
	if _, err := a.SourcePDF(good); err == nil || !strings.Contains(err.Error(), "changed") {
		t.Fatalf("a changed file: %v", err)
	}
}
