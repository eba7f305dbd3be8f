package rag

import (
	"math"
	"strings"
)

// coveredAt is the least coverage for the documents to count as covering a
// question. Measured by TestCoveredThreshold on the development set: the
// answerable questions' best hits cover 0.56 to 1.00, off-topic questions
// 0.00 to 0.28; the threshold sits in the gap, nearer the off-topic side,
// because wrongly refusing an answerable question costs more than letting
// the model (told to say when the passages don't answer) see a weak match.
// TestCovered checks it on a knowledge base of a few passages, where IDF
// alone cannot tell function words.
const coveredAt = 0.45

// functionWeight is what a function word or particle weighs against a
// content term. IDF says which words are common in a large collection, but
// a knowledge base of one FAQ has too few passages for that, and Chinese
// question words (怎么, 多少, 吗) are rare in documents though they carry no
// topic. These short lists are used only here, never to drop index terms.
const functionWeight = 0.1

var functionWords = func() map[string]bool {
	m := map[string]bool{}
	for _, w := range strings.Fields(`a an the of to in on at for from by with about as into
		and or but if than then so not no yes is are was were be been being am do does did doing
		have has had can could should would will shall may might must i me my mine you your yours
		we us our he him his she her it its they them their this that these those there here
		what when where which who whom whose why how any some all each much many more most
		get got please tell know want need like just also very`) {
		m[stem(w)] = true
	}
	return m
}()

var functionHan = func() map[rune]bool {
	m := map[rune]bool{}
	for _, r := range "的了是吗呢吧啊呀么怎什哪谁几多少我你您他她它们这那在和与或有没不要会能可以请问就都也还个一把被给让对为从到得地着过如何吗该" {
		m[r] = true
	}
	return m
}()

// coverage is the weighted share of the question's content that the passage
// holds (in its text or headings). Words weigh their IDF relative to a word
// found in one passage, capped at 1 (a word never seen weighs 1 too: a
// question about something absent);
// CJK is counted per character, since bigrams that straddle the question's
// word boundaries ("费怎" in "配送费怎么收") exist in no document; function
// words and particles weigh functionWeight.
func coverage(qt *queryTerms, st *corpusStats, d *doc) float64 {
	// A word seen once is as telling as one never seen: both weigh 1.
	once := math.Log(1 + (float64(st.n)-0.5)/1.5)
	weight := func(t string) float64 {
		if once <= 0 {
			return 1
		}
		return min(st.idf(t)/once, 1)
	}
	return coverageOf(qt, weight, func(t string) bool {
		return d.hasTerm(t)
	}, d.p.Text+"\n"+strings.Join(d.p.Headings, "\n"))
}

func (d *doc) hasTerm(t string) bool {
	terms := d.termList()
	lo, hi := 0, len(terms)
	for lo < hi {
		m := (lo + hi) / 2
		if terms[m].term < t {
			lo = m + 1
		} else {
			hi = m
		}
	}
	return lo < len(terms) && terms[lo].term == t
}

func coverageOf(qt *queryTerms, weight func(string) float64, has func(string) bool, text string) float64 {
	var got, all float64
	for _, t := range qt.unique {
		if isCJKTerm(t) {
			continue
		}
		w := weight(t)
		if functionWords[t] {
			w *= functionWeight
		}
		all += w
		if has(t) {
			got += w
		}
	}
	if len(qt.han) > 0 {
		text = normText(text)
		for _, r := range qt.han {
			w := 1.0
			if functionHan[r] {
				w = functionWeight
			}
			all += w
			if strings.ContainsRune(text, r) {
				got += w
			}
		}
	}
	if all == 0 {
		return 0
	}
	return got / all
}

// Covered reports whether the hits can answer q: whether one passage holds
// enough of the question's informative content. Hits from Search carry their
// Coverage, weighted with the index's IDF; for others it is estimated from
// the text with every content word weighted alike.
//
// Lexical coverage cannot judge a question asked in one language about
// documents in another (a Chinese question over English manuals, found by
// the embeddings): when the best hit's language differs from the
// question's, the hits count as covered and the model, told to say when the
// passages don't answer, decides.
func Covered(hits []Hit, q string) bool {
	if len(hits) > 0 && DetectLanguage(hits[0].Text) != DetectLanguage(q) {
		return true
	}
	best := 0.0
	var qt *queryTerms
	for _, h := range hits {
		c := h.Coverage
		if c == 0 {
			if qt == nil {
				qt = parseQuery(q)
			}
			c = plainCoverage(qt, h)
		}
		best = max(best, c)
	}
	return best >= coveredAt
}

func plainCoverage(qt *queryTerms, h Hit) float64 {
	text := h.Text + "\n" + headField(h.Passage)
	have := map[string]bool{}
	tokenize(text, func(t string, _ int) { have[t] = true })
	return coverageOf(qt, func(string) float64 { return 1 }, func(t string) bool { return have[t] }, text)
}

func isCJKTerm(t string) bool {
	for _, r := range t {
		return isCJK(r)
	}
	return false
}
