package knowledge

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"golang.org/x/text/encoding/simplifiedchinese"

	"atoll/rag"
	"atoll/store"
)

// countingEmbedder counts the texts it is asked to embed.
type countingEmbedder struct {
	hashEmbedder
	mu    sync.Mutex
	texts int
}

func (c *countingEmbedder) Embed(ctx context.Context, model string, texts []string) ([][]float32, error) {
	c.mu.Lock()
	c.texts += len(texts)
	c.mu.Unlock()
	return c.hashEmbedder.Embed(ctx, model, texts)
}

func (c *countingEmbedder) take() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := c.texts
	c.texts = 0
	return n
}

// The first hybrid search of a knowledge base measures its fusion figures
// (pseudo-queries embedded in one batch) and keeps them in kb.json; a
// reopened knowledge base serves them without embedding the pseudo-queries
// again. The hash embedder is useless for meaning, so the figures must say
// keyword only.
func TestSearcherMeasuresFusionOnceAndKeepsIt(t *testing.T) {
	data, docs := t.TempDir(), makeDocs(t, 12)
	st, err := store.Open(data)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := New(st, hashEmbedder{}).Run(context.Background(), "j", "kb", "emb", []string{docs}, nil); err != nil {
		t.Fatal(err)
	}
	emb := &countingEmbedder{}
	s := &Searcher{Store: st, Embedder: emb}
	hits, err := s.Search(context.Background(), []string{"kb"}, "topic7 item3", 5, nil)
	if err != nil || len(hits) == 0 {
		t.Fatalf("%v %v", hits, err)
	}
	if n := emb.take(); n < 10 {
		t.Fatalf("the first hybrid search embedded %d texts: the fusion figures were not measured", n)
	}
	kb, _ := st.KB("kb")
	w := kb.Index().Fusion()
	if !w.Measured() || w.Model != "emb" || w.Keyword <= w.Meaning {
		t.Fatalf("measured %+v", w)
	}
	if f := kb.Meta().Fusion; f == nil || *f != w {
		t.Fatalf("kb.json keeps %+v, the index has %+v", f, w)
	}
	if _, err := s.Search(context.Background(), []string{"kb"}, "topic3", 5, nil); err != nil {
		t.Fatal(err)
	}
	if n := emb.take(); n != 1 {
		t.Fatalf("a second search embedded %d texts, want only the query", n)
	}
	st.Close()

	st2, err := store.Open(data)
	if err != nil {
		t.Fatal(err)
	}
	defer st2.Close()
	kb2, err := st2.KB("kb")
	if err != nil {
		t.Fatal(err)
	}
	if got := kb2.Index().Fusion(); got != w {
		t.Fatalf("reopened with %+v, want %+v", got, w)
	}
	s2 := &Searcher{Store: st2, Embedder: emb}
	hits, err = s2.Search(context.Background(), []string{"kb"}, "topic7 item3", 5, nil)
	if err != nil || len(hits) == 0 {
		t.Fatalf("%v %v", hits, err)
	}
	if n := emb.take(); n != 1 {
		t.Fatalf("a search after reopening embedded %d texts, want only the query", n)
	}
	if hits[0].Source == "" || hits[0].Score <= 0 {
		t.Fatalf("top hit %+v", hits[0])
	}
}

// The same Chinese text saved as UTF-8 and as GB2312 is one passage: it
// takes one of the top five slots, and the hit names the other file.
func TestSameTextInTwoEncodingsIsOneHit(t *testing.T) {
	text := "第一讲第一节：移动光标\n\n要移动光标，请依照说明分别按下 h、j、k、l 键。\n\n" +
		"第二讲第一节：删除类命令\n\n输入 dw 可以从光标处删除至一个单词的末尾。\n\n" +
		"提示：按 CTRL-G 显示当前编辑文件中当前光标所在行位置以及文件状态信息。\n"
	// GBK encodes GB2312's characters as GB2312 (EUC-CN) does.
	enc, err := simplifiedchinese.GBK.NewEncoder().Bytes([]byte(text))
	if err != nil {
		t.Fatal(err)
	}
	docs := t.TempDir()
	os.WriteFile(filepath.Join(docs, "tutor-utf8.txt"), []byte(text), 0o644)
	os.WriteFile(filepath.Join(docs, "tutor-gb2312.txt"), enc, 0o644)
	for i := 0; i < 4; i++ {
		os.WriteFile(filepath.Join(docs, fmt.Sprintf("other%d.txt", i)), []byte(fmt.Sprintf("光标 文件 第%d份 说明：这里讲别的事情，和状态信息无关。", i)), 0o644)
	}
	st, err := store.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if _, err := New(st, nil).Run(context.Background(), "j", "kb", "", []string{docs}, nil); err != nil {
		t.Fatal(err)
	}
	s := &Searcher{Store: st}
	hits, err := s.Search(context.Background(), []string{"kb"}, "怎样显示光标所在行的位置", 5, nil)
	if err != nil || len(hits) == 0 {
		t.Fatalf("%v %v", hits, err)
	}
	var tutors []rag.Hit
	for _, h := range hits {
		if strings.HasPrefix(filepath.Base(h.Source), "tutor-") {
			tutors = append(tutors, h)
		}
	}
	if len(tutors) != 1 {
		t.Fatalf("the tutor text took %d of the top five slots, want 1: %+v", len(tutors), hits)
	}
	h := tutors[0]
	other := "tutor-gb2312.txt"
	if filepath.Base(h.Source) == other {
		other = "tutor-utf8.txt"
	}
	if len(h.AlsoIn) != 1 || filepath.Base(h.AlsoIn[0]) != other {
		t.Fatalf("hit from %s is also in %v, want [%s]", h.Source, h.AlsoIn, other)
	}
}
