package rag

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"unicode"
)

// EvalQuestion is one line of an evaluation file.
type EvalQuestion struct {
	Q      string `json:"q"`
	Doc    string `json:"doc"`
	Expect string `json:"expect"`
}

// EvalMiss is a question with no hit in the top K, and what came back.
type EvalMiss struct {
	EvalQuestion
	Got []string // base names of the returned sources, best first
}

// EvalResult sums up an evaluation run.
type EvalResult struct {
	N      int
	HitAt1 float64
	HitAtK float64
	MRR    float64 // MRR@K
	K      int
	Misses []EvalMiss
}

// LoadQuestions reads a JSON-lines question file; blank lines are skipped.
func LoadQuestions(path string) ([]EvalQuestion, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("couldn't open questions: %w", err)
	}
	defer f.Close()
	var qs []EvalQuestion
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64*1024), 4*1024*1024)
	for line := 1; sc.Scan(); line++ {
		text := strings.TrimSpace(sc.Text())
		if text == "" {
			continue
		}
		var q EvalQuestion
		if err := json.Unmarshal([]byte(text), &q); err != nil {
			return nil, fmt.Errorf("couldn't read line %d of %s: %w", line, path, err)
		}
		qs = append(qs, q)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("couldn't read %s: %w", path, err)
	}
	return qs, nil
}

// Evaluate runs each question through search and scores the top k: a
// passage is a hit when its source's base name equals Doc and its text
// contains Expect once all white space is removed and both are lower-cased.
func Evaluate(qs []EvalQuestion, k int, search func(q string, k int) []Hit) EvalResult {
	r := EvalResult{N: len(qs), K: k}
	for _, q := range qs {
		hits := search(q.Q, k)
		if len(hits) > k {
			hits = hits[:k]
		}
		want := squash(q.Expect)
		rank := 0
		var got []string
		for i, h := range hits {
			got = append(got, filepath.Base(h.Source))
			if rank == 0 && filepath.Base(h.Source) == q.Doc && strings.Contains(squash(h.Text), want) {
				rank = i + 1
			}
		}
		switch {
		case rank == 0:
			r.Misses = append(r.Misses, EvalMiss{EvalQuestion: q, Got: got})
		default:
			if rank == 1 {
				r.HitAt1++
			}
			r.HitAtK++
			r.MRR += 1 / float64(rank)
		}
	}
	if r.N > 0 {
		n := float64(r.N)
		r.HitAt1 /= n
		r.HitAtK /= n
		r.MRR /= n
	}
	return r
}

// squash lower-cases s and removes all white space.
func squash(s string) string {
	return strings.Map(func(r rune) rune {
		if unicode.IsSpace(r) {
			return -1
		}
		return unicode.ToLower(r)
	}, s)
}
