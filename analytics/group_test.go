package analytics

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"os"
	"strings"
	"testing"
)

type labelled struct {
	Q string `json:"q"`
	G string `json:"g"` // the question it asks: paraphrases share it
}

func fixture(t *testing.T) []labelled {
	t.Helper()
	f, err := os.Open("testdata/questions.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []labelled
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var l labelled
		if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
			t.Fatal(err)
		}
		out = append(out, l)
	}
	return out
}

// pairScore is pairwise precision and recall of a grouping against the
// labels: of the pairs put together, how many ask the same thing; of the
// pairs asking the same thing, how many were put together.
func pairScore(qs []labelled, groups []Group) (precision, recall float64, together map[[2]int]bool) {
	groupOf := map[string]int{}
	for gi, g := range groups {
		groupOf[g.Question] = gi
		for _, v := range g.Variants {
			groupOf[v] = gi
		}
	}
	together = map[[2]int]bool{}
	var tp, fp, fn int
	for i := range qs {
		for j := i + 1; j < len(qs); j++ {
			same := qs[i].G == qs[j].G
			put := groupOf[qs[i].Q] == groupOf[qs[j].Q]
			together[[2]int{i, j}] = put
			switch {
			case same && put:
				tp++
			case put:
				fp++
			case same:
				fn++
			}
		}
	}
	return float64(tp) / float64(tp+fp), float64(tp) / float64(tp+fn), together
}

func TestGroupingLexicalScoresOnFixture(t *testing.T) {
	qs := fixture(t)
	if len(qs) != 60 {
		t.Fatalf("the fixture has %d questions, want 60", len(qs))
	}
	texts := make([]string, len(qs))
	for i, q := range qs {
		texts[i] = q.Q
	}
	groups, method := GroupQuestions(context.Background(), texts, nil)
	if method != ByWords {
		t.Fatalf("method %q", method)
	}
	p, r, _ := pairScore(qs, groups)
	t.Logf("lexical grouping: %d groups for %d labels; pairwise precision %.3f, recall %.3f", len(groups), 15, p, r)
	for _, g := range groups {
		t.Logf("  %d  %s  %v", g.Count, g.Question, g.Variants)
	}
	// Floors a little under what this grouping measures (see the log):
	// precision matters most (a group must be one question), recall is
	// bounded by paraphrases that share no word ("card" vs "Visa").
	if p < 0.95 || r < 0.75 {
		t.Fatalf("pairwise precision %.3f (floor 0.95), recall %.3f (floor 0.75)", p, r)
	}
}

func TestGroupingCountsRepeatsAndPicksCommonestWording(t *testing.T) {
	groups, _ := GroupQuestions(context.Background(), []string{
		"Do you sell gluten-free bread?", "do you sell gluten-free bread", "Do you sell  gluten-free bread ?",
		"Gluten-free loaves available?", "Can I bring my dog inside?", "", "   ",
	}, nil)
	if len(groups) != 2 || groups[0].Count != 4 || groups[0].Question != "Do you sell gluten-free bread?" || groups[1].Count != 1 {
		t.Fatalf("%+v", groups)
	}
	if len(groups[0].Variants) != 1 || groups[0].Variants[0] != "Gluten-free loaves available?" {
		t.Fatalf("variants %v", groups[0].Variants)
	}
}

// With an embedder, the vectors decide, not the words: two wordings that
// share no word but have the same meaning vector are one group, and two
// that share words but not meaning are two.
func TestGroupingFollowsEmbeddings(t *testing.T) {
	meaning := map[string][]float32{
		"Can I have my money back?":   {1, 0, 0},
		"What is your refund policy?": {0.98, 0.1, 0},
		"Is there a cake for dogs?":   {0, 1, 0},
		"Is there a cake for cats?":   {0, 0, 1},
	}
	var asked []string
	emb := EmbedFunc(func(_ context.Context, texts []string) ([][]float32, error) {
		asked = append(asked, texts...)
		out := make([][]float32, len(texts))
		for i, tx := range texts {
			out[i] = append([]float32(nil), meaning[tx]...)
		}
		return out, nil
	})
	var qs []string
	for q := range meaning {
		qs = append(qs, q)
	}
	groups, method := GroupQuestions(context.Background(), qs, emb)
	if method != ByEmbedding || len(asked) != 4 {
		t.Fatalf("method %q, embedded %v", method, asked)
	}
	if len(groups) != 3 || groups[0].Count != 2 {
		t.Fatalf("%+v", groups)
	}
	pair := append([]string{groups[0].Question}, groups[0].Variants...)
	if !strings.Contains(strings.Join(pair, "|"), "money back") || !strings.Contains(strings.Join(pair, "|"), "refund") {
		t.Fatalf("the refund group is %v", pair)
	}

	// A failing embedder (model missing, server down) falls back to words.
	broken := EmbedFunc(func(context.Context, []string) ([][]float32, error) { return nil, errors.New("down") })
	if _, method := GroupQuestions(context.Background(), qs, broken); method != ByWords {
		t.Fatalf("fallback method %q", method)
	}
	short := EmbedFunc(func(_ context.Context, texts []string) ([][]float32, error) { return [][]float32{{1}}, nil })
	if _, method := GroupQuestions(context.Background(), qs, short); method != ByWords {
		t.Fatalf("a wrong number of vectors must not be used: %q", method)
	}
}

func TestGroupingIsBounded(t *testing.T) {
	qs := make([]string, 0, MaxGrouped+300)
	for i := range MaxGrouped + 300 {
		qs = append(qs, "question number "+strings.Repeat("x", i%7)+string(rune('a'+i%26))+string(rune('a'+(i/26)%26))+string(rune('a'+(i/676)%26)))
	}
	qs = append(qs, "most asked", "most asked")
	groups, _ := GroupQuestions(context.Background(), qs, nil)
	total := 0
	found := false
	for _, g := range groups {
		total += g.Count
		found = found || g.Question == "most asked"
	}
	if total > MaxGrouped+1 || !found {
		t.Fatalf("grouped %d questions (bound %d), most asked kept: %v", total, MaxGrouped, found)
	}
}
