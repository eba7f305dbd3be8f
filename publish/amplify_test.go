package publish

import (
	"archive/zip"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"atoll/agent"
	"atoll/store"
)

// amplified is a small bundle whose chunks.jsonl inflates to mib MiB of
// blank lines before its real documents, with correct sizes and checksums.
func amplified(tb testing.TB, mib int) []byte {
	tb.Helper()
	dir := tb.TempDir()
	st, err := store.Open(dir)
	if err != nil {
		tb.Fatal(err)
	}
	defer st.Close()
	st.Create("manuals", "")
	kb, _ := st.KB("manuals")
	for i, text := range []string{"The oven preheats in ten minutes.", "Descale the kettle monthly.", "The warranty lasts two years."} {
		kb.Put(store.Doc{Path: fmt.Sprintf("manuals/doc%d.md", i), Name: fmt.Sprintf("doc%d.md", i), Hash: fmt.Sprint(i), Status: store.StatusOK,
			Chunks: []store.Chunk{{Text: text, End: len(text)}}})
	}
	agents := agent.NewRepo(filepath.Join(dir, "agents"))
	agents.Save(agent.Definition{Name: "Helpdesk", Model: "tiny", KBs: []string{"manuals"}})
	var bundle bytes.Buffer
	if _, _, err := (&Exporter{Store: st, Agents: agents}).Export(context.Background(), &bundle, "Helpdesk", ExportOptions{}); err != nil {
		tb.Fatal(err)
	}
	zr, _ := zip.NewReader(bytes.NewReader(bundle.Bytes()), int64(bundle.Len()))
	es := map[string][]byte{}
	var order []string
	for _, f := range zr.File {
		rc, _ := f.Open()
		es[f.Name], _ = io.ReadAll(rc)
		rc.Close()
		order = append(order, f.Name)
	}
	name := "kb/manuals/chunks.jsonl"
	es[name] = append(bytes.Repeat([]byte("\n"), mib<<20), es[name]...)
	var m Manifest
	json.Unmarshal(es[ManifestName], &m)
	for i := range m.Files {
		if m.Files[i].Path == name {
			sum := sha256.Sum256(es[name])
			m.Files[i].Size, m.Files[i].SHA256 = int64(len(es[name])), hex.EncodeToString(sum[:])
		}
	}
	es[ManifestName], _ = json.Marshal(m)
	var out bytes.Buffer
	zw := zip.NewWriter(&out)
	for _, n := range order {
		w, _ := zw.CreateHeader(&zip.FileHeader{Name: n, Method: zip.Deflate})
		w.Write(es[n])
	}
	zw.Close()
	return out.Bytes()
}

// emptyTarget is a fresh data folder to import into.
func emptyTarget(tb testing.TB) (Target, *store.Store) {
	dir := tb.TempDir()
	st, err := store.Open(dir)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(st.Close)
	return Target{Store: st, Agents: agent.NewRepo(filepath.Join(dir, "agents"))}, st
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
	target, st := emptyTarget(t)
	var rep Report
	var err error
	n := allocated(func() { rep, err = importBundle(data, target, DefaultLimits, ImportOptions{}) })
	if err != nil {
		t.Fatal(err)
	}
	kb, _ := st.KB(rep.KnowledgeBases["manuals"])
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
