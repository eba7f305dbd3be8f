package rag

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"runtime"
	"sort"
	"strconv"
	"sync"
	"testing"
	"time"

	chromem "github.com/philippgille/chromem-go"
)

// The vector comparison: our VectorIndex against chromem-go's exhaustive
// QueryEmbedding and a plain float dot-product scan, on the same seeded
// random unit vectors and queries. chromem-go is imported only here, in a
// test file: the rag package itself never depends on it.

const (
	benchDims    = 768
	benchQueries = 100
	benchK       = 10
)

type vectorSet struct {
	n       int
	data    [][]float32
	queries [][]float32
	truth   [][]int // exact top-k per query
}

var (
	setsMu sync.Mutex
	sets   = map[int]*vectorSet{}
)

// benchSet builds (once per size) n random unit vectors, the queries and
// their exact top-k.
func benchSet(n int) *vectorSet {
	setsMu.Lock()
	defer setsMu.Unlock()
	if s := sets[n]; s != nil {
		return s
	}
	r := rand.New(rand.NewPCG(uint64(n), 768))
	s := &vectorSet{n: n, data: randomSet(r, n, benchDims), queries: randomSet(r, benchQueries, benchDims)}
	s.truth = make([][]int, len(s.queries))
	var wg sync.WaitGroup
	for w := 0; w < runtime.NumCPU(); w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := w; i < len(s.queries); i += runtime.NumCPU() {
				s.truth[i] = exactTop(s.data, s.queries[i], benchK)
			}
		}(w)
	}
	wg.Wait()
	sets[n] = s
	return s
}

// searcher is one contender: build it, then query it.
type searcher struct {
	name  string
	build func(s *vectorSet) (query func(q []float32) []int, bytesPerChunk float64)
}

func contenders() []searcher {
	return []searcher{
		{"atoll", buildOurs},
		{"chromem-go", buildChromem},
		{"scan", buildScan},
	}
}

func buildOurs(s *vectorSet) (func([]float32) []int, float64) {
	vi := NewVectorIndex()
	for i, v := range s.data {
		vi.Set(i, v)
	}
	return func(q []float32) []int {
		hs := vi.Search(q, benchK, nil)
		out := make([]int, len(hs))
		for i, h := range hs {
			out[i] = h.Key
		}
		return out
	}, float64(vi.BytesPerVector())
}

func buildScan(s *vectorSet) (func([]float32) []int, float64) {
	return func(q []float32) []int { return exactTop(s.data, q, benchK) }, float64(benchDims * 4)
}

// refuseEmbedding is the embedding function chromem-go gets: never nil
// (nil falls back to OpenAI's API), and it refuses, since every vector here
// is precomputed.
func refuseEmbedding(context.Context, string) ([]float32, error) {
	return nil, errors.New("benchmark: embeddings are precomputed")
}

func buildChromem(s *vectorSet) (func([]float32) []int, float64) {
	ctx := context.Background()
	before := heapInUse()
	db := chromem.NewDB()
	col, err := db.CreateCollection("bench", nil, refuseEmbedding)
	if err != nil {
		panic(err)
	}
	docs := make([]chromem.Document, len(s.data))
	for i, v := range s.data {
		docs[i] = chromem.Document{ID: strconv.Itoa(i), Embedding: v, Content: "x"}
	}
	if err := col.AddDocuments(ctx, docs, runtime.NumCPU()); err != nil {
		panic(err)
	}
	docs = nil
	// The embeddings are shared with s.data, so count them in explicitly.
	bytes := float64(heapInUse()-before)/float64(len(s.data)) + benchDims*4
	runtime.KeepAlive(db)
	return func(q []float32) []int {
		res, err := col.QueryEmbedding(ctx, q, benchK, nil, nil)
		if err != nil {
			panic(err)
		}
		out := make([]int, len(res))
		for i, r := range res {
			out[i], _ = strconv.Atoi(r.ID)
		}
		return out
	}, bytes
}

func heapInUse() uint64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapInuse
}

type vectorRow struct {
	name          string
	n             int
	p50, p95      time.Duration
	recall        float64
	bytesPerChunk float64
}

// measureAll builds every contender and runs the queries interleaved
// (query i on each in turn), so a burst of load on a shared machine hits
// all of them alike.
func measureAll(cs []searcher, s *vectorSet) []vectorRow {
	type built struct {
		query func([]float32) []int
		bytes float64
		lat   []time.Duration
		rec   float64
	}
	bs := make([]*built, len(cs))
	for i, c := range cs {
		q, bytes := c.build(s)
		q(s.queries[0]) // warm up
		bs[i] = &built{query: q, bytes: bytes}
	}
	for qi, q := range s.queries {
		for _, b := range bs {
			start := time.Now()
			got := b.query(q)
			b.lat = append(b.lat, time.Since(start))
			hs := make([]VectorHit, len(got))
			for j, k := range got {
				hs[j] = VectorHit{Key: k}
			}
			b.rec += recallAt(s.truth[qi], hs)
		}
	}
	rows := make([]vectorRow, len(cs))
	for i, b := range bs {
		sort.Slice(b.lat, func(x, y int) bool { return b.lat[x] < b.lat[y] })
		rows[i] = vectorRow{cs[i].name, s.n, b.lat[len(b.lat)/2], b.lat[len(b.lat)*95/100], b.rec / float64(len(s.queries)), b.bytes}
	}
	return rows
}

func benchSizes() []int {
	sizes := []int{10_000, 100_000}
	if os.Getenv("ATOLL_BENCH_1M") == "1" {
		sizes = append(sizes, 1_000_000)
	}
	return sizes
}

// builtFor keeps one built contender per size: the benchmark function runs
// several times with growing b.N, and building chromem-go's collection of
// 100k documents takes seconds.
var (
	builtMu sync.Mutex
	builtN  int
	builts  = map[string]struct {
		query func([]float32) []int
		bytes float64
	}{}
)

func builtFor(c searcher, s *vectorSet) (func([]float32) []int, float64) {
	builtMu.Lock()
	defer builtMu.Unlock()
	if builtN != s.n {
		clear(builts) // one size at a time: 1M vectors need gigabytes each
		builtN = s.n
		runtime.GC()
	}
	if x, ok := builts[c.name]; ok {
		return x.query, x.bytes
	}
	q, bytes := c.build(s)
	builts[c.name] = struct {
		query func([]float32) []int
		bytes float64
	}{q, bytes}
	return q, bytes
}

func BenchmarkVectorSearch(b *testing.B) {
	for _, n := range benchSizes() {
		for _, c := range contenders() {
			b.Run(fmt.Sprintf("%s/n=%d", c.name, n), func(b *testing.B) {
				s := benchSet(n)
				query, bytes := builtFor(c, s)
				lat := make([]time.Duration, 0, b.N)
				b.ResetTimer()
				for i := 0; i < b.N; i++ {
					start := time.Now()
					query(s.queries[i%len(s.queries)])
					lat = append(lat, time.Since(start))
				}
				b.StopTimer()
				var recall float64
				for i, q := range s.queries {
					got := query(q)
					hs := make([]VectorHit, len(got))
					for j, k := range got {
						hs[j] = VectorHit{Key: k}
					}
					recall += recallAt(s.truth[i], hs)
				}
				sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
				b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
				b.ReportMetric(float64(lat[len(lat)*95/100].Microseconds())/1000, "p95-ms")
				b.ReportMetric(recall/float64(len(s.queries)), "recall@10")
				b.ReportMetric(bytes, "bytes/chunk")
			})
		}
	}
}

// BenchmarkVectorReport prints the comparison as a markdown table between
// <!-- vector-table --> markers for `make bench` (run it with -benchtime 1x).
func BenchmarkVectorReport(b *testing.B) {
	if b.N > 1 {
		return // one report per run: the measurements are inside
	}
	fmt.Println("<!-- vector-table -->")
	fmt.Printf("Top-%d by cosine over seeded random unit vectors of %d dims, %d queries each, %d CPUs, %s.\n\n",
		benchK, benchDims, benchQueries, runtime.NumCPU(), runtime.Version())
	fmt.Println("| vectors | index | p50 ms | p95 ms | recall@10 | bytes/chunk |")
	fmt.Println("|---:|---|---:|---:|---:|---:|")
	for _, n := range benchSizes() {
		s := benchSet(n)
		rows := measureAll(contenders(), s)
		for _, r := range rows {
			fmt.Printf("| %d | %s | %.2f | %.2f | %.3f | %.0f |\n", r.n, r.name,
				float64(r.p50.Microseconds())/1000, float64(r.p95.Microseconds())/1000, r.recall, r.bytesPerChunk)
		}
		fmt.Printf("| %d | atoll p50 / chromem-go p50 | %.3f | | | |\n", n, float64(rows[0].p50)/float64(rows[1].p50))
		runtime.GC()
		setsMu.Lock()
		delete(sets, n)
		setsMu.Unlock()
	}
	fmt.Println("<!-- vector-table -->")
}

// BenchmarkVectorStages sweeps the candidate set sizes at 100k (-benchtime 1x).
func BenchmarkVectorStages(b *testing.B) {
	if b.N > 1 {
		return
	}
	t := b
	s := benchSet(100_000)
	vi := NewVectorIndex()
	for i, v := range s.data {
		vi.Set(i, v)
	}
	for _, s1 := range []int{1500, 3000, 4500, 6500} {
		for _, s2 := range []int{128, 256, 512} {
			vi.Stage1, vi.Stage2 = s1, s2
			lat := make([]time.Duration, len(s.queries))
			var recall float64
			for i, q := range s.queries {
				start := time.Now()
				got := vi.Search(q, benchK, nil)
				lat[i] = time.Since(start)
				recall += recallAt(s.truth[i], got)
			}
			sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
			t.Logf("stage1=%d stage2=%d p50=%v p95=%v recall@10=%.3f", s1, s2, lat[len(lat)/2], lat[len(lat)*95/100], recall/float64(len(s.queries)))
		}
	}
}
