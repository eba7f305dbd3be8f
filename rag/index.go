package rag

import (
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
)

// Index is one knowledge base in memory: passages, a BM25 lexical index and,
// optionally, vectors. It is safe for concurrent use; Search runs under a
// read lock, and Add tokenises before taking the write lock so writers hold
// it only for the cheap posting-list appends.
type Index struct {
	mu   sync.RWMutex
	docs []*doc // by slot; nil when removed
	// Field lengths by slot (-1 when removed), kept apart from docs so the
	// posting-list walk reads one dense array instead of chasing pointers.
	bodyLens, headLens []int32
	byID               map[string]int // passage ID -> slot
	terms              map[string]*postings
	free               []int // slots whose postings have been compacted away
	dead               int   // removed slots still referenced by postings
	live               int
	// Field length totals for BM25's length normalisation.
	bodyLen, headLen int
	vec              *VectorIndex
	vecCount         int // live passages with a vector
	lex              lexParams
	fusion           FusionWeights
}

type doc struct {
	p Passage
	// terms, sorted by term, for removal and coverage. A passage restored
	// from a snapshot has none until first needed (termList), so opening a
	// large knowledge base does not tokenise it again.
	terms   atomic.Pointer[[]docTerm]
	bodyLen int
	headLen int
	hasVec  bool
}

type docTerm struct {
	term       string
	body, head uint16
}

type postings struct {
	df   int // live passages containing the term
	list []posting
}

type posting struct {
	slot       int32
	body, head uint16
}

// NewIndex returns an empty index.
func NewIndex() *Index {
	return &Index{byID: map[string]int{}, terms: map[string]*postings{}, vec: NewVectorIndex(), lex: defaultLex}
}

// Add indexes passages; a passage whose ID is already present replaces it
// (its vector is dropped and must be set again).
func (ix *Index) Add(ps ...Passage) {
	prepared := make([]*doc, len(ps))
	// Tokenising dominates opening a large knowledge base: spread it over the
	// cores when there is enough of it.
	workers := runtime.GOMAXPROCS(0)
	if len(ps) < 512 || workers < 2 {
		workers = 1
	}
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := w; i < len(ps); i += workers {
				prepared[i] = analyse(ps[i])
			}
		}(w)
	}
	wg.Wait()
	ix.mu.Lock()
	defer ix.mu.Unlock()
	for _, d := range prepared {
		if slot, ok := ix.byID[d.p.ID]; ok {
			ix.removeSlot(slot)
		}
		ix.insert(d)
	}
	ix.maybeCompact()
}

// analyse tokenises a passage's text and its heading field (headings plus
// the file name without extension), outside any lock.
func analyse(p Passage) *doc {
	d := &doc{p: p}
	counts := map[string]*docTerm{}
	get := func(t string) *docTerm {
		dt := counts[t]
		if dt == nil {
			dt = &docTerm{term: t}
			counts[t] = dt
		}
		return dt
	}
	tokenize(p.Text, func(t string, _ int) {
		if dt := get(t); dt.body < 65535 {
			dt.body++
		}
		d.bodyLen++
	})
	tokenize(headField(p), func(t string, _ int) {
		if dt := get(t); dt.head < 65535 {
			dt.head++
		}
		d.headLen++
	})
	terms := make([]docTerm, 0, len(counts))
	for _, dt := range counts {
		terms = append(terms, *dt)
	}
	sort.Slice(terms, func(i, j int) bool { return terms[i].term < terms[j].term })
	d.terms.Store(&terms)
	return d
}

// termList returns the passage's terms, tokenising it again if it was
// restored from a snapshot. Concurrent callers may both compute it; the
// results are identical.
func (d *doc) termList() []docTerm {
	if t := d.terms.Load(); t != nil {
		return *t
	}
	t := analyse(d.p).terms.Load()
	d.terms.Store(t)
	return *t
}

func headField(p Passage) string {
	base := filepath.Base(strings.ReplaceAll(p.Source, "\\", "/"))
	base = strings.TrimSuffix(base, filepath.Ext(base))
	if base == "." || base == "/" {
		base = ""
	}
	return strings.Join(p.Headings, "\n") + "\n" + base
}

func (ix *Index) insert(d *doc) {
	var slot int
	if n := len(ix.free); n > 0 {
		slot = ix.free[n-1]
		ix.free = ix.free[:n-1]
		ix.docs[slot] = d
		ix.bodyLens[slot], ix.headLens[slot] = int32(d.bodyLen), int32(d.headLen)
	} else {
		slot = len(ix.docs)
		ix.docs = append(ix.docs, d)
		ix.bodyLens = append(ix.bodyLens, int32(d.bodyLen))
		ix.headLens = append(ix.headLens, int32(d.headLen))
	}
	ix.byID[d.p.ID] = slot
	for _, dt := range d.termList() {
		ps := ix.terms[dt.term]
		if ps == nil {
			ps = &postings{}
			ix.terms[dt.term] = ps
		}
		ps.df++
		ps.list = append(ps.list, posting{slot: int32(slot), body: dt.body, head: dt.head})
	}
	ix.live++
	ix.bodyLen += d.bodyLen
	ix.headLen += d.headLen
}

// Remove drops passages by ID; unknown IDs are ignored.
func (ix *Index) Remove(ids ...string) {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	for _, id := range ids {
		if slot, ok := ix.byID[id]; ok {
			ix.removeSlot(slot)
		}
	}
	ix.maybeCompact()
}

// removeSlot leaves the slot's postings in place (searches skip nil docs);
// maybeCompact sweeps them once enough have piled up.
func (ix *Index) removeSlot(slot int) {
	d := ix.docs[slot]
	if d == nil {
		return
	}
	for _, dt := range d.termList() {
		if ps := ix.terms[dt.term]; ps != nil {
			ps.df--
		}
	}
	if d.hasVec {
		ix.vec.Delete(slot)
		ix.vecCount--
	}
	delete(ix.byID, d.p.ID)
	ix.docs[slot] = nil
	ix.bodyLens[slot], ix.headLens[slot] = -1, -1
	ix.live--
	ix.bodyLen -= d.bodyLen
	ix.headLen -= d.headLen
	ix.dead++
}

// maybeCompact rewrites the posting lists without removed slots once they
// make up a quarter of the index, so the amortised cost per removal is small.
func (ix *Index) maybeCompact() {
	if ix.dead < 64 || ix.dead*4 < len(ix.docs) {
		return
	}
	for t, ps := range ix.terms {
		if ps.df <= 0 {
			delete(ix.terms, t)
			continue
		}
		kept := ps.list[:0]
		for _, p := range ps.list {
			if ix.docs[p.slot] != nil {
				kept = append(kept, p)
			}
		}
		ps.list = kept
	}
	for slot, d := range ix.docs {
		if d == nil {
			ix.free = append(ix.free, slot)
		}
	}
	// Trailing free slots can simply be cut off.
	sort.Sort(sort.Reverse(sort.IntSlice(ix.free)))
	for len(ix.docs) > 0 && ix.docs[len(ix.docs)-1] == nil {
		ix.docs = ix.docs[:len(ix.docs)-1]
	}
	ix.bodyLens = ix.bodyLens[:len(ix.docs)]
	ix.headLens = ix.headLens[:len(ix.docs)]
	kept := ix.free[:0]
	for _, s := range ix.free {
		if s < len(ix.docs) {
			kept = append(kept, s)
		}
	}
	ix.free = kept
	ix.vec.Truncate(len(ix.docs))
	ix.dead = 0
}

// Len is the number of passages.
func (ix *Index) Len() int {
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	return ix.live
}

// SetVector attaches an embedding to a passage. The index keeps vec itself
// (not a copy): do not modify it afterwards. Vectors should be normalised; the first vector fixes the dimensions and a vector of other
// dimensions, or for an unknown passage, is ignored.
func (ix *Index) SetVector(id string, vec []float32) {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	ix.setVector(id, vec)
}

// SetVectors sets many vectors under one lock (opening a knowledge base).
func (ix *Index) SetVectors(ids []string, vecs [][]float32) {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	slots := make([]int, 0, len(ids))
	keep := make([][]float32, 0, len(ids))
	for i, id := range ids {
		if slot, ok := ix.byID[id]; ok {
			slots = append(slots, slot)
			keep = append(keep, vecs[i])
		}
	}
	ix.vec.SetMany(slots, keep)
	for i, slot := range slots {
		if d := ix.docs[slot]; !d.hasVec && len(keep[i]) == ix.vec.Dims() {
			d.hasVec = true
			ix.vecCount++
		}
	}
}

func (ix *Index) setVector(id string, vec []float32) {
	slot, ok := ix.byID[id]
	if !ok {
		return
	}
	if !ix.vec.Set(slot, vec) {
		return
	}
	if d := ix.docs[slot]; !d.hasVec {
		d.hasVec = true
		ix.vecCount++
	}
}

// HasVectors reports whether every passage has a vector.
func (ix *Index) HasVectors() bool {
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	return ix.live > 0 && ix.vecCount == ix.live
}

// Passages returns the passages of one source in document order (all
// passages when source is ""), for showing a document's chunks.
func (ix *Index) Passages(source string) []Passage {
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	var out []Passage
	for _, d := range ix.docs {
		if d != nil && (source == "" || d.p.Source == source) {
			out = append(out, d.p)
		}
	}
	sort.SliceStable(out, func(i, j int) bool {
		if out[i].Source != out[j].Source {
			return out[i].Source < out[j].Source
		}
		return out[i].Start < out[j].Start
	})
	return out
}

// Has reports whether a passage is indexed.
func (ix *Index) Has(id string) bool {
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	_, ok := ix.byID[id]
	return ok
}

// ClearVectors drops every vector, keeping the lexical index: a change of
// embedding model replaces the vectors, and re-tokenising every passage
// for it (4 s for 100k, under the caller's lock) would be wasted.
func (ix *Index) ClearVectors() {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	old := ix.vec
	ix.vec = NewVectorIndex()
	ix.vec.Stage1, ix.vec.Stage2 = old.Stage1, old.Stage2
	for _, d := range ix.docs {
		if d != nil {
			d.hasVec = false
		}
	}
	ix.vecCount = 0
}

// WithoutVectors lists the passages that have no vector.
func (ix *Index) WithoutVectors() []string {
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	var out []string
	for _, d := range ix.docs {
		if d != nil && !d.hasVec {
			out = append(out, d.p.ID)
		}
	}
	return out
}
