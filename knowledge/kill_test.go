package knowledge

import (
	"context"
	"fmt"
	"hash/fnv"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"atoll/rag"
	"atoll/store"
)

// hashEmbedder is a deterministic in-process embedder; delay makes the
// embedding phase long enough to be killed in.
type hashEmbedder struct{ delay time.Duration }

func (h hashEmbedder) EmbedBatched(ctx context.Context, model string, texts []string, batch, conc int, progress func(int)) ([][]float32, error) {
	out := make([][]float32, len(texts))
	for i, t := range texts {
		if h.delay > 0 {
			select {
			case <-ctx.Done():
				return nil, ctx.Err()
			case <-time.After(h.delay):
			}
		}
		v := make([]float32, 16)
		var n float64
		for d := range v {
			f := fnv.New32a()
			fmt.Fprintf(f, "%d:%s", d, t)
			v[d] = float32(f.Sum32()%1000) - 500
			n += float64(v[d] * v[d])
		}
		for d := range v {
			v[d] /= float32(math.Sqrt(n))
		}
		out[i] = v
		if progress != nil {
			progress(i + 1)
		}
	}
	return out, nil
}

func (h hashEmbedder) Embed(ctx context.Context, model string, texts []string) ([][]float32, error) {
	return h.EmbedBatched(ctx, model, texts, len(texts), 1, nil)
}

// TestMain doubles as the child process of TestKillAnywhere.
func TestMain(m *testing.M) {
	if data := os.Getenv("ATOLL_KILL_CHILD_DATA"); data != "" {
		st, err := store.Open(data)
		if err != nil {
			os.Exit(3)
		}
		in := New(st, hashEmbedder{delay: 2 * time.Millisecond})
		in.EmbedBatch, in.EmbedConcurrency = 4, 1
		_, err = in.Run(context.Background(), "child", "kb", "emb", []string{os.Getenv("ATOLL_KILL_CHILD_DOCS")}, nil)
		if err != nil {
			os.Exit(4)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

func makeDocs(t testing.TB, n int) string {
	dir := t.TempDir()
	for i := 0; i < n; i++ {
		var b strings.Builder
		fmt.Fprintf(&b, "# Document %d\n\n", i)
		for p := 0; p < 6; p++ {
			fmt.Fprintf(&b, "Paragraph %d of document %d talks about topic%d and item%d in some detail. %s\n\n", p, i, i, p, strings.Repeat("More words here. ", 20))
		}
		os.WriteFile(filepath.Join(dir, fmt.Sprintf("doc%03d.md", i)), []byte(b.String()), 0o644)
	}
	return dir
}

// waitAndKill starts the child and SIGKILLs it once ready() is true.
func waitAndKill(t *testing.T, data, docs string, ready func() bool) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "ATOLL_KILL_CHILD_DATA="+data, "ATOLL_KILL_CHILD_DOCS="+docs)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(60 * time.Second)
	for !ready() {
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			t.Fatal("the child never reached the point to kill it at")
		}
		time.Sleep(2 * time.Millisecond)
	}
	cmd.Process.Signal(syscall.SIGKILL)
	cmd.Wait()
}

func checkConsistent(t *testing.T, data string) (docs int) {
	t.Helper()
	st, err := store.Open(data)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	kb, err := st.KB("kb")
	if err != nil {
		t.Fatalf("knowledge base unreadable after kill: %v", err)
	}
	ids := map[string]bool{}
	for _, d := range kb.Docs() {
		full, _ := kb.Doc(d.Path)
		if full.Status != store.StatusOK || len(full.Chunks) == 0 {
			t.Fatalf("half-written document %s: %+v", d.Path, d)
		}
		for _, c := range full.Chunks {
			if ids[c.ID] {
				t.Fatalf("duplicate chunk %s", c.ID)
			}
			ids[c.ID] = true
		}
	}
	if kb.Index().Len() != len(ids) {
		t.Fatalf("index holds %d passages for %d chunks", kb.Index().Len(), len(ids))
	}
	if len(ids) > 0 && len(kb.Search(rag.Query{Text: "topic1 item2", K: 3})) == 0 {
		t.Fatal("search fails after kill")
	}
	return len(kb.Docs())
}

// TestKillAnywhere kills a real ingest process with SIGKILL during extraction
// and again during embedding; each time the knowledge base must open with no
// duplicate or half-written chunk, and the next run must finish the job.
func TestKillAnywhere(t *testing.T) {
	const n = 120
	docs := makeDocs(t, n)
	data := t.TempDir()
	logPath := filepath.Join(data, "kb", "kb", "docs.log")
	size := func(p string) int64 {
		fi, err := os.Stat(p)
		if err != nil {
			return 0
		}
		return fi.Size()
	}
	// 1. During extraction: a few files stored, most not.
	waitAndKill(t, data, docs, func() bool { return size(logPath) > 20_000 })
	got := checkConsistent(t, data)
	if got == 0 || got >= n {
		t.Fatalf("kill should land mid-extraction: %d of %d files stored", got, n)
	}
	// 2. During embedding.
	vecPath := filepath.Join(data, "kb", "kb", "vectors-emb.log")
	waitAndKill(t, data, docs, func() bool { return size(vecPath) > 5_000 })
	if got := checkConsistent(t, data); got != n {
		t.Fatalf("after the second run all %d files should be stored, got %d", n, got)
	}
	// 3. Finish in-process: nothing re-read, everything embedded.
	st, _ := store.Open(data)
	defer st.Close()
	in := New(st, hashEmbedder{})
	sum, err := in.Run(context.Background(), "final", "kb", "emb", []string{docs}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if sum.Skipped != n || sum.OK != 0 || sum.Pending != 0 {
		t.Fatalf("resume: %+v", sum)
	}
}

func TestCancelStopsCleanly(t *testing.T) {
	const total = 300
	docs := makeDocs(t, total)
	st, _ := store.Open(t.TempDir())
	defer st.Close()
	in := New(st, hashEmbedder{delay: time.Millisecond})
	ctx, cancel := context.WithCancel(context.Background())
	sum, err := in.Run(ctx, "j", "kb", "emb", []string{docs}, func(p Progress) {
		if p.FilesDone >= 1 {
			cancel()
		}
	})
	if err != nil || !sum.Cancelled {
		t.Fatalf("cancel: %+v %v", sum, err)
	}
	kb, _ := st.KB("kb")
	kept := len(kb.Docs())
	if kept == 0 || kept == total {
		t.Fatalf("cancel should keep the finished files only: %d of %d", kept, total)
	}
	sum, err = in.Run(context.Background(), "j2", "kb", "emb", []string{docs}, nil)
	if err != nil || sum.Skipped != kept || sum.OK != total-kept || sum.Pending != 0 {
		t.Fatalf("resume after cancel (kept %d): %+v %v", kept, sum, err)
	}
}
