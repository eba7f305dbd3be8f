package store

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"atoll/rag"
)

// Two Stores on one folder stand for two processes: each has its own file
// descriptors, and OS file locks conflict between descriptors as between
// processes. (cmd/atoll's concurrency tests run real processes.)

func openStore(t *testing.T, dir string) *Store {
	t.Helper()
	st, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(st.Close)
	return st
}

func mustKB(t *testing.T, st *Store, name string) *KB {
	t.Helper()
	kb, err := st.KB(name)
	if err != nil {
		t.Fatal(err)
	}
	return kb
}

func docPaths(kb *KB) map[string]bool {
	out := map[string]bool{}
	for _, d := range kb.Docs() {
		out[d.Path] = true
	}
	return out
}

func TestTwoWritersLoseNothing(t *testing.T) {
	for round := 0; round < 3; round++ {
		dir := t.TempDir()
		a, b := openStore(t, dir), openStore(t, dir)
		if _, err := a.Create("same", ""); err != nil {
			t.Fatal(err)
		}
		kbs := []*KB{mustKB(t, a, "same"), mustKB(t, b, "same")}
		var wg sync.WaitGroup
		errs := make(chan error, 2)
		for w, kb := range kbs {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := 0; i < 60; i++ {
					p := fmt.Sprintf("/w%d/f%02d.txt", w, i)
					if err := kb.Put(doc(p, fmt.Sprintf("writer %d file %d words%d", w, i, i))); err != nil {
						errs <- err
						return
					}
				}
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatal(err)
		}
		c := openStore(t, dir)
		got := docPaths(mustKB(t, c, "same"))
		for w := 0; w < 2; w++ {
			for i := 0; i < 60; i++ {
				if p := fmt.Sprintf("/w%d/f%02d.txt", w, i); !got[p] {
					t.Fatalf("round %d: %s was reported stored and is missing (%d of 120 present)", round, p, len(got))
				}
			}
		}
		// Each writer also sees the other's documents, without reopening.
		for w, kb := range kbs {
			if n := len(kb.Docs()); n != 120 {
				t.Fatalf("round %d: writer %d sees %d documents, want 120", round, w, n)
			}
		}
	}
}

func TestReaderLeavesAWriteInProgressAlone(t *testing.T) {
	dir := t.TempDir()
	w := openStore(t, dir)
	w.Create("kb", "")
	kb := mustKB(t, w, "kb")
	if err := kb.Put(doc("/a.txt", "alpha apples")); err != nil {
		t.Fatal(err)
	}
	// The writer holds the lock and has written the first half of a record.
	release, err := w.lockFor("kb").acquire()
	if err != nil {
		t.Fatal(err)
	}
	logPath := filepath.Join(dir, "kb", "kb", "docs.log")
	full := frame(encodePut(&Doc{Path: "/b.txt", Name: "b.txt", Status: StatusOK, Chunks: []Chunk{{ID: "x", Key: TextKey("beta bananas"), Text: "beta bananas", End: 12}}}))
	f, _ := os.OpenFile(logPath, os.O_WRONLY|os.O_APPEND, 0)
	f.Write(full[:len(full)/2])
	before, _ := os.Stat(logPath)

	r := openStore(t, dir) // another process opens it to search
	rkb := mustKB(t, r, "kb")
	if n := len(rkb.Docs()); n != 1 {
		t.Fatalf("reader sees %d documents, want 1", n)
	}
	if after, _ := os.Stat(logPath); after.Size() != before.Size() {
		t.Fatalf("a reader cut another process's write in progress: %d -> %d bytes", before.Size(), after.Size())
	}
	// The write completes; the reader follows it without reopening.
	f.Write(full[len(full)/2:])
	f.Close()
	kb.log.size += int64(len(full)) // the writer's own bookkeeping, as append does
	release()
	if hits := rkb.Search(rag.Query{Text: "bananas", K: 3}); len(hits) != 1 {
		t.Fatalf("reader did not follow the completed write: %+v", hits)
	}
}

func frame(p []byte) []byte {
	var out []byte
	out = appendFrame(out, p)
	return out
}

func TestTornTailCutOnlyUnderTheLock(t *testing.T) {
	dir := t.TempDir()
	w := openStore(t, dir)
	w.Create("kb", "")
	kb := mustKB(t, w, "kb")
	kb.Put(doc("/a.txt", "alpha apples"))
	logPath := filepath.Join(dir, "kb", "kb", "docs.log")
	good, _ := os.Stat(logPath)
	// A writer crashed mid-record (its lock died with it).
	f, _ := os.OpenFile(logPath, os.O_WRONLY|os.O_APPEND, 0)
	f.Write([]byte{200, 0, 0, 0, 1, 2, 3})
	f.Close()
	// The next write, in another process, cuts the torn tail and lands on a
	// frame boundary.
	o := openStore(t, dir)
	okb := mustKB(t, o, "kb")
	if err := okb.Put(doc("/b.txt", "beta bananas")); err != nil {
		t.Fatal(err)
	}
	if err := kb.Put(doc("/c.txt", "gamma grapes")); err != nil {
		t.Fatal(err)
	}
	final := openStore(t, dir)
	if got := docPaths(mustKB(t, final, "kb")); len(got) != 3 {
		t.Fatalf("after a torn tail and two writers: %v (log was %d bytes before the tear)", got, good.Size())
	}
}

func TestCreatingOneKnowledgeBaseTwiceAtOnce(t *testing.T) {
	for i := 0; i < 20; i++ {
		dir := t.TempDir()
		a, b := openStore(t, dir), openStore(t, dir)
		var wg sync.WaitGroup
		errs := make(chan error, 2)
		for _, st := range []*Store{a, b} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if _, err := st.Create("same", "m"); err != nil {
					errs <- err
					return
				}
				kb, err := st.KB("same")
				if err != nil {
					errs <- err
					return
				}
				errs <- kb.Put(doc(fmt.Sprintf("/%p.txt", st), "text"))
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				t.Fatalf("round %d: %v", i, err)
			}
		}
		c := openStore(t, dir)
		if got := docPaths(mustKB(t, c, "same")); len(got) != 2 {
			t.Fatalf("round %d: %d documents, want 2", i, len(got))
		}
		a.Close()
		b.Close()
		c.Close() // a snapshot may be being written in the background until then
		if left, _ := filepath.Glob(filepath.Join(dir, "kb", "same", "*tmp*")); len(left) > 0 {
			t.Fatalf("temporary files left behind: %v", left)
		}
	}
}

func TestWaitingWriterSaysWhoItWaitsFor(t *testing.T) {
	dir := t.TempDir()
	a := openStore(t, dir)
	a.SetLockHolder("the Atoll window")
	a.Create("bakery", "")
	release, err := a.lockFor("bakery").acquire()
	if err != nil {
		t.Fatal(err)
	}
	b := openStore(t, dir)
	var mu sync.Mutex
	var msgs []string
	b.OnLockWait(func(m string) { mu.Lock(); msgs = append(msgs, m); mu.Unlock() })
	kb := mustKB(t, b, "bakery")
	done := make(chan error, 1)
	go func() { done <- kb.Put(doc("/x.txt", "cake")) }()
	deadline := time.Now().Add(30 * time.Second)
	for {
		mu.Lock()
		n := len(msgs)
		mu.Unlock()
		if n > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the waiting writer never said it was waiting")
		}
		time.Sleep(5 * time.Millisecond)
	}
	if !strings.Contains(msgs[0], "the Atoll window") || !strings.Contains(msgs[0], "bakery") {
		t.Fatalf("wait message: %q", msgs[0])
	}
	select {
	case err := <-done:
		t.Fatalf("the write went ahead while another process held the lock: %v", err)
	default:
	}
	release()
	if err := <-done; err != nil {
		t.Fatal(err)
	}

	// A holder that never lets go: a clear error after the time limit.
	release, _ = a.lockFor("bakery").acquire()
	defer release()
	b.SetLockWait(50 * time.Millisecond)
	err = kb.Put(doc("/y.txt", "more cake"))
	if err == nil || !strings.Contains(err.Error(), "the Atoll window") || !strings.Contains(err.Error(), "try again") {
		t.Fatalf("after the time limit: %v", err)
	}
}

func TestFollowsCompactionAndModelSwitchByAnotherProcess(t *testing.T) {
	dir := t.TempDir()
	a := openStore(t, dir)
	a.Create("kb", "")
	akb := mustKB(t, a, "kb")
	for i := 0; i < 5; i++ {
		akb.Put(doc(fmt.Sprintf("/d%d.txt", i), fmt.Sprintf("document number %d", i)))
	}
	b := openStore(t, dir)
	bkb := mustKB(t, b, "kb")
	// b replaces the log (as compaction does) and switches the model.
	bkb.mu.Lock()
	release, _ := bkb.lk.acquire()
	if err := bkb.compact(); err != nil {
		t.Fatal(err)
	}
	release()
	bkb.mu.Unlock()
	if err := bkb.SetEmbedModel("m1"); err != nil {
		t.Fatal(err)
	}
	keys := []string{}
	vecs := [][]float32{}
	for _, c := range bkb.Pending() {
		keys = append(keys, c.Key)
		vecs = append(vecs, []float32{1, 0, 0})
	}
	if err := bkb.AddVectors(context.Background(), keys, vecs); err != nil {
		t.Fatal(err)
	}
	if err := bkb.Put(doc("/new.txt", "a newer document")); err != nil {
		t.Fatal(err)
	}
	// a follows without reopening, and its own next write lands after b's.
	if m := akb.Meta().EmbedModel; m != "m1" {
		t.Fatalf("a did not follow the model switch: %q", m)
	}
	if _, ok := akb.Vector(keys[0]); !ok {
		t.Fatal("a did not follow the vectors b stored")
	}
	if err := akb.Put(doc("/last.txt", "the last document")); err != nil {
		t.Fatal(err)
	}
	if got := docPaths(mustKB(t, openStore(t, dir), "kb")); len(got) != 7 {
		t.Fatalf("%d documents, want 7: %v", len(got), got)
	}
}

func TestRemoveWaitsForTheWriterAndOthersNotice(t *testing.T) {
	dir := t.TempDir()
	a, b := openStore(t, dir), openStore(t, dir)
	a.Create("kb", "")
	akb := mustKB(t, a, "kb")
	akb.Put(doc("/a.txt", "alpha"))
	if err := b.Remove("kb"); err != nil {
		t.Fatal(err)
	}
	err := akb.Put(doc("/b.txt", "beta"))
	if err == nil || !strings.Contains(err.Error(), "deleted") {
		t.Fatalf("writing to a knowledge base another process deleted: %v", err)
	}
}

// BenchmarkLock: what the writer lock costs. acquire-release is one turn of
// the lock (flock, the holder note, unlock); put is a one-chunk document
// stored durably (append + fsync), which takes the lock once. A command
// takes the lock once per document stored and once per batch of vectors;
// commands that only read (search, ask, kb list) never take it.
func BenchmarkLock(b *testing.B) {
	dir := b.TempDir()
	st, err := Open(dir)
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	st.Create("kb", "")
	kb, err := st.KB("kb")
	if err != nil {
		b.Fatal(err)
	}
	b.Run("acquire-release", func(b *testing.B) {
		l := st.lockFor("kb")
		for i := 0; i < b.N; i++ {
			release, err := l.acquire()
			if err != nil {
				b.Fatal(err)
			}
			release()
		}
	})
	b.Run("put", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			if err := kb.Put(doc(fmt.Sprintf("/b/%d.txt", i), fmt.Sprintf("benchmark text %d", i))); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("follow-unchanged", func(b *testing.B) {
		// A read's check that no other process wrote: a few stat calls.
		for i := 0; i < b.N; i++ {
			kb.follow()
		}
	})
}
