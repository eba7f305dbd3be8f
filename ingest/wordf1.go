package ingest

import (
	"strings"
	"unicode"

	"golang.org/x/text/unicode/norm"
)

// WordF1 compares two texts as bags of words (NFKC, lower-cased, split on
// anything that is not a letter or digit; each CJK character counts as a
// word). 1 means the same words with the same counts; order is ignored, so
// it measures extraction quality, not layout.
func WordF1(a, b string) float64 {
	ca, cb := wordBag(a), wordBag(b)
	na, nb, common := 0, 0, 0
	for w, n := range ca {
		na += n
		common += min(n, cb[w])
	}
	for _, n := range cb {
		nb += n
	}
	if na == 0 && nb == 0 {
		return 1
	}
	if na == 0 || nb == 0 || common == 0 {
		return 0
	}
	p, r := float64(common)/float64(na), float64(common)/float64(nb)
	return 2 * p * r / (p + r)
}

func wordBag(s string) map[string]int {
	s = strings.ToLower(norm.NFKC.String(s))
	bag := map[string]int{}
	start := -1
	for i, r := range s {
		if isCJK(r) && unicode.IsLetter(r) {
			if start >= 0 {
				bag[s[start:i]]++
				start = -1
			}
			bag[string(r)]++
			continue
		}
		if unicode.IsLetter(r) || unicode.IsDigit(r) {
			if start < 0 {
				start = i
			}
			continue
		}
		if start >= 0 {
			bag[s[start:i]]++
			start = -1
		}
	}
	if start >= 0 {
		bag[s[start:]]++
	}
	return bag
}
