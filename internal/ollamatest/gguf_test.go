package ollamatest

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/ollama/ollama/fs/ggml"
)

func TestWriteTinyGGUF(t *testing.T) {
	path := filepath.Join(t.TempDir(), tinyFileName)
	if err := writeTinyGGUF(path); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	g, _, err := ggml.Decode(f, -1)
	if err != nil {
		t.Fatalf("decode: %v", err)
	}
	if got := g.KV().Architecture(); got != "llama" {
		t.Errorf("architecture = %q", got)
	}
	if got := len(g.Tensors().Items()); got != 3+9*tinyBlocks {
		t.Errorf("tensors = %d, want %d", got, 3+9*tinyBlocks)
	}
	if fi, _ := f.Stat(); fi.Size() > 1<<20 {
		t.Errorf("file is %d bytes; the tiny model should stay under 1 MiB", fi.Size())
	}
}

func TestBinaryPathFromEnv(t *testing.T) {
	t.Setenv("ATOLL_OLLAMA_BIN", filepath.Join(t.TempDir(), "missing"))
	if _, err := BinaryPath(); err == nil {
		t.Fatal("a missing $ATOLL_OLLAMA_BIN was accepted")
	}
	bin := filepath.Join(t.TempDir(), "ollama")
	if err := os.WriteFile(bin, []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("ATOLL_OLLAMA_BIN", bin)
	if got, err := BinaryPath(); err != nil || got != bin {
		t.Fatalf("BinaryPath = %q, %v", got, err)
	}
}
