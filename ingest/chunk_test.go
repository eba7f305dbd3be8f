package ingest

import (
	"context"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"
)

func docOf(blocks ...Block) *Document { return &Document{Format: "text", Blocks: blocks} }

func TestSplitChineseHasNoGiantChunks(t *testing.T) {
	doc, err := Extract(context.Background(), "testdata/zh.txt", DefaultLimits())
	if err != nil {
		t.Fatal(err)
	}
	// Ten copies as one paragraph each and as one huge paragraph.
	long := strings.Repeat(doc.Text()+"\n\n", 10)
	for _, d := range []*Document{
		docOf(Block{Kind: KindParagraph, Text: long}),
		docOf(Block{Kind: KindParagraph, Text: strings.ReplaceAll(long, "\n\n", "")}),
	} {
		opt := DefaultChunkOptions()
		chunks := Split(d, opt)
		checkChunks(t, d, chunks, opt)
		total := utf8.RuneCountInString(d.Text())
		if len(chunks) < total/opt.Target {
			t.Fatalf("%d runes became only %d chunks", total, len(chunks))
		}
		for i, c := range chunks[:len(chunks)-1] {
			last, _ := utf8.DecodeLastRuneInString(c.Text)
			if !strings.ContainsRune("。！？；…", last) {
				t.Errorf("chunk %d ends mid-sentence: …%s", i, string([]rune(c.Text)[max(0, len([]rune(c.Text))-10):]))
			}
		}
	}
}

func TestSplitNoPunctuationAtAll(t *testing.T) {
	han := strings.Repeat("本地优先软件把数据保存在用户自己的设备上", 200) // 4000 runes, no stops
	mixed := strings.Repeat("supercalifragilistic ", 300)
	for _, text := range []string{han, mixed, strings.Repeat("x", 5000)} {
		d := docOf(Block{Kind: KindParagraph, Text: strings.TrimSpace(text)})
		opt := DefaultChunkOptions()
		chunks := Split(d, opt)
		checkChunks(t, d, chunks, opt)
		if len(chunks) < 5 {
			t.Fatalf("got %d chunks", len(chunks))
		}
		if text == mixed {
			for i, c := range chunks {
				if !strings.HasPrefix(c.Text, "super") || !strings.HasSuffix(c.Text, "stic") {
					t.Fatalf("chunk %d cuts a word: %q…%q", i, c.Text[:10], c.Text[len(c.Text)-10:])
				}
			}
		}
	}
}

func TestSplitStructure(t *testing.T) {
	para := func(page int, s string) Block { return Block{Kind: KindParagraph, Page: page, Text: s} }
	doc := docOf(
		Block{Kind: KindHeading, Level: 1, Page: 1, Text: "Guide"},
		para(1, strings.Repeat("Alpha beta gamma. ", 30)),
		Block{Kind: KindHeading, Level: 2, Page: 1, Text: "Install"},
		para(1, "Short."),
		para(2, strings.Repeat("Delta epsilon zeta. ", 30)),
		Block{Kind: KindHeading, Level: 2, Page: 3, Text: "Empty section"},
		Block{Kind: KindHeading, Level: 3, Page: 3, Text: "Sub"},
		para(3, strings.Repeat("Eta theta. ", 20)),
		para(3, "ok"),
	)
	opt := ChunkOptions{Target: 300, Overlap: 50, Min: 20}
	chunks := Split(doc, opt)
	checkChunks(t, doc, chunks, opt)
	for _, c := range chunks {
		t.Logf("p%d %v %d-%d %q", c.Page, c.Headings, c.Start, c.End, c.Text[:min(len(c.Text), 40)])
	}
	if got := strings.Join(chunks[0].Headings, ">"); got != "Guide" {
		t.Fatalf("first trail %q", got)
	}
	sawInstall, sawSub := false, false
	for _, c := range chunks {
		trail := strings.Join(c.Headings, ">")
		if strings.Contains(c.Text, "Delta") {
			if trail != "Guide>Install" || c.Page != 2 {
				t.Errorf("Delta chunk: page %d trail %q", c.Page, trail)
			}
			sawInstall = true
		}
		if strings.Contains(c.Text, "Eta theta") {
			if trail != "Guide>Empty section>Sub" || !strings.Contains(c.Text, "Empty section") {
				t.Errorf("Eta chunk: trail %q text %q", trail, c.Text[:30])
			}
			sawSub = true
		}
		if strings.HasSuffix(c.Text, "ok") && c.End-c.Start < opt.Min {
			t.Errorf("tiny trailing chunk not merged")
		}
		if strings.Contains(c.Text, "Alpha") && strings.Contains(c.Text, "Delta") {
			t.Errorf("chunk crosses a heading")
		}
	}
	if !sawInstall || !sawSub {
		t.Fatal("missing sections")
	}
	for i, c := range chunks {
		r, _ := utf8.DecodeRuneInString(c.Text)
		if !unicode.IsUpper(r) {
			t.Errorf("chunk %d does not start at a sentence: %q", i, c.Text[:20])
		}
	}
}

func TestSplitEmpty(t *testing.T) {
	if c := Split(&Document{}, DefaultChunkOptions()); c != nil {
		t.Fatal(c)
	}
	if c := Split(nil, DefaultChunkOptions()); c != nil {
		t.Fatal(c)
	}
	d := docOf(Block{Kind: KindParagraph, Text: "x"})
	if c := Split(d, ChunkOptions{}); len(c) != 1 || c[0].Text != "x" {
		t.Fatal(c)
	}
}

// TestChunkStatsChinese logs the statistics quoted in the report.
func TestChunkStatsChinese(t *testing.T) {
	doc, err := Extract(context.Background(), "testdata/zh.txt", DefaultLimits())
	if err != nil {
		t.Fatal(err)
	}
	d := docOf(Block{Kind: KindParagraph, Text: strings.Repeat(doc.Text(), 8)})
	for _, dd := range []*Document{doc, d} {
		chunks := Split(dd, DefaultChunkOptions())
		mn, mx, sum := 1<<30, 0, 0
		for _, c := range chunks {
			n := c.End - c.Start
			mn, mx, sum = min(mn, n), max(mx, n), sum+n
		}
		t.Logf("%d runes -> %d chunks, min %d, mean %d, max %d runes", utf8.RuneCountInString(dd.Text()), len(chunks), mn, sum/len(chunks), mx)
	}
}
