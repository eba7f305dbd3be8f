package store

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	chromem "github.com/philippgille/chromem-go"
)

// Opening a knowledge base, measured beside chromem-go's own persistence
// (one gob file per document) on the same chunks. Size: ATOLL_BENCH_CHUNKS
// (default 20000; `make bench` uses 100000), 768 dimensions.

const benchDims = 768

func benchChunks() int {
	if n, err := strconv.Atoi(os.Getenv("ATOLL_BENCH_CHUNKS")); err == nil && n > 0 {
		return n
	}
	return 20000
}

var words = strings.Fields("cake order price delivery chocolate birthday notice shop open hours sugar flour butter recipe weekend holiday gift card refund allergy vegan gluten nut milk egg box size")

func benchText(r *rand.Rand, i int) string {
	var b strings.Builder
	fmt.Fprintf(&b, "Passage %d. ", i)
	for b.Len() < 500 {
		b.WriteString(words[r.IntN(len(words))])
		b.WriteByte(' ')
	}
	return b.String()
}

func benchVec(r *rand.Rand) []float32 {
	v := make([]float32, benchDims)
	var n float64
	for i := range v {
		v[i] = float32(r.NormFloat64())
		n += float64(v[i] * v[i])
	}
	for i := range v {
		v[i] /= float32(math.Sqrt(n))
	}
	return v
}

var fixtureOnce sync.Map // n -> dir

// TestMain removes the benchmark fixtures (hundreds of MB) after the run.
func TestMain(m *testing.M) {
	code := m.Run()
	fixtureOnce.Range(func(_, dir any) bool {
		os.RemoveAll(dir.(string))
		return true
	})
	os.Exit(code)
}

// atollFixture builds (once per process) a knowledge base of n chunks in
// documents of 100 chunks, all embedded.
func atollFixture(b *testing.B, n int) string {
	if d, ok := fixtureOnce.Load(n); ok {
		return d.(string)
	}
	dir, err := os.MkdirTemp("", "atoll-bench-store")
	if err != nil {
		b.Fatal(err)
	}
	st, _ := Open(dir)
	st.Create("kb", "bench-embed")
	kb, _ := st.KB("kb")
	r := rand.New(rand.NewPCG(1, 2))
	for d := 0; d*100 < n; d++ {
		doc := Doc{Path: fmt.Sprintf("/docs/file%05d.txt", d), Hash: strconv.Itoa(d), Status: StatusOK}
		for c := 0; c < 100 && d*100+c < n; c++ {
			doc.Chunks = append(doc.Chunks, Chunk{Text: benchText(r, d*100+c)})
		}
		if err := kb.Put(doc); err != nil {
			b.Fatal(err)
		}
		pend := kb.Pending()
		keys := make([]string, len(pend))
		vecs := make([][]float32, len(pend))
		for i, c := range pend {
			keys[i], vecs[i] = c.Key, benchVec(r)
		}
		if err := kb.AddVectors(context.Background(), keys, vecs); err != nil {
			b.Fatal(err)
		}
	}
	st.Close()
	fixtureOnce.Store(n, dir)
	return dir
}

func dirSize(dir string) int64 {
	var total int64
	filepath.Walk(dir, func(_ string, fi os.FileInfo, err error) error {
		if err == nil && !fi.IsDir() {
			total += fi.Size()
		}
		return nil
	})
	return total
}

func BenchmarkKBOpen(b *testing.B) {
	n := benchChunks()
	b.Run(fmt.Sprintf("atoll/%d", n), func(b *testing.B) {
		dir := atollFixture(b, n)
		b.ResetTimer()
		var filled time.Duration
		var heap uint64
		for i := 0; i < b.N; i++ {
			t0 := time.Now()
			st, _ := Open(dir)
			kb, err := st.KB("kb") // searchable when it returns
			if err != nil || kb.ChunkCount() != n || !kb.restored || !kb.index.HasVectors() {
				b.Fatalf("open: %v (restored from the snapshot: %v)", err, kb != nil && kb.restored)
			}
			b.StopTimer()
			// chromem-go's collection fills in the background; adding
			// vectors waits for it. Reported, not part of the open time.
			<-kb.vectors.filled
			filled += time.Since(t0)
			heap = heapInUse()
			st.Close()
			b.StartTimer()
		}
		b.ReportMetric(float64(filled.Milliseconds())/float64(b.N), "chromem-filled-ms")
		b.ReportMetric(float64(heap)/float64(n), "heap-bytes/chunk")
		b.ReportMetric(float64(dirSize(dir))/float64(n), "disk-bytes/chunk")
	})
	// The same from a cold page cache (the first open after a reboot): the
	// files come from the disk. Needs root to drop the cache; skipped
	// otherwise (a benchmark, not a test).
	b.Run(fmt.Sprintf("atoll-cold/%d", n), func(b *testing.B) {
		dir := atollFixture(b, n)
		for i := 0; i < b.N; i++ {
			b.StopTimer()
			if err := dropPageCache(); err != nil {
				b.Skipf("cannot drop the page cache here: %v", err)
			}
			b.StartTimer()
			st, _ := Open(dir)
			kb, err := st.KB("kb")
			if err != nil || !kb.restored {
				b.Fatalf("open: %v", err)
			}
			b.StopTimer()
			st.Close()
			b.StartTimer()
		}
	})
	// Without a usable snapshot (first open after Atoll 0.1, or after a
	// damaged one): the index is rebuilt; the snapshot written afterwards
	// (on close, or in the background) is timed separately.
	b.Run(fmt.Sprintf("atoll-rebuild/%d", n), func(b *testing.B) {
		dir := b.TempDir()
		copyDir(b, atollFixture(b, n), dir)
		var write time.Duration
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			b.StopTimer()
			os.Remove(filepath.Join(dir, "kb", "kb", snapFile))
			b.StartTimer()
			st, _ := Open(dir)
			kb, err := st.KB("kb")
			if err != nil || kb.ChunkCount() != n || kb.restored || !kb.index.HasVectors() {
				b.Fatalf("open: %v", err)
			}
			b.StopTimer()
			kb.bg.Wait() // the background checkpoint that follows a rebuild
			t0 := time.Now()
			kb.dirty = true
			if err := kb.Checkpoint(); err != nil {
				b.Fatal(err)
			}
			write += time.Since(t0)
			st.Close()
			b.StartTimer()
		}
		b.ReportMetric(float64(write.Milliseconds())/float64(b.N), "snapshot-write-ms")
	})
	b.Run(fmt.Sprintf("chromem-persistent/%d", n), func(b *testing.B) {
		dir := b.TempDir()
		db, err := chromem.NewPersistentDB(dir, false)
		if err != nil {
			b.Fatal(err)
		}
		coll, _ := db.CreateCollection("c", nil, refuseEmbedding)
		r := rand.New(rand.NewPCG(1, 2))
		docs := make([]chromem.Document, 0, 1000)
		for i := 0; i < n; i++ {
			docs = append(docs, chromem.Document{ID: strconv.Itoa(i), Content: benchText(r, i), Embedding: benchVec(r)})
			if len(docs) == cap(docs) || i == n-1 {
				if err := coll.AddDocuments(context.Background(), docs, 4); err != nil {
					b.Fatal(err)
				}
				docs = docs[:0]
			}
		}
		b.ResetTimer()
		loaded := 0
		for i := 0; i < b.N; i++ {
			db, err := chromem.NewPersistentDB(dir, false)
			if err != nil {
				b.Fatalf("chromem open: %v", err)
			}
			loaded = db.GetCollection("c", refuseEmbedding).Count()
		}
		b.ReportMetric(float64(loaded), "chunks-loaded")
		b.ReportMetric(float64(dirSize(dir))/float64(n), "disk-bytes/chunk")
	})
}

// BenchmarkKBAdd1k: adding 1000 chunks (10 files) with their vectors to a
// knowledge base that already holds n.
func BenchmarkKBAdd1k(b *testing.B) {
	n := benchChunks()
	src := atollFixture(b, n)
	b.Run(fmt.Sprintf("atoll/into-%d", n), func(b *testing.B) {
		r := rand.New(rand.NewPCG(3, 4))
		for i := 0; i < b.N; i++ {
			b.StopTimer()
			dir := b.TempDir()
			copyDir(b, src, dir)
			st, _ := Open(dir)
			kb, _ := st.KB("kb")
			docs := make([]Doc, 10)
			for d := range docs {
				docs[d] = Doc{Path: fmt.Sprintf("/new/%d-%d.txt", i, d), Hash: "h", Status: StatusOK}
				for c := 0; c < 100; c++ {
					docs[d].Chunks = append(docs[d].Chunks, Chunk{Text: benchText(r, 1e7+d*100+c)})
				}
			}
			b.StartTimer()
			for _, d := range docs {
				if err := kb.Put(d); err != nil {
					b.Fatal(err)
				}
			}
			pend := kb.Pending()
			keys := make([]string, len(pend))
			vecs := make([][]float32, len(pend))
			for j, c := range pend {
				keys[j], vecs[j] = c.Key, benchVec(r)
			}
			if err := kb.AddVectors(context.Background(), keys, vecs); err != nil {
				b.Fatal(err)
			}
			b.StopTimer()
			st.Close()
		}
	})
}

func copyDir(b testing.TB, src, dst string) {
	filepath.Walk(src, func(p string, fi os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		t := filepath.Join(dst, rel)
		if fi.IsDir() {
			return os.MkdirAll(t, 0o700)
		}
		data, err := os.ReadFile(p)
		if err != nil {
			b.Fatal(err)
		}
		return os.WriteFile(t, data, 0o600)
	})
}

// heapInUse is the live heap after a collection: what an open knowledge
// base holds (vectors, texts, index), measured while it is open.
func heapInUse() uint64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}
