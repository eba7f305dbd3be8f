package knowledge

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"atoll/store"
)

// waitFor polls cond until it holds, failing after a generous deadline.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// A watched folder: created, modified, renamed and deleted files, a folder
// moved in, and a large file written slowly (never stored half-written),
// each reflected in the knowledge base.
func TestWatchFolder(t *testing.T) {
	dir := t.TempDir()
	write := func(name, text string) {
		t.Helper()
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("a.md", "# Hours\n\nWe open at eight every morning.\n")
	st, err := store.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	var mu sync.Mutex
	var batches []Batch
	sizes := map[string]int64{}
	w := &Watcher{In: New(st, nil), KB: "kb", Roots: []string{dir}, Rescan: true, Debounce: 100 * time.Millisecond, Stable: 500 * time.Millisecond,
		OnBatch: func(b Batch) { mu.Lock(); batches = append(batches, b); mu.Unlock() },
		onObserve: func(p string, n int64) {
			mu.Lock()
			sizes[p] = n
			mu.Unlock()
		}}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("watch: %v", err)
		}
	}()
	doc := func(name string) (store.Doc, bool) {
		kb, err := st.KB("kb")
		if err != nil {
			return store.Doc{}, false
		}
		return kb.Doc(filepath.Join(dir, name))
	}
	has := func(name string) func() bool { return func() bool { _, ok := doc(name); return ok } }
	gone := func(name string) func() bool { return func() bool { _, ok := doc(name); return !ok } }
	text := func(name string) string {
		d, _ := doc(name)
		var sb strings.Builder
		for _, c := range d.Chunks {
			sb.WriteString(c.Text)
		}
		return sb.String()
	}

	waitFor(t, "the rescan to store a.md", has("a.md"))
	write("b.md", "# Cakes\n\nChocolate cake, 38 euros.\n")
	waitFor(t, "a new file", has("b.md"))
	write("a.md", "# Hours\n\nWe open at nine every morning.\n")
	waitFor(t, "a modified file", func() bool { return strings.Contains(text("a.md"), "nine") })
	if err := os.Rename(filepath.Join(dir, "b.md"), filepath.Join(dir, "c.md")); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "a renamed file", func() bool { return has("c.md")() && gone("b.md")() })
	if err := os.Remove(filepath.Join(dir, "a.md")); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "a deleted file", gone("a.md"))
	// A folder made and filled at once: its files raise no events of their
	// own before the folder is watched.
	if err := os.MkdirAll(filepath.Join(dir, "sub"), 0o755); err != nil {
		t.Fatal(err)
	}
	write("sub/d.md", "# Delivery\n\nWe deliver on Saturdays.\n")
	waitFor(t, "a file in a new folder", has("sub/d.md"))
	write("notes.xyz", "not a type Atoll reads")
	write(".hidden.md", "hidden")

	// A large file written slowly: each part is written once the watcher
	// has seen the one before, and the file is never stored half-written.
	big := filepath.Join(dir, "big.txt")
	f, err := os.Create(big)
	if err != nil {
		t.Fatal(err)
	}
	var written int64
	for i := range 6 {
		part := strings.Repeat(fmt.Sprintf("Part %d of the price list. ", i), 20000) + "\n\n"
		n, err := f.WriteString(part)
		if err != nil {
			t.Fatal(err)
		}
		written += int64(n)
		waitFor(t, "the watcher to see the file grow", func() bool {
			mu.Lock()
			defer mu.Unlock()
			return sizes[big] == written
		})
		if _, ok := doc("big.txt"); ok {
			t.Fatalf("big.txt was stored after part %d of 6, while still being written", i+1)
		}
	}
	f.Close()
	waitFor(t, "the large file", has("big.txt"))
	// The batch is reported after its documents are stored: wait for it too.
	waitFor(t, "the large file's batch", func() bool {
		mu.Lock()
		defer mu.Unlock()
		for _, b := range batches {
			if slices.Contains(b.Changed, big) {
				return true
			}
		}
		return false
	})
	if !strings.Contains(text("big.txt"), "Part 5 of the price list") {
		t.Fatal("big.txt was stored without its last part")
	}
	mu.Lock()
	stores := 0
	for _, b := range batches {
		for _, p := range b.Changed {
			if p == big {
				stores++
			}
			if strings.HasSuffix(p, ".xyz") || strings.HasSuffix(p, ".hidden.md") {
				t.Errorf("stored %s", p)
			}
		}
	}
	mu.Unlock()
	if stores != 1 {
		t.Fatalf("big.txt stored %d times, want once (whole)", stores)
	}
	srcs, _ := Sources(st, "kb")
	if len(srcs) != 1 || srcs[0].Kind != SourceFolder {
		t.Fatalf("sources %+v", srcs)
	}
}

// The watch limits are reported in a sentence naming the setting.
func TestWatchLimitSentence(t *testing.T) {
	err := WatchLimitError("/data/docs", fmt.Errorf("add: %w", syscall.ENOSPC))
	if !strings.Contains(err.Error(), "fs.inotify.max_user_watches") || !strings.Contains(err.Error(), "sudo sysctl") {
		t.Fatalf("%v", err)
	}
	err = WatchLimitError("/data/docs", syscall.EMFILE)
	if !strings.Contains(err.Error(), "fs.inotify.max_user_instances") {
		t.Fatalf("%v", err)
	}
}
