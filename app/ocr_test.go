package app

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"atoll/internal/ollamafake"
	"atoll/store"
)

// TestSourceImageAndOCRLang: an ingested image is served as a data URL
// (only that file, as it was); a broken TIFF says it cannot be previewed; a
// knowledge base's OCR language is kept and checked.
func TestSourceImageAndOCRLang(t *testing.T) {
	fake := ollamafake.New(t)
	dir, files := t.TempDir(), t.TempDir()
	png := []byte("\x89PNG\r\n\x1a\n\x00\x00\x00\x0dIHDR pretend")
	tiff := []byte("II*\x00 broken tiff")
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

func TestDecodeAttachedImage(t *testing.T) {
	png := []byte("\x89PNG\r\n\x1a\nrest")
	b64 := base64.StdEncoding.EncodeToString(png)
	for _, in := range []string{"data:image/png;base64," + b64, b64} {
		if b, err := decodeImage(in); err != nil || string(b) != string(png) {
			t.Fatalf("%q: %q %v", in[:12], b, err)
		}
	}
	for in, want := range map[string]string{
		base64.StdEncoding.EncodeToString([]byte("#!/bin/sh")): "not a PNG",
		"data:image/png,raw": "could not be read",
		"%%%":                "could not be read",
		strings.Repeat("A", (MaxImageBytes/3+8)*4): "larger than 20 MB",
	} {
		if _, err := decodeImage(in); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%.20q: %v, want %q", in, err, want)
		}
	}
}

// TestReadImageText: the chat's OCR reads a photo's text with Tesseract;
// without it, the error says how to install it.
func TestReadImageText(t *testing.T) {
	if _, err := exec.LookPath("tesseract"); err != nil {
		t.Fatalf("tesseract is needed (make test installs it): %v", err)
	}
	convert := "/usr/bin/convert"
	if _, err := os.Stat(convert); err != nil {
		convert = "convert"
	}
	img := filepath.Join(t.TempDir(), "menu.png")
	if out, err := exec.Command(convert, "-density", "300", "-size", "2000x", "-background", "white", "-fill", "black", "-font", "DejaVu-Sans",
		"-pointsize", "14", "caption:Lemon tart costs four euros fifty", "-bordercolor", "white", "-border", "100", img).CombinedOutput(); err != nil {
		t.Fatalf("%v %s", err, out)
	}
	b, _ := os.ReadFile(img)
	t.Setenv("XDG_CACHE_HOME", t.TempDir())
	text, err := ReadImageText(context.Background(), b)
	if err != nil || !strings.Contains(text, "Lemon tart costs four euros") {
		t.Fatalf("%q %v", text, err)
	}
	t.Setenv("XDG_CACHE_HOME", t.TempDir()) // not from the cache
	t.Setenv("PATH", t.TempDir())
	if _, err := ReadImageText(context.Background(), b); err == nil || !strings.Contains(err.Error(), "install Tesseract") {
		t.Fatalf("without Tesseract: %v", err)
	}
}
