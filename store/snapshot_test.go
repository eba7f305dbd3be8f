package store

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"hash/crc32"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"atoll/rag"
)

// snapKB fills a knowledge base with documents (some sharing text), removes
// and replaces some, and embeds all but a few chunk texts.
func snapKB(t *testing.T, kb *KB, r *rand.Rand, from, n int) {
	t.Helper()
	for d := from; d < from+n; d++ {
		doc := Doc{Path: fmt.Sprintf("/docs/f%03d.md", d), Hash: fmt.Sprint(d, r.Int()), Status: StatusOK}
		for c := 0; c < 20; c++ {
			text := benchText(r, d*100+c)
			if c == 0 {
				text = "Shared licence header: all rights reserved." // the same text in every file
			}
			doc.Chunks = append(doc.Chunks, Chunk{Text: text, Page: c / 5, Headings: []string{"Part", fmt.Sprint(c)}})
		}
		if err := kb.Put(doc); err != nil {
			t.Fatal(err)
		}
	}
	for d := from; d < from+n; d += 9 {
		if err := kb.Remove(fmt.Sprintf("/docs/f%03d.md", d)); err != nil {
			t.Fatal(err)
		}
	}
	pend := kb.Pending()
	var keys []string
	var vecs [][]float32
	for i, c := range pend {
		if i%17 == 5 {
			continue // left pending
		}
		keys = append(keys, c.Key)
		vecs = append(vecs, benchVec(r)[:48])
	}
	if err := kb.AddVectors(context.Background(), keys, vecs); err != nil {
		t.Fatal(err)
	}
}

var snapQueries = []string{"chocolate cake order", "licence rights", "refund allergy vegan", "Passage 1203"}

// answers returns search results for fixed queries, lexical and hybrid.
func answers(t *testing.T, kb *KB) [][]rag.Hit {
	t.Helper()
	r := rand.New(rand.NewPCG(5, 5))
	var out [][]rag.Hit
	for _, q := range snapQueries {
		out = append(out, kb.Search(rag.Query{Text: q, K: 8}))
		out = append(out, kb.Search(rag.Query{Text: q, K: 8, Vector: benchVec(r)[:48]}))
	}
	if len(out[0]) == 0 {
		t.Fatal("no hits: the comparison would prove nothing")
	}
	return out
}

func reopen(t *testing.T, dir string) (*Store, *KB) {
	t.Helper()
	st, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	kb, err := st.KB("kb")
	if err != nil {
		t.Fatal(err)
	}
	return st, kb
}

// rebuilt opens a copy of the knowledge base without its snapshot: what the
// index must look like.
func rebuilt(t *testing.T, dir string) [][]rag.Hit {
	t.Helper()
	cp := t.TempDir()
	copyDir(t, dir, cp)
	os.Remove(filepath.Join(cp, "kb", "kb", snapFile))
	st, kb := reopen(t, cp)
	defer st.Close()
	if kb.restored {
		t.Fatal("restored without a snapshot")
	}
	return answers(t, kb)
}

func TestSnapshotRestoresTheSameIndex(t *testing.T) {
	dir := t.TempDir()
	st, _ := Open(dir)
	st.Create("kb", "m")
	kb, _ := st.KB("kb")
	r := rand.New(rand.NewPCG(1, 2))
	snapKB(t, kb, r, 0, 60)
	want := answers(t, kb)
	st.Close() // writes the snapshot

	st, kb = reopen(t, dir)
	if !kb.restored {
		t.Fatal("the snapshot written on close was not used")
	}
	if got := answers(t, kb); !reflect.DeepEqual(got, want) {
		t.Fatalf("restored index answers differently:\n got %v\nwant %v", got[0], want[0])
	}
	if !reflect.DeepEqual(rebuilt(t, dir), want) {
		t.Fatal("a rebuilt index answers differently from the one written")
	}

	// Changes after the snapshot, then a crash (no Close): the next open
	// restores the snapshot and replays the records after it.
	snapKB(t, kb, r, 40, 50) // replaces 40..59, adds 60..89
	if err := kb.Remove("/docs/f001.md"); err != nil {
		t.Fatal(err)
	}
	want = answers(t, kb)
	_ = st // abandoned without Close, as a kill would leave it
	st2, kb2 := reopen(t, dir)
	if !kb2.restored {
		t.Fatal("snapshot not used with records after it")
	}
	if got := answers(t, kb2); !reflect.DeepEqual(got, want) {
		t.Fatal("snapshot + later records answer differently from the live index")
	}
	// (A rebuild may now differ in ties: which file's copy of the shared
	// text stands for it depends on the order of changes.)
	if len(kb2.Docs()) != len(kb.Docs()) || kb2.ChunkCount() != kb.ChunkCount() || len(kb2.Pending()) != len(kb.Pending()) {
		t.Fatal("documents, chunks or pending differ after replaying the tail")
	}
	st2.Close()
}

func TestSnapshotIgnoredWhenItDoesNotFit(t *testing.T) {
	dir := t.TempDir()
	st, _ := Open(dir)
	st.Create("kb", "m")
	kb, _ := st.KB("kb")
	snapKB(t, kb, rand.New(rand.NewPCG(3, 4)), 0, 30)
	// The last record: a document whose text ends the log (see below).
	if err := kb.Put(doc("/z.md", "zebra crossings have stripes")); err != nil {
		t.Fatal(err)
	}
	want := answers(t, kb)
	st.Close()
	snap := filepath.Join(dir, "kb", "kb", snapFile)
	good, err := os.ReadFile(snap)
	if err != nil {
		t.Fatal(err)
	}
	logPath := filepath.Join(dir, "kb", "kb", "docs.log")
	goodLog, _ := os.ReadFile(logPath)
	for _, c := range []struct {
		name   string
		break_ func()
	}{
		{"damaged", func() {
			b := append([]byte(nil), good...)
			b[len(b)/2] ^= 1
			os.WriteFile(snap, b, 0o600)
		}},
		{"truncated", func() { os.WriteFile(snap, good[:len(good)-100], 0o600) }},
		{"log state gone (last record rewritten)", func() {
			// Same size, different last record (a letter of the text, which
			// changes no ID or key): the snapshot names a state that no
			// longer exists.
			b := append([]byte(nil), goodLog...)
			i := len(b) - 1
			if b[i] != 's' {
				t.Fatalf("the log does not end with the text: %q", b[i-10:])
			}
			b[i] ^= 0x20
			last := lastFrameStart(t, b)
			binary.LittleEndian.PutUint32(b[last+4:], crc32.Checksum(b[last+8:], crcTable))
			os.WriteFile(logPath, b, 0o600)
			os.WriteFile(snap, good, 0o600)
		}},
		{"log shorter than the snapshot", func() {
			os.WriteFile(logPath, goodLog[:lastFrameStart(t, goodLog)], 0o600)
			os.WriteFile(snap, good, 0o600)
		}},
		{"another embedding model", func() {
			os.WriteFile(logPath, goodLog, 0o600)
			b := append([]byte(nil), good...)
			b[24] = 'x' // the model's name ("m")
			os.WriteFile(snap, b, 0o600)
		}},
	} {
		os.WriteFile(logPath, goodLog, 0o600)
		c.break_()
		st, kb := reopen(t, dir)
		if kb.restored {
			t.Errorf("%s: snapshot used", c.name)
		}
		if c.name != "log state gone (last record rewritten)" && c.name != "log shorter than the snapshot" {
			if got := answers(t, kb); !reflect.DeepEqual(got, want) {
				t.Errorf("%s: rebuilt index answers differently", c.name)
			}
		}
		st.Close() // writes a fresh snapshot
		st, kb = reopen(t, dir)
		if !kb.restored {
			t.Errorf("%s: no fresh snapshot written after the rebuild", c.name)
		}
		st.Close()
	}
}

func lastFrameStart(t *testing.T, b []byte) int {
	t.Helper()
	off, last := 0, -1
	for off+frameHeader <= len(b) {
		n := int(binary.LittleEndian.Uint32(b[off:]))
		last = off
		off += frameHeader + n
	}
	if last < 0 || off != len(b) {
		t.Fatalf("not a clean log (%d of %d)", off, len(b))
	}
	return last
}

// Knowledge bases written by Atoll 0.1 hold JSON records: still read, and
// new records are appended in the binary form beside them.
func TestJSONRecordsStillRead(t *testing.T) {
	dir := t.TempDir()
	st, _ := Open(dir)
	st.Create("kb", "")
	st.Close()
	var frames []byte
	for _, r := range []docRecord{
		{Op: "put", Doc: &Doc{Path: "/a.md", Status: StatusOK, Chunks: []Chunk{{ID: "a1", Key: TextKey("apples are red"), Text: "apples are red", End: 14}}}},
		{Op: "put", Doc: &Doc{Path: "/b.md", Status: StatusOK, Chunks: []Chunk{{ID: "b1", Key: TextKey("bananas are yellow"), Text: "bananas are yellow", End: 18}}}},
		{Op: "del", Path: "/a.md"},
	} {
		p, _ := json.Marshal(r)
		frames = binary.LittleEndian.AppendUint32(frames, uint32(len(p)))
		frames = binary.LittleEndian.AppendUint32(frames, crc32.Checksum(p, crcTable))
		frames = append(frames, p...)
	}
	os.WriteFile(filepath.Join(dir, "kb", "kb", "docs.log"), frames, 0o600)
	st, kb := reopen(t, dir)
	if docs := kb.Docs(); len(docs) != 1 || docs[0].Path != "/b.md" {
		t.Fatalf("docs from JSON records: %+v", docs)
	}
	if err := kb.Put(doc("/c.md", "cherries are dark")); err != nil {
		t.Fatal(err)
	}
	st.Close()
	st, kb = reopen(t, dir)
	defer st.Close()
	if hits := kb.Search(rag.Query{Text: "bananas cherries", K: 5}); len(hits) != 2 {
		t.Fatalf("after mixing JSON and binary records: %+v", hits)
	}
}

func TestRecordRoundTrip(t *testing.T) {
	in := Doc{Path: "/p/数据.pdf", Name: "数据.pdf", Format: "pdf", Hash: "h", Size: 1 << 40, Pages: 3, Status: StatusFailed,
		Error: "is encrypted", Warnings: []string{"w1", ""}, Root: "/p",
		Chunks: []Chunk{{ID: "i", Key: "k", Page: 2, Headings: []string{"A", "B"}, Start: 5, End: 9, Text: "正文 text"}, {}}}
	out, err := decodeRecord(encodePut(&in))
	if err != nil || out.Op != "put" || !reflect.DeepEqual(*out.Doc, in) {
		t.Fatalf("round trip: %v\n%+v\n%+v", err, out.Doc, in)
	}
	b := encodePut(&in)
	for i := 1; i < len(b); i++ {
		if _, err := decodeRecord(b[:i]); err == nil {
			t.Fatalf("a record cut at %d of %d decoded", i, len(b))
		}
	}
	if d, err := decodeRecord(encodeDel("/x")); err != nil || d.Op != "del" || d.Path != "/x" {
		t.Fatalf("del: %+v %v", d, err)
	}
}

func TestMaybeCheckpointWaitsForEnoughChange(t *testing.T) {
	dir := t.TempDir()
	st, _ := Open(dir)
	defer st.Close()
	st.Create("kb", "")
	kb, _ := st.KB("kb")
	snap := filepath.Join(dir, "kb", "kb", snapFile)
	r := rand.New(rand.NewPCG(1, 1))
	put := func(i, chunks int) {
		d := Doc{Path: fmt.Sprintf("/d/%d.md", i), Hash: fmt.Sprint(i), Status: StatusOK}
		for c := 0; c < chunks; c++ {
			d.Chunks = append(d.Chunks, Chunk{Text: benchText(r, i*1000+c)})
		}
		if err := kb.Put(d); err != nil {
			t.Fatal(err)
		}
	}
	for i := 0; i < 10; i++ {
		put(i, 100)
	}
	if err := kb.MaybeCheckpoint(); err != nil {
		t.Fatal(err)
	}
	first, err := os.Stat(snap)
	if err != nil {
		t.Fatalf("1000 new chunks and no snapshot: %v", err)
	}
	put(100, 20) // 2% of the chunks: not worth rewriting the snapshot
	kb.MaybeCheckpoint()
	if fi, _ := os.Stat(snap); fi.Size() != first.Size() {
		t.Fatal("snapshot rewritten after a small change")
	}
	put(101, 40) // now 6% since the last one
	kb.MaybeCheckpoint()
	if fi, _ := os.Stat(snap); fi.Size() == first.Size() {
		t.Fatal("snapshot not rewritten after 6% of the chunks changed")
	}
}

// Any bytes in docs.log decode to a record or an error, never a panic, and
// a record that decodes encodes back to the same bytes.
func FuzzDecodeRecord(f *testing.F) {
	f.Add(encodePut(&Doc{Path: "/a", Chunks: []Chunk{{ID: "i", Key: "k", Text: "t", Headings: []string{"h"}}}}))
	f.Add(encodeDel("/a"))
	f.Add(encodePut(&Doc{Path: "/s", OCRPending: []int{2}, Chunks: []Chunk{{Text: "t", Boxes: []rag.Box{{Page: 1, X1: 0.5, Y1: 0.5}}}}}))
	f.Add([]byte(`{"op":"put","doc":{"path":"/j"}}`))
	f.Add([]byte{recPut, 0xff, 0xff, 0xff, 0xff, 0x0f})
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := decodeRecord(b)
		if err != nil || len(b) == 0 || (b[0] != recPut && b[0] != recPutOCR) {
			return
		}
		again := encodePut(r.Doc)
		back, err := decodeRecord(again)
		if err != nil || !reflect.DeepEqual(back.Doc, r.Doc) {
			t.Fatalf("re-encoded record differs: %v", err)
		}
	})
}

// Searches, writes and checkpoints at once: no deadlock, and (under -race)
// no data race; the last state restores.
func TestCheckpointWhileBusy(t *testing.T) {
	dir := t.TempDir()
	st, _ := Open(dir)
	st.Create("kb", "m")
	kb, _ := st.KB("kb")
	snapKB(t, kb, rand.New(rand.NewPCG(2, 2)), 0, 10)
	done := make(chan struct{})
	errs := make(chan error, 3)
	go func() {
		for i := 0; ; i++ {
			select {
			case <-done:
				errs <- nil
				return
			default:
				kb.Search(rag.Query{Text: "cake order", K: 3})
			}
		}
	}()
	go func() {
		for i := 0; i < 200; i++ {
			if err := kb.Checkpoint(); err != nil {
				errs <- err
				return
			}
		}
		errs <- nil
	}()
	for i := 0; i < 200; i++ {
		if err := kb.Put(doc(fmt.Sprintf("/busy/%d.md", i%50), fmt.Sprintf("busy text %d chocolate", i))); err != nil {
			t.Fatal(err)
		}
	}
	close(done)
	for i := 0; i < 2; i++ {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	want := answers(t, kb)
	st.Close()
	st, kb = reopen(t, dir)
	defer st.Close()
	if !kb.restored || !reflect.DeepEqual(answers(t, kb), want) {
		t.Fatalf("after a busy run: restored %v, answers equal %v", kb.restored, reflect.DeepEqual(answers(t, kb), want))
	}
}

// When a new embedding model takes over, only the vectors change: the index
// then answers exactly as one built from scratch with the new model, and a
// search during the switch never sees the two models' vectors mixed.
func TestModelSwitchSwapsOnlyVectors(t *testing.T) {
	dir := t.TempDir()
	st, _ := Open(dir)
	defer st.Close()
	st.Create("kb", "old")
	kb, _ := st.KB("kb")
	r := rand.New(rand.NewPCG(4, 4))
	for d := 0; d < 40; d++ {
		doc := Doc{Path: fmt.Sprintf("/docs/f%03d.md", d), Hash: fmt.Sprint(d), Status: StatusOK}
		for c := 0; c < 10; c++ {
			doc.Chunks = append(doc.Chunks, Chunk{Text: benchText(r, d*100+c)})
		}
		if err := kb.Put(doc); err != nil {
			t.Fatal(err)
		}
	}
	embed := func(dims int) {
		t.Helper()
		var keys []string
		var vecs [][]float32
		for _, c := range kb.Pending() {
			keys = append(keys, c.Key)
			vecs = append(vecs, benchVec(r)[:dims])
		}
		if err := kb.AddVectors(context.Background(), keys, vecs); err != nil {
			t.Fatal(err)
		}
	}
	embed(32)
	if err := kb.SetEmbedModel("new"); err != nil {
		t.Fatal(err)
	}
	embed(48) // completes the new set: it takes over
	if m := kb.Meta(); m.EmbedModel != "new" || m.Dims != 48 || !kb.Index().HasVectors() {
		t.Fatalf("the new model did not take over: %+v", m)
	}
	if got, want := answers(t, kb), rebuilt(t, dir); !reflect.DeepEqual(got, want) {
		t.Fatal("after the switch the index answers differently from one built with the new model")
	}
}
