package app

import (
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"atoll/internal/ollamafake"
	"atoll/store"
)

// TestSourceImageAndOCRLang: an ingested image is served as a data URL
// (only that file, as it was); a TIFF says it cannot be previewed; a
// knowledge base's OCR language is kept and checked.
func TestSourceImageAndOCRLang(t *testing.T) {
	fake := ollamafake.New(t)
	dir, files := t.TempDir(), t.TempDir()
	png := []byte("\x89PNG\r\n\x1a\n\x00\x00\x00\x0dIHDR pretend")
	tiff := []byte("II*\x00 pretend tiff")
	put := func(kb *store.KB, name string, b []byte) string {
		p := filepath.Join(files, name)
		os.WriteFile(p, b, 0o644)
		sum := sha256.Sum256(b)
		kb.Put(store.Doc{Path: p, Format: "image", Size: int64(len(b)), Hash: hex.EncodeToString(sum[:]), Status: store.StatusOK, Chunks: []store.Chunk{{Text: name}}})
		return p
	}
	st, _ := store.Open(dir)
	st.Create("kb", "")
	kb, _ := st.KB("kb")
	photo, scan := put(kb, "photo.png", png), put(kb, "scan.tif", tiff)
	st.Close()
	a, err := New(Config{DataDir: dir, OllamaURL: fake.URL}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	if u, err := a.SourceImage(photo); err != nil || !strings.HasPrefix(u, "data:image/png;base64,") {
		t.Fatalf("the photo: %q %v", u, err)
	}
	if _, err := a.SourceImage(scan); err == nil || !strings.Contains(err.Error(), "cannot be previewed") {
		t.Fatalf("a TIFF: %v", err)
	}
	if _, err := a.SourceImage("/etc/passwd"); err == nil {
		t.Fatal("a path that is no document must not be served")
	}
	if _, err := a.SourcePDF(photo); err == nil {
		t.Fatal("an image is not served as a PDF")
	}
	if _, err := a.SetOCRLang("kb", "klingon"); err == nil {
		t.Fatal("an unknown OCR language was accepted")
	}
	if _, err := a.SetOCRLang("nope", "eng"); err == nil {
		t.Fatal("a missing knowledge base was not reported")
	}
	if _, err := a.SetOCRLang("kb", "eng+chi_sim"); err != nil {
		t.Fatal(err)
	}
	if l, _ := a.OCRLang("kb"); l != "eng+chi_sim" {
		t.Fatalf("OCR language %q", l)
	}
	a.SetOCRLang("kb", "auto")
	if l, _ := a.OCRLang("kb"); l != "" {
		t.Fatalf("auto is stored as %q", l)
	}
}
