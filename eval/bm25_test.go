package eval

import (
	"math"
	"sort"
	"strings"
	"unicode"

	"atoll/rag"
)

// plainBM25 is the reference ranker of issue 13, written apart from package
// rag so that a change there cannot move the bar: lower-cased word tokens
// (runs of letters and digits) and overlapping CJK character bigrams.
type plainBM25 struct {
	ps    []rag.Passage
	tf    []map[string]int
	dl    []int
	df    map[string]int
	avgdl float64
}

func newPlainBM25(ps []rag.Passage) *plainBM25 {
	b := &plainBM25{ps: ps, df: map[string]int{}}
	total := 0
	for _, p := range ps {
		m := map[string]int{}
		toks := plainTokens(p.Text)
		for _, t := range toks {
			m[t]++
		}
		for t := range m {
			b.df[t]++
		}
		b.tf = append(b.tf, m)
		b.dl = append(b.dl, len(toks))
		total += len(toks)
	}
	if len(ps) > 0 {
		b.avgdl = float64(total) / float64(len(ps))
	}
	return b
}

func (b *plainBM25) search(q string, k int) []rag.Hit {
	const k1, bb = 1.2, 0.75
	n := float64(len(b.ps))
	type sc struct {
		i int
		s float64
	}
	var out []sc
	qt := plainTokens(q)
	for i, m := range b.tf {
		s := 0.0
		for _, t := range qt {
			f := float64(m[t])
			if f == 0 {
				continue
			}
			df := float64(b.df[t])
			idf := math.Log(1 + (n-df+0.5)/(df+0.5))
			s += idf * f * (k1 + 1) / (f + k1*(1-bb+bb*float64(b.dl[i])/b.avgdl))
		}
		if s > 0 {
			out = append(out, sc{i, s})
		}
	}
	sort.SliceStable(out, func(x, y int) bool { return out[x].s > out[y].s })
	var hits []rag.Hit
	for _, o := range out[:min(k, len(out))] {
		hits = append(hits, rag.Hit{Passage: b.ps[o.i], Score: o.s})
	}
	return hits
}

func plainTokens(s string) []string {
	var out []string
	var word, han []rune
	flush := func() {
		if len(word) > 0 {
			out = append(out, strings.ToLower(string(word)))
			word = word[:0]
		}
		if len(han) == 1 {
			out = append(out, string(han))
		}
		for i := 0; i+1 < len(han); i++ {
			out = append(out, string(han[i:i+2]))
		}
		han = han[:0]
	}
	for _, r := range s {
		switch {
		case unicode.Is(unicode.Han, r):
			if len(word) > 0 {
				flush()
			}
			han = append(han, r)
		case unicode.IsLetter(r) || unicode.IsDigit(r):
			if len(han) > 0 {
				flush()
			}
			word = append(word, r)
		default:
			flush()
		}
	}
	flush()
	return out
}
