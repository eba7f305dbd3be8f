package rag

import (
	"math"
	"runtime"
	"sort"
	"sync"
)

// VectorIndex finds the stored vectors with the largest dot product with a
// query (cosine similarity for normalised vectors). Keys are small integers
// (the Index's passage slots). It is not safe for concurrent use on its own:
// Index guards it with its lock.
//
// A float scan of 100k × 768 vectors reads 300 MB per query, so search runs
// in three passes over shrinking candidate sets:
//
//  1. every vector as one sign bit per dimension (after centring on the
//     per-dimension mean), scored asymmetrically against the query weighted
//     by each dimension's spread and quantised to 4 bits: four bit planes
//     ANDed with the codes and popcounted, 48 popcounts per 768-dim vector,
//     split across two goroutines;
//  2. the best few thousand as int8 codes (one scale per vector);
//  3. the best few hundred exactly, with the float vectors.
//
// Below signBelow vectors (or when a filter leaves few) the first pass is
// skipped.
type VectorIndex struct {
	dims    int
	words   int // sign-code words per vector
	present []bool
	count   int
	// vecs holds the caller's vectors by key, not copies: the store's
	// vectors are already in memory once, and a second 300 MB copy at 100k
	// chunks doubled both memory and the time to open. Callers must not
	// modify a vector after handing it over.
	vecs   [][]float32
	codes  []int8    // key*dims
	scales []float32 // int8 scale per key
	signs  []uint64  // key*words
	ones   []uint16  // set bits per sign code

	sum       []float64 // running per-dimension sum of present vectors
	mean      []float32 // centre the sign codes were taken around
	spread    []float32 // mean absolute deviation per dimension
	centredAt int       // count when the codes were last re-centred

	// Candidate set sizes; zero means the defaults below.
	Stage1, Stage2 int
}

const signBelow = 4096

// recentreUpTo stops re-centring once the mean is estimated from this many
// vectors: it no longer moves much, and each re-centre re-encodes every
// vector under the Index's write lock (16k × 768 dims: a few milliseconds).
const recentreUpTo = 16384

// NewVectorIndex returns an empty vector index; the first vector fixes the
// dimensions.
func NewVectorIndex() *VectorIndex { return &VectorIndex{} }

// VectorHit is one result: a key and its exact dot product with the query.
type VectorHit struct {
	Key   int
	Score float32
}

// Dims is the vector length, 0 before the first vector.
func (v *VectorIndex) Dims() int { return v.dims }

// Len is the number of vectors held.
func (v *VectorIndex) Len() int { return v.count }

// BytesPerVector is the memory one vector takes across all three forms
// (the floats are the caller's, shared, and counted here once).
func (v *VectorIndex) BytesPerVector() int { return v.dims*4 + 24 + v.dims + v.words*8 + 4 + 2 + 1 }

// Set stores vec under key, replacing any previous vector. It reports false
// (and stores nothing) when the dimensions differ from the first vector's.
func (v *VectorIndex) Set(key int, vec []float32) bool {
	if len(vec) == 0 || key < 0 {
		return false
	}
	if v.dims == 0 {
		v.dims = len(vec)
		v.words = (len(vec) + 63) / 64
		v.sum = make([]float64, v.dims)
		v.mean = make([]float32, v.dims)
		v.spread = make([]float32, v.dims)
		for i := range v.spread {
			v.spread[i] = 1
		}
	}
	if len(vec) != v.dims {
		return false
	}
	v.grow(key + 1)
	if v.present[key] {
		v.Delete(key)
	}
	d := v.dims
	v.vecs[key] = vec
	v.scales[key] = quantise(vec, v.codes[key*d:(key+1)*d])
	v.present[key] = true
	v.count++
	for i, x := range vec {
		v.sum[i] += float64(x)
	}
	if v.count >= 1024 && v.count >= 2*v.centredAt && v.centredAt < recentreUpTo {
		v.recentre()
	} else {
		v.encodeSigns(key)
	}
	return true
}

// SetMany stores many vectors at once (opening a knowledge base): one
// allocation, the int8 codes computed on all cores, and the sign codes
// encoded once around the mean of everything instead of at each doubling.
// It reports how many were stored; vectors of other dimensions are skipped.
func (v *VectorIndex) SetMany(keys []int, vecs [][]float32) int {
	if len(keys) == 0 {
		return 0
	}
	if v.dims == 0 && !v.Set(keys[0], vecs[0]) {
		return 0
	}
	maxKey := 0
	for _, k := range keys {
		maxKey = max(maxKey, k)
	}
	v.grow(maxKey + 1)
	d := v.dims
	// Replace earlier vectors first, sequentially (Delete adjusts the sums).
	take := make([]bool, len(keys))
	for i, k := range keys {
		if k < 0 || len(vecs[i]) != d {
			continue
		}
		if v.present[k] {
			v.Delete(k)
		}
		take[i] = true
	}
	workers := runtime.GOMAXPROCS(0)
	sums := make([][]float64, workers)
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		sums[w] = make([]float64, d)
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			sum := sums[w]
			for i := w; i < len(keys); i += workers {
				if !take[i] {
					continue
				}
				k, vec := keys[i], vecs[i]
				v.vecs[k] = vec
				v.scales[k] = quantise(vec, v.codes[k*d:(k+1)*d])
				for j, x := range vec {
					sum[j] += float64(x)
				}
			}
		}(w)
	}
	wg.Wait()
	n := 0
	for i, k := range keys {
		if take[i] && !v.present[k] {
			v.present[k] = true
			v.count++
			n++
		}
	}
	for _, sum := range sums {
		for j, x := range sum {
			v.sum[j] += x
		}
	}
	if v.count >= 1024 && v.centredAt < recentreUpTo {
		v.recentre()
	} else {
		for i, k := range keys {
			if take[i] {
				v.encodeSigns(k)
			}
		}
	}
	return n
}

// Delete forgets the vector under key.
func (v *VectorIndex) Delete(key int) {
	if key < 0 || key >= len(v.present) || !v.present[key] {
		return
	}
	for i, x := range v.vecs[key] {
		v.sum[i] -= float64(x)
	}
	v.vecs[key] = nil
	v.present[key] = false
	v.count--
}

// Truncate drops keys >= n.
func (v *VectorIndex) Truncate(n int) {
	for k := n; k < len(v.present); k++ {
		v.Delete(k)
	}
	if n < len(v.present) {
		v.present = v.present[:n]
		v.scales = v.scales[:n]
		v.vecs = v.vecs[:n]
		v.codes = v.codes[:n*v.dims]
		v.signs = v.signs[:n*v.words]
		v.ones = v.ones[:n]
	}
}

func (v *VectorIndex) grow(n int) {
	if n <= len(v.present) {
		return
	}
	v.present = extend(v.present, n)
	v.scales = extend(v.scales, n)
	v.ones = extend(v.ones, n)
	v.vecs = extend(v.vecs, n)
	v.codes = extend(v.codes, n*v.dims)
	v.signs = extend(v.signs, n*v.words)
}

// extend lengthens s to n zero-valued elements, growing capacity by
// doubling so a run of Sets costs amortised O(1) copies.
func extend[T any](s []T, n int) []T {
	if n <= len(s) {
		return s
	}
	if n > cap(s) {
		t := make([]T, len(s), max(n, 2*cap(s)))
		copy(t, s)
		s = t
	}
	old := len(s)
	s = s[:n]
	clear(s[old:])
	return s
}

// recentre moves the sign codes' centre to the current mean and re-measures
// each dimension's spread. Real embeddings are not centred on zero, and sign
// bits of uncentred data carry little; doing it at each doubling of the count
// (up to recentreUpTo) keeps the amortised cost per Set at O(dims).
func (v *VectorIndex) recentre() {
	d := v.dims
	for i := range v.mean {
		v.mean[i] = float32(v.sum[i] / float64(v.count))
	}
	dev := make([]float64, d)
	for k, ok := range v.present {
		if !ok {
			continue
		}
		for i, x := range v.vecs[k] {
			dev[i] += math.Abs(float64(x - v.mean[i]))
		}
	}
	for i := range v.spread {
		v.spread[i] = float32(dev[i] / float64(v.count))
	}
	workers := runtime.GOMAXPROCS(0)
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for k := w; k < len(v.present); k += workers {
				if v.present[k] {
					v.encodeSigns(k)
				}
			}
		}(w)
	}
	wg.Wait()
	v.centredAt = v.count
}

func (v *VectorIndex) encodeSigns(key int) {
	vec := v.vecs[key]
	out := v.signs[key*v.words : (key+1)*v.words]
	clear(out)
	ones := 0
	for i, x := range vec {
		if x > v.mean[i] {
			out[i>>6] |= 1 << (i & 63)
			ones++
		}
	}
	v.ones[key] = uint16(ones)
}

// quantise writes vec as int8 codes and returns the scale that maps them back.
func quantise(vec []float32, out []int8) float32 {
	var m float32
	for _, x := range vec {
		if a := float32(math.Abs(float64(x))); a > m {
			m = a
		}
	}
	if m == 0 {
		clear(out)
		return 0
	}
	s := 127 / m
	for i, x := range vec {
		out[i] = int8(math.Round(float64(x * s)))
	}
	return m / 127
}

// Search returns the k stored vectors with the largest dot product with q,
// best first. allow, when not nil, limits the search to keys whose entry is
// true.
func (v *VectorIndex) Search(q []float32, k int, allow []bool) []VectorHit {
	if k <= 0 || v.count == 0 || len(q) != v.dims {
		return nil
	}
	n := len(v.present)
	allowed := v.count
	if allow != nil {
		allowed = 0
		for key := 0; key < n && key < len(allow); key++ {
			if allow[key] && v.present[key] {
				allowed++
			}
		}
	}
	s1, s2 := v.Stage1, v.Stage2
	if s1 == 0 {
		s1 = 1000 + allowed/25
	}
	if s2 == 0 {
		s2 = 256
	}
	s1 = max(s1, 4*k)
	s2 = max(s2, 2*k)
	var cands []int32
	if allowed < signBelow || allowed <= s1 {
		cands = make([]int32, 0, allowed)
		for key := 0; key < n; key++ {
			if v.present[key] && (allow == nil || (key < len(allow) && allow[key])) {
				cands = append(cands, int32(key))
			}
		}
	} else {
		cands = v.signPass(q, s1, allow)
	}
	cands = v.int8Pass(q, cands, s2)
	return v.exact(q, cands, k)
}

// signPass scores every vector by its sign code and keeps the best m keys.
//
// With s_i = ±1 the code's signs and w_i = q_i·spread_i, the estimate of
// the (centred) dot product is Σ w_i s_i. Writing w_i ≈ lo + Δ·u_i with
// u_i in 0..15 (four bit planes) and b_i the code's bits (s_i = 2b_i − 1):
// Σ w_i s_i = 2Δ·Σ_p 2^p·popcount(plane_p AND code) + 2·lo·popcount(code)
// minus terms that are the same for every vector.
func (v *VectorIndex) signPass(q []float32, m int, allow []bool) []int32 {
	words := v.words
	lo, hi := float32(math.Inf(1)), float32(math.Inf(-1))
	w := make([]float32, v.dims)
	for i := range w {
		w[i] = q[i] * v.spread[i]
		lo, hi = min(lo, w[i]), max(hi, w[i])
	}
	delta := (hi - lo) / 15
	if delta == 0 {
		delta = 1
	}
	planes := make([]uint64, 4*words) // plane p at p*words
	for i, x := range w {
		u := uint64(math.Round(float64((x - lo) / delta)))
		for p := 0; p < 4; p++ {
			if u&(1<<p) != 0 {
				planes[p*words+i>>6] |= 1 << (i & 63)
			}
		}
	}
	scaleAcc, scaleOnes := 2*delta, 2*lo

	n := len(v.present)
	workers := 1
	if n >= 20000 {
		workers = 2
	}
	heaps := make([]topHeap, workers)
	var wg sync.WaitGroup
	for wk := 0; wk < workers; wk++ {
		from, to := n*wk/workers, n*(wk+1)/workers
		wg.Add(1)
		go func(h *topHeap) {
			defer wg.Done()
			h.init(m)
			var acc [256]int32
			for start := from; start < to; start += len(acc) {
				end := min(start+len(acc), to)
				out := acc[:end-start]
				signAcc(v.signs[start*words:end*words], planes, words, out)
				for i, a := range out {
					key := start + i
					if !v.present[key] || (allow != nil && (key >= len(allow) || !allow[key])) {
						continue
					}
					h.push(int32(key), scaleAcc*float32(a)+scaleOnes*float32(v.ones[key]))
				}
			}
		}(&heaps[wk])
	}
	wg.Wait()
	return mergeHeaps(heaps, m)
}

func (v *VectorIndex) int8Pass(q []float32, cands []int32, m int) []int32 {
	if len(cands) <= m {
		return cands
	}
	q8 := make([]int8, v.dims)
	quantise(q, q8)
	d := v.dims
	workers := 1
	if len(cands) >= 2000 {
		workers = 2
	}
	heaps := make([]topHeap, workers)
	var wg sync.WaitGroup
	for wk := 0; wk < workers; wk++ {
		part := cands[len(cands)*wk/workers : len(cands)*(wk+1)/workers]
		wg.Add(1)
		go func(h *topHeap) {
			defer wg.Done()
			h.init(m)
			for _, key := range part {
				c := v.codes[int(key)*d : int(key)*d+d]
				h.push(key, float32(dotInt8(q8, c))*v.scales[key])
			}
		}(&heaps[wk])
	}
	wg.Wait()
	return mergeHeaps(heaps, m)
}

// mergeHeaps joins the workers' best-m lists into one.
func mergeHeaps(heaps []topHeap, m int) []int32 {
	if len(heaps) == 1 {
		return heaps[0].keys()
	}
	var all topHeap
	all.init(m)
	for i := range heaps {
		for j, key := range heaps[i].k {
			all.push(key, heaps[i].s[j])
		}
	}
	return all.keys()
}

func (v *VectorIndex) exact(q []float32, keys []int32, k int) []VectorHit {
	var h topHeap
	h.init(k)
	for _, key := range keys {
		h.push(key, dot(q, v.vecs[key]))
	}
	out := make([]VectorHit, len(h.k))
	for i := range h.k {
		out[i] = VectorHit{Key: int(h.k[i]), Score: h.s[i]}
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Score != out[j].Score {
			return out[i].Score > out[j].Score
		}
		return out[i].Key < out[j].Key
	})
	return out
}

func dot(a, b []float32) float32 {
	b = b[:len(a)]
	var s0, s1, s2, s3 float32
	i := 0
	for ; i+4 <= len(a); i += 4 {
		s0 += a[i] * b[i]
		s1 += a[i+1] * b[i+1]
		s2 += a[i+2] * b[i+2]
		s3 += a[i+3] * b[i+3]
	}
	for ; i < len(a); i++ {
		s0 += a[i] * b[i]
	}
	return s0 + s1 + s2 + s3
}

// topHeap keeps the m highest-scoring keys: a min-heap on score, so the
// weakest kept candidate is at the root and most pushes cost one compare.
type topHeap struct {
	m int
	k []int32
	s []float32
}

func (h *topHeap) init(m int) {
	h.m = m
	h.k = make([]int32, 0, m)
	h.s = make([]float32, 0, m)
}

func (h *topHeap) push(key int32, score float32) {
	if len(h.k) < h.m {
		h.k = append(h.k, key)
		h.s = append(h.s, score)
		for i := len(h.k) - 1; i > 0; {
			p := (i - 1) / 2
			if h.s[p] <= h.s[i] {
				break
			}
			h.k[p], h.k[i] = h.k[i], h.k[p]
			h.s[p], h.s[i] = h.s[i], h.s[p]
			i = p
		}
		return
	}
	if h.m == 0 || score <= h.s[0] {
		return
	}
	h.k[0], h.s[0] = key, score
	n := len(h.k)
	for i := 0; ; {
		l := 2*i + 1
		if l >= n {
			break
		}
		c := l
		if r := l + 1; r < n && h.s[r] < h.s[l] {
			c = r
		}
		if h.s[i] <= h.s[c] {
			break
		}
		h.k[c], h.k[i] = h.k[i], h.k[c]
		h.s[c], h.s[i] = h.s[i], h.s[c]
		i = c
	}
}

func (h *topHeap) keys() []int32 { return h.k }
