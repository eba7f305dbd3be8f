package store

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"atoll/rag"
)

func doc(path, text string) Doc {
	return Doc{Path: path, Name: filepath.Base(path), Hash: TextKey(text), Status: StatusOK, Chunks: []Chunk{{Text: text, End: len([]rune(text))}}}
}

func TestTornTailIsDropped(t *testing.T) {
	dir := t.TempDir()
	st, _ := Open(dir)
	if _, err := st.Create("kb", "m"); err != nil {
		t.Fatal(err)
	}
	kb, err := st.KB("kb")
	if err != nil {
		t.Fatal(err)
	}
	for i, txt := range []string{"alpha apples", "beta bananas", "gamma grapes"} {
		if err := kb.Put(doc(filepath.Join("/d", string(rune('a'+i))+".txt"), txt)); err != nil {
			t.Fatal(err)
		}
	}
	st.Close()
	// Simulate a crash in the middle of a write: half a frame at the end.
	logPath := filepath.Join(dir, "kb", "kb", "docs.log")
	fi, _ := os.Stat(logPath)
	f, _ := os.OpenFile(logPath, os.O_WRONLY|os.O_APPEND, 0)
	f.Write([]byte{200, 0, 0, 0, 1, 2, 3, 4, '{', '"', 'o'})
	f.Close()

	st2, _ := Open(dir)
	defer st2.Close()
	kb2, err := st2.KB("kb")
	if err != nil {
		t.Fatal(err)
	}
	if n := len(kb2.Docs()); n != 3 {
		t.Fatalf("after a torn write: %d docs, want 3", n)
	}
	if fi2, _ := os.Stat(logPath); fi2.Size() != fi.Size() {
		t.Fatalf("torn tail not truncated: %d != %d", fi2.Size(), fi.Size())
	}
	if hits := kb2.Search(rag.Query{Text: "bananas", K: 3}); len(hits) == 0 || hits[0].Text != "beta bananas" {
		t.Fatalf("search after repair: %+v", hits)
	}
	// And it keeps working: a new record lands after the repaired end.
	if err := kb2.Put(doc("/d/z.txt", "zeta zucchini")); err != nil {
		t.Fatal(err)
	}
}

func TestCorruptMiddleRecordStopsReplayThere(t *testing.T) {
	dir := t.TempDir()
	st, _ := Open(dir)
	st.Create("kb", "")
	kb, _ := st.KB("kb")
	kb.Put(doc("/a", "one"))
	kb.Put(doc("/b", "two"))
	st.Close()
	p := filepath.Join(dir, "kb", "kb", "docs.log")
	b, _ := os.ReadFile(p)
	b[len(b)-3] ^= 0xff // flip a byte in the last record's payload
	os.WriteFile(p, b, 0o600)
	st2, _ := Open(dir)
	defer st2.Close()
	kb2, err := st2.KB("kb")
	if err != nil {
		t.Fatal(err)
	}
	if d := kb2.Docs(); len(d) != 1 || d[0].Path != "/a" {
		t.Fatalf("a checksum failure must drop that record only: %+v", d)
	}
}

func TestReplaceRemoveVectorsAndCompaction(t *testing.T) {
	dir := t.TempDir()
	st, _ := Open(dir)
	st.Create("kb", "emb")
	kb, _ := st.KB("kb")
	ctx := context.Background()
	for i := 0; i < 50; i++ {
		if err := kb.Put(doc("/same", "version "+string(rune('A'+i%26))+" of the text")); err != nil {
			t.Fatal(err)
		}
	}
	if len(kb.Docs()) != 1 || kb.ChunkCount() != 1 {
		t.Fatalf("replacing must not duplicate: %d docs %d chunks", len(kb.Docs()), kb.ChunkCount())
	}
	p := kb.Pending()
	if len(p) != 1 {
		t.Fatalf("pending: %d", len(p))
	}
	if err := kb.AddVectors(ctx, []string{p[0].Key}, [][]float32{{0.6, 0.8}}); err != nil {
		t.Fatal(err)
	}
	if len(kb.Pending()) != 0 || !kb.Index().HasVectors() {
		t.Fatal("vector not applied")
	}
	if err := kb.AddVectors(ctx, []string{"x"}, [][]float32{{1, 0, 0}}); err == nil {
		t.Fatal("a vector of another dimension must be refused")
	}
	st.Close()

	st2, _ := Open(dir)
	kb2, _ := st2.KB("kb")
	if len(kb2.Pending()) != 0 || kb2.Meta().Dims != 2 {
		t.Fatalf("vectors not persisted: pending %d dims %d", len(kb2.Pending()), kb2.Meta().Dims)
	}
	if err := kb2.Remove("/same"); err != nil {
		t.Fatal(err)
	}
	st2.Close()
	st3, _ := Open(dir)
	defer st3.Close()
	kb3, _ := st3.KB("kb")
	if len(kb3.Docs()) != 0 {
		t.Fatal("removal not persisted")
	}
	if err := st3.Remove("kb"); err != nil {
		t.Fatal(err)
	}
	if l, _ := st3.List(); len(l) != 0 {
		t.Fatal("kb not removed")
	}
}

func TestNames(t *testing.T) {
	for _, bad := range []string{"", "..", "../x", "a/b", ".hidden", "x.", "a\x00b"} {
		if ValidName(bad) == nil {
			t.Errorf("%q accepted", bad)
		}
	}
	for _, good := range []string{"bakery", "面包店", "Shop FAQ 2", "v1.2"} {
		if err := ValidName(good); err != nil {
			t.Errorf("%q refused: %v", good, err)
		}
	}
}

// TestModelSwitchKeepsOldVectorsServing: changing the embedding model builds
// the new vectors beside the old, which serve until the new set is complete,
// across a restart in the middle.
func TestModelSwitchKeepsOldVectorsServing(t *testing.T) {
	dir := t.TempDir()
	st, _ := Open(dir)
	st.Create("kb", "old")
	kb, _ := st.KB("kb")
	ctx := context.Background()
	for _, p := range []string{"/a", "/b", "/c"} {
		kb.Put(doc(p, "text of "+p))
	}
	addAll := func(kb *KB, dims int, limit int) {
		t.Helper()
		p := kb.Pending()
		if limit > 0 && limit < len(p) {
			p = p[:limit]
		}
		keys := make([]string, len(p))
		vecs := make([][]float32, len(p))
		for i, c := range p {
			keys[i] = c.Key
			vecs[i] = make([]float32, dims)
			vecs[i][i%dims] = 1
		}
		if err := kb.AddVectors(ctx, keys, vecs); err != nil {
			t.Fatal(err)
		}
	}
	addAll(kb, 2, 0)
	if !kb.Index().HasVectors() || kb.Meta().EmbedModel != "old" {
		t.Fatal("old vectors not serving")
	}
	if err := kb.SetEmbedModel("new"); err != nil {
		t.Fatal(err)
	}
	if kb.Meta().EmbedModel != "old" || kb.EmbedModel() != "new" || len(kb.Pending()) != 3 || !kb.Index().HasVectors() {
		t.Fatalf("during the switch the old model must serve: meta %+v, filling %q, pending %d", kb.Meta(), kb.EmbedModel(), len(kb.Pending()))
	}
	addAll(kb, 3, 1) // one of three, then a restart
	st.Close()

	st2, _ := Open(dir)
	defer st2.Close()
	kb2, err := st2.KB("kb")
	if err != nil {
		t.Fatal(err)
	}
	if kb2.Meta().EmbedModel != "old" || kb2.EmbedModel() != "new" || len(kb2.Pending()) != 2 || !kb2.Index().HasVectors() {
		t.Fatalf("after restart: meta %+v, pending %d", kb2.Meta(), len(kb2.Pending()))
	}
	addAll(kb2, 3, 0)
	if m := kb2.Meta(); m.EmbedModel != "new" || m.NextEmbedModel != "" || m.Dims != 3 || !kb2.Index().HasVectors() || len(kb2.Pending()) != 0 {
		t.Fatalf("the new model should take over when complete: %+v", m)
	}
	// Switching back reuses the old vectors kept on disk: nothing pending.
	if err := kb2.SetEmbedModel("old"); err != nil {
		t.Fatal(err)
	}
	// The old set is complete, so it takes over at once.
	if kb2.Meta().EmbedModel != "old" || kb2.Meta().Dims != 2 {
		t.Fatalf("switching back: %+v", kb2.Meta())
	}
}

// TestRepeatedTextIndexedOnce: a licence header in every file is one passage
// in the index; removing the file it came from hands it to another.
func TestRepeatedTextIndexedOnce(t *testing.T) {
	st, _ := Open(t.TempDir())
	defer st.Close()
	st.Create("kb", "")
	kb, _ := st.KB("kb")
	licence := "Licensed under the Apache License, Version 2.0; you may not use this file except in compliance with the License."
	for _, p := range []string{"/a.go", "/b.go", "/c.go"} {
		d := doc(p, "unique body of "+p)
		d.Chunks = append([]Chunk{{Text: licence}}, d.Chunks...)
		if err := kb.Put(d); err != nil {
			t.Fatal(err)
		}
	}
	if kb.ChunkCount() != 6 || kb.Index().Len() != 4 {
		t.Fatalf("stored %d chunks, indexed %d; want 6 stored, 4 indexed", kb.ChunkCount(), kb.Index().Len())
	}
	hits := kb.Search(rag.Query{Text: "Apache License compliance", K: 5})
	if len(hits) != 1 || hits[0].Source != "/a.go" {
		t.Fatalf("the licence should come back once: %+v", hits)
	}
	if err := kb.Remove("/a.go"); err != nil {
		t.Fatal(err)
	}
	hits = kb.Search(rag.Query{Text: "Apache License compliance", K: 5})
	if len(hits) != 1 || hits[0].Source != "/b.go" || kb.Index().Len() != 3 {
		t.Fatalf("after removing its source the text should move to another file: %+v (index %d)", hits, kb.Index().Len())
	}
	// Replacing a file with one without the licence keeps the rest right.
	if err := kb.Put(doc("/b.go", "new body of b")); err != nil {
		t.Fatal(err)
	}
	hits = kb.Search(rag.Query{Text: "Apache License compliance", K: 5})
	if len(hits) != 1 || hits[0].Source != "/c.go" {
		t.Fatalf("after replacing /b.go: %+v", hits)
	}
}
