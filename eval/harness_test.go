// Package eval scores Atoll's retrieval on the evaluation sets beside a
// plain BM25 over the same chunks, in the same run.
package eval

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"atoll/ingest"
	"atoll/rag"
)

// devDir is the development set shared between sessions (../shared/eval
// beside the checkout, or beside the folder of worktrees): it is not part of
// the repository, so the dev-set cases skip, saying so, where it is absent.
var devDir = func() string {
	if d := os.Getenv("ATOLL_EVAL_DEV"); d != "" {
		return d
	}
	dir, _ := os.Getwd()
	for i := 0; i < 4 && dir != filepath.Dir(dir); i++ {
		dir = filepath.Dir(dir)
		if d := filepath.Join(dir, "shared", "eval", "dev"); fileExists(filepath.Join(d, "corpus.sh")) {
			return d
		}
	}
	return "../../shared/eval/dev"
}()

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

type evalSet struct {
	name     string
	ix       *rag.Index
	passages []rag.Passage
	qs       []rag.EvalQuestion
}

var setCache = map[string]*evalSet{}

// setNames lists the sets present: the development set only where
// ../shared/eval exists.
func setNames() []string {
	names := []string{"heldout-1", "heldout-2"}
	if _, err := os.Stat(filepath.Join(devDir, "corpus.sh")); err == nil {
		names = append([]string{"dev"}, names...)
	}
	return names
}

func setDir(name string) string {
	if name == "dev" {
		return devDir
	}
	return name
}

// loadSet lays out a set's corpus, extracts and chunks each file with
// Atoll's own ingest code, and indexes the chunks (no vectors).
func loadSet(t testing.TB, name string) *evalSet {
	t.Helper()
	if s := setCache[name]; s != nil {
		return s
	}
	dir := setDir(name)
	if name == "dev" {
		if _, err := os.Stat(filepath.Join(dir, "corpus.sh")); err != nil {
			t.Skipf("the development set is absent (looked for shared/eval/dev beside the checkout; set ATOLL_EVAL_DEV to its folder): it is shared between sessions, not part of the repository: %v", err)
		}
	}
	corpus := t.TempDir()
	cmd := exec.Command("bash", filepath.Join(dir, "corpus.sh"), corpus)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%s/corpus.sh: %v\n%s", dir, err, out)
	}
	files, err := os.ReadDir(corpus)
	if err != nil {
		t.Fatal(err)
	}
	s := &evalSet{name: name, ix: rag.NewIndex()}
	for _, f := range files {
		path := filepath.Join(corpus, f.Name())
		doc, err := ingest.Extract(context.Background(), path, ingest.DefaultLimits())
		if err != nil {
			t.Fatalf("extracting %s: %v", f.Name(), err)
		}
		for i, c := range ingest.Split(doc, ingest.DefaultChunkOptions()) {
			s.passages = append(s.passages, rag.Passage{
				ID: fmt.Sprintf("%s#%d", f.Name(), i), KB: name, Source: path, Page: c.Page,
				Headings: c.Headings, Start: c.Start, End: c.End, Text: c.Text,
			})
		}
	}
	s.ix.Add(s.passages...)
	s.qs, err = rag.LoadQuestions(filepath.Join(dir, "questions.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	setCache[name] = s
	return s
}

func (s *evalSet) atoll(q string, k int) []rag.Hit {
	return s.ix.Search(rag.Query{Text: q, K: k})
}

// bm25 is the reference: plain BM25 (k1 1.2, b 0.75) over the same chunks,
// word tokens and CJK bigrams, no stemming, no fields, no bonuses.
func (s *evalSet) bm25() func(q string, k int) []rag.Hit {
	ref := newPlainBM25(s.passages)
	return func(q string, k int) []rag.Hit {
		return ref.search(q, k)
	}
}

// result is one set's scores, Atoll beside the reference.
type result struct {
	set         string
	atoll, bm25 rag.EvalResult
}

func scoreSet(t testing.TB, name string) result {
	s := loadSet(t, name)
	return result{set: name, atoll: rag.Evaluate(s.qs, 5, s.atoll), bm25: rag.Evaluate(s.qs, 5, s.bm25())}
}
