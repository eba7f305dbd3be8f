package rag

import (
	"slices"
	"sort"
	"strings"
	"unicode"
)

// rrfK is the reciprocal rank fusion constant. Lexical BM25 scores and
// cosine similarities live on unrelated scales that shift from query to
// query, so hybrid search fuses ranks, not scores: score = Σ 1/(rrfK+rank).
// 60 is the value of the original RRF paper and flattens the head of each
// list enough that a passage ranked well by both beats one ranked first by
// only one.
const rrfK = 60

// maxMergedRunes bounds how long a merged hit may grow, so a run of adjacent
// hits in one document cannot crowd the prompt.
const maxMergedRunes = 4000

// Search returns up to q.K hits from this index: hybrid when q.Vector is set
// and the index holds vectors of that length, lexical only otherwise.
func (ix *Index) Search(q Query) []Hit { return SearchMany([]*Index{ix}, q) }

// SearchMany searches several knowledge bases as one: lexical statistics are
// summed over all of them so BM25 scores are comparable, then lists are
// fused, overlapping or adjacent hits from one source merged, and the result
// diversified so that no source takes more than ceil(K/2) slots while others
// qualify.
func SearchMany(indexes []*Index, q Query) []Hit {
	k := q.K
	if k <= 0 {
		k = 5
	}
	indexes = distinct(indexes)
	qt := parseQuery(q.Text)
	st := &corpusStats{df: map[string]int{}}
	for _, ix := range indexes {
		ix.mu.RLock()
		ix.addStats(qt, st)
		ix.mu.RUnlock()
	}
	m := max(4*k, 50) // candidates per list before merging and diversifying
	var lex, dense []Hit
	for _, ix := range indexes {
		l, d := ix.candidates(q, qt, st, m)
		lex = append(lex, l...)
		dense = append(dense, d...)
	}
	byScore := func(hs []Hit) {
		sort.SliceStable(hs, func(i, j int) bool { return hs[i].Score > hs[j].Score })
	}
	byScore(lex)
	byScore(dense)
	var ranked []Hit
	if len(dense) == 0 {
		ranked = lex
	} else {
		kw, mw := fusionOf(indexes)
		ranked = fuse([]float64{kw, mw}, lex, dense)
	}
	if len(ranked) > m {
		ranked = ranked[:m]
	}
	return mergeDiversify(ranked, k)
}

func distinct(ixs []*Index) []*Index {
	seen := map[*Index]bool{}
	out := ixs[:0:0]
	for _, ix := range ixs {
		if ix != nil && !seen[ix] {
			seen[ix] = true
			out = append(out, ix)
		}
	}
	return out
}

// candidates returns this index's best lexical and dense hits (dense only
// when the query has a vector of the index's dimensions).
func (ix *Index) candidates(q Query, qt *queryTerms, st *corpusStats, m int) (lex, dense []Hit) {
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	var allow []bool
	if len(q.Sources) > 0 {
		want := map[string]bool{}
		for _, s := range q.Sources {
			want[s] = true
		}
		allow = make([]bool, len(ix.docs))
		for slot, d := range ix.docs {
			allow[slot] = d != nil && want[d.p.Source]
		}
	}
	hit := func(slot int, score float64) Hit {
		d := ix.docs[slot]
		return Hit{Passage: d.p, Score: score, Coverage: coverage(qt, st, d)}
	}
	for _, s := range ix.lexical(qt, st, m, allow) {
		lex = append(lex, hit(s.slot, s.score))
	}
	if q.Vector != nil && ix.vecCount > 0 && len(q.Vector) == ix.vec.Dims() {
		for _, vh := range ix.vec.Search(q.Vector, m, allow) {
			dense = append(dense, hit(vh.Key, float64(vh.Score)))
		}
	}
	return lex, dense
}

// fusionOf averages the fusion weights of the indexes searched together.
func fusionOf(ixs []*Index) (kw, mw float64) {
	for _, ix := range ixs {
		ix.mu.RLock()
		k, m := ix.fusion.weights()
		ix.mu.RUnlock()
		kw += k
		mw += m
	}
	return kw, mw
}

// fuse merges ranked lists by reciprocal rank fusion, each list's terms
// multiplied by its weight. A list of weight 0
// is left out.
func fuse(weights []float64, lists ...[]Hit) []Hit {
	type entry struct {
		h     Hit
		score float64
		order int
	}
	byKey := map[string]*entry{}
	var order []*entry
	for li, list := range lists {
		if weights[li] == 0 {
			continue
		}
		for rank, h := range list {
			key := h.KB + "\x00" + h.ID
			e := byKey[key]
			if e == nil {
				e = &entry{h: h, order: len(order)}
				byKey[key] = e
				order = append(order, e)
			}
			e.score += weights[li] / float64(rrfK+rank+1)
		}
	}
	sort.SliceStable(order, func(i, j int) bool { return order[i].score > order[j].score })
	out := make([]Hit, len(order))
	for i, e := range order {
		out[i] = e.h
		out[i].Score = e.score
	}
	return out
}

// mergeDiversify walks the ranked candidates best first. A candidate whose
// span overlaps or touches an already chosen hit from the same source is
// folded into it (texts joined without repeating the overlap, Start/End
// widened, the better rank kept); otherwise it is chosen unless its source
// already has ceil(k/2) hits. The walk stops at k chosen hits, so only
// candidates ranked above the k-th are merged; the held-back hits of
// crowded sources fill any slots left over.
//
// A candidate from another file whose text equals a chosen hit's (white
// space and case aside) takes no slot of its own: its file is added to that
// hit's AlsoIn.
func mergeDiversify(ranked []Hit, k int) []Hit {
	limit := (k + 1) / 2
	per := map[string]int{}
	var out, rest []Hit
	same := map[string]int{} // normalised text -> index in out
	for _, h := range ranked {
		if len(out) == k {
			break
		}
		if i, ok := same[sameText(h.Text)]; ok && isCopy(out[i], h) {
			out[i].AlsoIn = addSource(out[i], h)
			continue
		}
		if mergeInto(out, h) {
			continue
		}
		key := h.KB + "\x00" + h.Source
		if per[key] >= limit {
			rest = append(rest, h)
			continue
		}
		per[key]++
		same[sameText(h.Text)] = len(out)
		out = append(out, h)
	}
	for _, h := range rest {
		if len(out) == k {
			break
		}
		if i, ok := same[sameText(h.Text)]; ok && isCopy(out[i], h) {
			out[i].AlsoIn = addSource(out[i], h)
			continue
		}
		if !mergeInto(out, h) {
			same[sameText(h.Text)] = len(out)
			out = append(out, h)
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Score > out[j].Score })
	return out
}

// mergeInto folds h into the first hit of out it overlaps or touches.
func mergeInto(out []Hit, h Hit) bool {
	if h.End <= h.Start {
		return false
	}
	for i := range out {
		o := &out[i]
		if o.KB != h.KB || o.Source != h.Source || o.End <= o.Start {
			continue
		}
		if h.Start > o.End || o.Start > h.End {
			continue
		}
		if max(o.End, h.End)-min(o.Start, h.Start) > maxMergedRunes {
			continue
		}
		*o = joinHits(*o, h)
		return true
	}
	return false
}

// joinHits joins two overlapping or adjacent spans of one source; a keeps
// its score and ID.
func joinHits(a, b Hit) Hit {
	first, second := a, b
	if b.Start < a.Start || (b.Start == a.Start && b.End > a.End) {
		first, second = b, a
	}
	j := a
	j.Start = first.Start
	j.End = max(first.End, second.End)
	j.Page = first.Page
	j.Headings = first.Headings
	j.Coverage = max(a.Coverage, b.Coverage)
	switch {
	case second.End <= first.End:
		j.Text = first.Text // contained
	default:
		trusted := runeLen(first.Text) == first.End-first.Start && runeLen(second.Text) == second.End-second.Start
		j.Text = joinText(first.Text, second.Text, first.End-second.Start, trusted)
	}
	return j
}

// joinText appends b to a without repeating the overlap of `overlap` runes.
// trusted says both texts match their offsets; when they do not (the
// extractor normalised something), the longest suffix of a that is a prefix
// of b is taken as the overlap instead.
func joinText(a, b string, overlap int, trusted bool) string {
	rb := []rune(b)
	if trusted {
		if overlap <= 0 {
			return a + b
		}
		return a + string(rb[min(overlap, len(rb)):])
	}
	ra := []rune(a)
	for n := min(len(ra), len(rb)); n > 0; n-- {
		if string(ra[len(ra)-n:]) == string(rb[:n]) {
			return a + string(rb[n:])
		}
	}
	sep := "\n"
	if strings.HasSuffix(a, "\n") || strings.HasPrefix(b, "\n") {
		sep = ""
	}
	return a + sep + b
}

// sameText is the text as duplicate detection compares it: without white
// space and lower-cased, so line breaks and indentation that differ between
// two copies of a file do not keep them apart.
func sameText(s string) string {
	var b strings.Builder
	b.Grow(len(s))
	for _, r := range s {
		if !unicode.IsSpace(r) {
			b.WriteRune(unicode.ToLower(r))
		}
	}
	return b.String()
}

// isCopy: h is the text of chosen hit o in another file.
func isCopy(o, h Hit) bool { return o.Source != h.Source || o.KB != h.KB }

// maxAlsoIn bounds the files one hit names beside its own.
const maxAlsoIn = 8

// addSource adds dup's file (and the files it stands for) to h's AlsoIn.
func addSource(h Hit, dup Hit) []string {
	also := h.AlsoIn
	for _, s := range append([]string{dup.Source}, dup.AlsoIn...) {
		if s == h.Source || slices.Contains(also, s) || len(also) >= maxAlsoIn {
			continue
		}
		also = append(also, s)
	}
	return also
}
