package rag

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"
)

const faqZh = `## 营业时间
门店营业时间为每天早上 8 点到晚上 9 点，节假日正常营业。

## 配送
市区内订单满 100 元免费配送，不满 100 元收取 15 元配送费。

## 会员
注册会员即送 20 元优惠券，消费每满 10 元积 1 分。`

const faqEn = `## Opening hours
The library is open Monday to Friday, 9am to 5pm.

## Borrowing
Members may borrow up to six books for three weeks.

## Fines
Late returns cost 20 cents per book per day.`

func passage(kb, source string, n int, text string) Passage {
	return Passage{ID: fmt.Sprintf("%s#%d", source, n), KB: kb, Source: source, Page: 1, Start: 0, End: runeLen(text), Text: text}
}

// sections turns a small markdown text into one passage per section, with
// true rune offsets.
func sections(kb, source, text string) []Passage {
	var out []Passage
	off := 0
	for i, part := range strings.SplitAfter(text, "\n\n") {
		p := Passage{ID: fmt.Sprintf("%s#%d", source, i), KB: kb, Source: source, Page: 1,
			Start: off, End: off + runeLen(part), Text: part}
		if lines := strings.SplitN(part, "\n", 2); strings.HasPrefix(lines[0], "## ") {
			p.Headings = []string{strings.TrimPrefix(lines[0], "## ")}
		}
		out = append(out, p)
		off += runeLen(part)
	}
	return out
}

func TestSearchChinese(t *testing.T) {
	ix := NewIndex()
	ix.Add(sections("kb", "faq-zh.md", faqZh)...)
	ix.Add(sections("kb", "faq-en.md", faqEn)...)
	for q, want := range map[string]string{
		"配送费怎么收？":   "15 元配送费",
		"几点开门？营业时间": "早上 8 点",
		"会员有什么优惠？":  "优惠券",
	} {
		hits := ix.Search(Query{Text: q, K: 3})
		if len(hits) == 0 || !strings.Contains(hits[0].Text, want) {
			t.Errorf("%s: top hit %v, want text with %q", q, hits, want)
		}
	}
}

func TestSearchEnglishAndRemove(t *testing.T) {
	ix := NewIndex()
	ps := sections("kb", "faq-en.md", faqEn)
	ix.Add(ps...)
	hits := ix.Search(Query{Text: "how many books can I borrow", K: 2})
	if len(hits) == 0 || !strings.Contains(hits[0].Text, "six books") {
		t.Fatalf("top hit %+v", hits)
	}
	ix.Remove(hits[0].ID)
	if ix.Len() != len(ps)-1 {
		t.Fatalf("Len after Remove = %d", ix.Len())
	}
	for _, h := range ix.Search(Query{Text: "how many books can I borrow", K: 5}) {
		if strings.Contains(h.Text, "six books") {
			t.Fatalf("removed passage still found: %q", h.Text)
		}
	}
	// Re-adding under the same ID replaces, not duplicates.
	ix.Add(ps...)
	ix.Add(ps...)
	if ix.Len() != len(ps) {
		t.Fatalf("Len after re-adding = %d, want %d", ix.Len(), len(ps))
	}
}

func TestSearchMergesOverlapping(t *testing.T) {
	doc := strings.Repeat("filler words about nothing in particular. ", 40) +
		"The secret ingredient is cardamom, ground fresh each morning. The secret recipe dates from 1921. " +
		strings.Repeat("more filler text that says nothing. ", 40)
	r := []rune(doc)
	mid := strings.Index(doc, "The secret")
	// Three overlapping windows around the answer, and one far away.
	spans := [][2]int{{mid - 200, mid + 60}, {mid + 20, mid + 300}, {mid + 280, mid + 500}, {0, 150}}
	ix := NewIndex()
	for i, s := range spans {
		ix.Add(Passage{ID: fmt.Sprint(i), KB: "kb", Source: "a.txt", Start: s[0], End: s[1], Text: string(r[s[0]:s[1]])})
	}
	ix.Add(passage("kb", "b.txt", 0, "An unrelated note about the secret of good bread."))
	hits := ix.Search(Query{Text: "secret ingredient recipe", K: 3})
	var merged *Hit
	for i := range hits {
		if hits[i].Source == "a.txt" && hits[i].Start == mid-200 {
			merged = &hits[i]
		}
	}
	if merged == nil {
		t.Fatalf("no merged hit: %+v", hits)
	}
	if merged.End < mid+300 {
		t.Errorf("merged span %d-%d, want it to reach %d", merged.Start, merged.End, mid+300)
	}
	if want := string(r[merged.Start:merged.End]); merged.Text != want {
		t.Errorf("merged text does not equal the source span:\n%q\n%q", merged.Text, want)
	}
	if strings.Count(merged.Text, "cardamom") != 1 {
		t.Errorf("overlap duplicated: %q", merged.Text)
	}
}

func TestJoinTextWithoutTrustedOffsets(t *testing.T) {
	got := joinText("alpha beta gamma", "gamma delta", 0, false)
	if got != "alpha beta gamma delta" {
		t.Errorf("joinText = %q", got)
	}
	if got := joinText("one", "two", 0, false); got != "one\ntwo" {
		t.Errorf("joinText = %q", got)
	}
}

func TestSearchDiversifies(t *testing.T) {
	ix := NewIndex()
	// One long manual where every passage mentions the term, apart from each other.
	for i := 0; i < 10; i++ {
		ix.Add(Passage{ID: fmt.Sprint("m", i), KB: "kb", Source: "manual.txt", Start: i * 1000, End: i*1000 + 100,
			Text: "warranty warranty warranty terms and the warranty period"})
	}
	ix.Add(passage("kb", "faq.txt", 0, "Our warranty lasts two years."))
	ix.Add(passage("kb", "notes.txt", 0, "Ask about the warranty at the desk."))
	hits := ix.Search(Query{Text: "warranty", K: 4})
	if len(hits) != 4 {
		t.Fatalf("got %d hits", len(hits))
	}
	per := map[string]int{}
	for _, h := range hits {
		per[h.Source]++
	}
	if per["manual.txt"] != 2 || per["faq.txt"] != 1 || per["notes.txt"] != 1 {
		t.Errorf("per source %v, want manual 2 (ceil(K/2)), faq 1, notes 1", per)
	}
	// When nothing else qualifies, the long document fills the slots.
	hits = ix.Search(Query{Text: "warranty period terms", K: 6})
	if len(hits) != 6 {
		t.Errorf("got %d hits, want 6", len(hits))
	}
	for i := 1; i < len(hits); i++ {
		if hits[i].Score > hits[i-1].Score {
			t.Errorf("hits not best first: %v", hits)
		}
	}
}

func TestSearchSourcesFilter(t *testing.T) {
	ix := NewIndex()
	ix.Add(sections("kb", "faq-en.md", faqEn)...)
	ix.Add(passage("kb", "other.md", 0, "Books can be borrowed for three weeks at the other library too."))
	hits := ix.Search(Query{Text: "borrow books weeks", K: 5, Sources: []string{"other.md"}})
	if len(hits) != 1 || hits[0].Source != "other.md" {
		t.Errorf("filtered hits = %+v", hits)
	}
}

func TestSearchMany(t *testing.T) {
	a, b := NewIndex(), NewIndex()
	a.Add(sections("a", "faq-en.md", faqEn)...)
	b.Add(sections("b", "faq-zh.md", faqZh)...)
	hits := SearchMany([]*Index{a, b, a}, Query{Text: "配送费", K: 3})
	if len(hits) == 0 || hits[0].KB != "b" {
		t.Fatalf("hits = %+v", hits)
	}
	hits = SearchMany([]*Index{a, b}, Query{Text: "late fines per book", K: 3})
	if len(hits) == 0 || hits[0].KB != "a" || !strings.Contains(hits[0].Text, "20 cents") {
		t.Fatalf("hits = %+v", hits)
	}
}

func unit(v []float32) []float32 {
	var s float64
	for _, x := range v {
		s += float64(x) * float64(x)
	}
	n := float32(math.Sqrt(s))
	for i := range v {
		v[i] /= n
	}
	return v
}

func randUnit(r *rand.Rand, d int) []float32 {
	v := make([]float32, d)
	for i := range v {
		v[i] = float32(r.NormFloat64())
	}
	return unit(v)
}

func TestSearchHybrid(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	ix := NewIndex()
	ps := sections("kb", "faq-en.md", faqEn)
	ix.Add(ps...)
	vecs := map[string][]float32{}
	for _, p := range ps {
		vecs[p.ID] = randUnit(r, 16)
		ix.SetVector(p.ID, vecs[p.ID])
	}
	if !ix.HasVectors() {
		t.Fatal("HasVectors = false after setting every vector")
	}
	ix.SetVector(ps[0].ID, make([]float32, 8)) // wrong dimensions: ignored
	// A query with no word in common with the fines section, but its vector.
	fines := ps[len(ps)-1]
	hits := ix.Search(Query{Text: "what does being slow cost me", Vector: vecs[fines.ID], K: 2})
	if len(hits) == 0 || hits[0].ID != fines.ID {
		t.Fatalf("hybrid top hit %+v, want %s", hits, fines.ID)
	}
	// Both lists agreeing beats either alone.
	hits = ix.Search(Query{Text: "borrow books", Vector: vecs[ps[1].ID], K: 3})
	if hits[0].ID != ps[1].ID {
		t.Errorf("top hit %s, want %s", hits[0].ID, ps[1].ID)
	}
	ix.Add(passage("kb", "new.md", 0, "no vector yet"))
	if ix.HasVectors() {
		t.Error("HasVectors = true with a passage lacking a vector")
	}
}

func TestConcurrentSearchAndWrite(t *testing.T) {
	ix := NewIndex()
	ps := sections("kb", "faq-en.md", faqEn)
	ix.Add(ps...)
	var wg sync.WaitGroup
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := 0; i < 200; i++ {
				if w == 0 {
					ix.Add(passage("kb", "tmp.md", i, "temporary books note"))
					ix.Remove("tmp.md#" + fmt.Sprint(i))
				} else {
					_ = ix.Search(Query{Text: "books", K: 3})
				}
			}
		}(w)
	}
	wg.Wait()
	if ix.Len() != len(ps) {
		t.Errorf("Len = %d, want %d", ix.Len(), len(ps))
	}
}

// The same passage in two files (or two knowledge bases) takes one slot of
// the top five; the hit names the other file and the next passages fill the
// slots. Line breaks that differ between the copies do not keep them apart.
func TestDuplicatePassagesTakeOneSlot(t *testing.T) {
	text := "按 CTRL-G 显示当前编辑文件中当前光标所在行位置以及文件状态信息。"
	a, b := NewIndex(), NewIndex()
	a.Add(passage("kb1", "tutor-utf8.txt", 0, text))
	b.Add(passage("kb2", "tutor-gb2312.txt", 0, strings.Replace(text, "显示", "显示\n", 1)))
	for i := 0; i < 6; i++ {
		a.Add(passage("kb1", fmt.Sprintf("other%d.txt", i), 0, fmt.Sprintf("第%d份说明：光标所在行的内容与文件无关。", i)))
	}
	hits := SearchMany([]*Index{a, b}, Query{Text: "怎样显示光标所在行的位置", K: 5})
	if len(hits) != 5 {
		t.Fatalf("%d hits, want 5 (the others fill the slot the copy would take)", len(hits))
	}
	n := 0
	for _, h := range hits {
		if strings.HasPrefix(h.Source, "tutor-") {
			n++
			other := map[string]string{"tutor-utf8.txt": "tutor-gb2312.txt", "tutor-gb2312.txt": "tutor-utf8.txt"}[h.Source]
			if len(h.AlsoIn) != 1 || h.AlsoIn[0] != other {
				t.Fatalf("%s is also in %v, want [%s]", h.Source, h.AlsoIn, other)
			}
		}
	}
	if n != 1 {
		t.Fatalf("the same passage took %d of the top five slots", n)
	}
	if !strings.HasPrefix(hits[0].Source, "tutor-") {
		t.Fatalf("top hit %s, want the CTRL-G passage", hits[0].Source)
	}
}

// Mixed Chinese-English queries: the passage holding both the English word
// and the Chinese phrase comes first, with or without a space between them.
func TestMixedChineseEnglishQuery(t *testing.T) {
	ix := NewIndex()
	ix.Add(
		passage("kb", "a.txt", 0, "语法高亮的颜色可以在配色方案中修改，深色背景请选用合适的方案。"),
		passage("kb", "b.txt", 0, "vimrc 是 Vim 的配置文件，启动时读取，可以放各种设置。"),
		passage("kb", "c.txt", 0, "在 vimrc 文件中加入 :syntax on 一行，编辑器就会有语法高亮的功能。"),
		passage("kb", "d.txt", 0, "The vimrc file holds your settings; vimrc vimrc vimrc."),
		passage("kb", "e.txt", 0, "高亮显示搜索结果：:set hls，语法方面的内容见帮助。"),
	)
	for _, q := range []string{"vimrc 语法高亮", "vimrc语法高亮", "怎么在vimrc里打开语法高亮"} {
		hits := ix.Search(Query{Text: q, K: 5})
		if len(hits) == 0 || hits[0].Source != "c.txt" {
			var got []string
			for _, h := range hits {
				got = append(got, h.Source)
			}
			t.Errorf("%q: got %v, want c.txt first", q, got)
		}
	}
}
