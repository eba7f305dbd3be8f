package eval

import (
	"fmt"
	"testing"
	"unicode"

	"atoll/rag"
)

// chinese keeps the questions written (at least partly) in Chinese.
func chinese(qs []rag.EvalQuestion) []rag.EvalQuestion {
	var out []rag.EvalQuestion
	for _, q := range qs {
		for _, r := range q.Q {
			if unicode.Is(unicode.Han, r) {
				out = append(out, q)
				break
			}
		}
	}
	return out
}

// BenchmarkEvalChinese prints the Chinese and mixed questions' scores per
// set, Atoll beside plain BM25; run with -benchtime 1x.
func BenchmarkEvalChinese(b *testing.B) {
	type row struct {
		set         string
		atoll, bm25 rag.EvalResult
	}
	var rows []row
	for _, name := range setNames() {
		s := loadSet(b, name)
		qs := chinese(s.qs)
		if len(qs) == 0 {
			continue
		}
		rows = append(rows, row{name, rag.Evaluate(qs, 5, s.atoll), rag.Evaluate(qs, 5, s.bm25())})
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		for _, name := range setNames() {
			s := loadSet(b, name)
			for _, q := range chinese(s.qs) {
				s.atoll(q.Q, 5)
			}
		}
	}
	b.StopTimer()
	fmt.Println("| set (Chinese and mixed questions) | questions | Atoll hit@1 | BM25 hit@1 | Atoll hit@5 | BM25 hit@5 | Atoll MRR@5 | BM25 MRR@5 |")
	fmt.Println("|---|---|---|---|---|---|---|---|")
	for _, r := range rows {
		fmt.Printf("| %s | %d | %.3f | %.3f | %.3f | %.3f | %.3f | %.3f |\n", r.set, r.atoll.N,
			r.atoll.HitAt1, r.bm25.HitAt1, r.atoll.HitAtK, r.bm25.HitAtK, r.atoll.MRR, r.bm25.MRR)
	}
}

// TestIssueExamples: the two queries the issue names, on the Chinese Vim
// tutor of heldout-1. A Chinese question phrased differently from the text
// and a mixed Chinese-English query must both bring their passage first.
func TestIssueExamples(t *testing.T) {
	s := loadSet(t, "heldout-1")
	qs := []rag.EvalQuestion{
		{Q: "怎样显示光标所在行的位置", Doc: "tutor.zh_cn.utf-8", Expect: "CTRL-G 显示当前编辑文件中当前光标所在行位置"},
		{Q: "vimrc 语法高亮", Doc: "tutor.zh_cn.utf-8", Expect: "编辑器就会有了语法高亮的功能"},
		{Q: "vimrc 语法高亮", Doc: "tutor.zh_cn.utf-8", Expect: "开始编辑 vimrc 文件"},
	}
	for _, q := range qs {
		if r := rag.Evaluate([]rag.EvalQuestion{q}, 5, s.atoll); r.HitAt1 != 1 {
			t.Errorf("%q: the passage with %q is not first (top 5 from %v)", q.Q, q.Expect, r.Misses)
		}
	}
}
