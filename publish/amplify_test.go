package publish

import (
	"bytes"
	"runtime"
	"strings"
	"testing"
)

// amplified is a small bundle whose chunks.jsonl inflates to blank MiB of
// blank lines before its real documents, with correct sizes and checksums.
func amplified(t testing.TB, blank int) []byte {
	t.Helper()
	es, order := entries(t.(*testing.T), export(t.(*testing.T), source(t.(*testing.T), ""), nil, ExportOptions{}))
	name := "kb/manuals/chunks.jsonl"
	es[name] = append(bytes.Repeat([]byte("\n"), blank<<20), es[name]...)
	return repack(t.(*testing.T), es, order, manifestOf(t.(*testing.T), es), nil)
}

// allocated runs fn and returns the bytes it allocated on the heap.
func allocated(fn func()) uint64 {
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	fn()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

// TestAmplifiedBundleBoundedMemory: a bundle of about 64 KB whose
// chunks.jsonl inflates to 64 MiB of blank lines is imported with memory
// bounded by what is kept (three documents), not by what was sent. Before,
// the entry was read whole and split: 1.7 GB.
func TestAmplifiedBundleBoundedMemory(t *testing.T) {
	data := amplified(t, 64)
	if len(data) > 512<<10 {
		t.Fatalf("the test bundle is %d bytes; it should be tiny", len(data))
	}
	dst := newFolder(t)
	var rep Report
	var err error
	n := allocated(func() { rep, err = importBundle(data, dst.target(nil), DefaultLimits, ImportOptions{}) })
	if err != nil {
		t.Fatal(err)
	}
	kb, _ := dst.store.KB(rep.KnowledgeBases["manuals"])
	if len(kb.Docs()) != 3 {
		t.Fatalf("imported %d documents", len(kb.Docs()))
	}
	if n > 32<<20 {
		t.Fatalf("importing a 64 MiB entry of blank lines allocated %d MiB; memory must not grow with what is sent", n>>20)
	}
}

// TestOverlongLineRefused: one line (one document) longer than the limit
// is refused with a sentence naming the entry and the limit.
func TestOverlongLineRefused(t *testing.T) {
	es, order := entries(t, export(t, source(t, ""), nil, ExportOptions{}))
	name := "kb/manuals/chunks.jsonl"
	es[name] = append([]byte(`{"path":"`+strings.Repeat("x", 3<<20)+`"}`+"\n"), es[name]...)
	data := repack(t, es, order, manifestOf(t, es), nil)
	lim := DefaultLimits
	lim.MaxLine = 1 << 20
	_, err := importBundle(data, newFolder(t).target(nil), lim, ImportOptions{})
	if err == nil || !strings.Contains(err.Error(), name) || !strings.Contains(err.Error(), "1048576") {
		t.Fatalf("an over-long line: %v", err)
	}
}
