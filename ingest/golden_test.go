package ingest

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/text/encoding/simplifiedchinese"
)

var update = flag.Bool("update", false, "rewrite testdata fixtures and golden files")

var tinyCJK = []rune("本地优先软件的数据保存在用户设备上。隐私很重要！")

// tinyPDF is the committed PDF fixture: TeX-like TJ kerning instead of
// space characters, a running header and page numbers, a heading, a
// hyphenated line break, a CJK page and an empty (scanned-like) page.
func tinyPDF() []byte {
	body := func(n int, lines ...string) pdfPage {
		var sb strings.Builder
		sb.WriteString("BT /F1 9 Tf 72 800 Td [(Atoll)-333(Test)-333(Manual)]TJ ET\n")
		y := 740
		for _, l := range lines {
			fmt.Fprintf(&sb, "BT /F1 10 Tf 72 %d Td %s ET\n", y, l)
			y -= 12
		}
		fmt.Fprintf(&sb, "BT /F1 9 Tf 290 40 Td (%d)Tj ET\n", n)
		return pdfPage(sb.String())
	}
	p1 := body(1,
		"/F1 18 Tf [(Getting)-333(started)]TJ",
		"( )Tj",
		"[(Atoll)-333(reads)-333(your)-333(files)-333(locally.)-333(Text)-333(extrac-)]TJ",
		"[(tion)-333(keeps)-333(page)-333(numbers)-333(for)-333(citations.)]TJ",
	)
	p2 := body(2,
		"/F3 10 Tf (Helvetica without widths: words keep their spaces.) Tj",
		"[(Second)-333(paragraph)-333(on)-333(page)-333(two.)]TJ",
	)
	p3 := body(3, "/F2 10 Tf "+cjkHex("本地优先软件的数据保存在用户设备上。", tinyCJK)+" Tj",
		"/F2 10 Tf "+cjkHex("隐私很重要！", tinyCJK)+" Tj")
	return buildPDF([]pdfPage{p1, p2, p3, ""}, tinyCJK)
}

func tinyDOCX(t testing.TB) []byte {
	return buildDOCX(t, wPara("a1", "Project plan")+
		wPara("", "The plan has two phases.")+
		`<w:p><w:pPr><w:numPr><w:ilvl w:val="0"/><w:numId w:val="1"/></w:numPr></w:pPr><w:r><w:t>Collect the files</w:t></w:r></w:p>`+
		wPara("Heading2", "预算")+
		`<w:tbl><w:tr><w:tc>`+wPara("", "Item")+`</w:tc><w:tc>`+wPara("", "Cost")+`</w:tc></w:tr>`+
		`<w:tr><w:tc>`+wPara("", "Laptop")+`</w:tc><w:tc>`+wPara("", "1200")+`</w:tc></w:tr></w:tbl>`+
		`<w:p><w:r><w:t>Kept</w:t></w:r><w:del><w:r><w:delText>deleted</w:delText></w:r></w:del><w:r><w:tab/><w:t>text</w:t></w:r></w:p>`)
}

func gbkText(t testing.TB) []byte {
	b, err := simplifiedchinese.GBK.NewEncoder().Bytes([]byte("国标编码的中文文件。\n\n第二段内容，测试转换。\n"))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestFixtures keeps the committed fixtures equal to what the generators in
// this file make (-update rewrites them).
func TestFixtures(t *testing.T) {
	for name, data := range map[string][]byte{"tiny.pdf": tinyPDF(), "sample.docx": tinyDOCX(t), "gbk.txt": gbkText(t)} {
		if *update {
			writeFile(t, "testdata", name, data)
			continue
		}
		have, err := os.ReadFile(filepath.Join("testdata", name))
		if err != nil || !bytes.Equal(have, data) {
			t.Errorf("testdata/%s differs from its generator (%v); run go test ./ingest -update", name, err)
		}
	}
}

func dumpDoc(doc *Document, chunks []Chunk) string {
	var sb strings.Builder
	fmt.Fprintf(&sb, "format=%s pages=%d\n", doc.Format, doc.Pages)
	for _, w := range doc.Warnings {
		fmt.Fprintf(&sb, "warning: %s\n", w)
	}
	sb.WriteString("-- blocks\n")
	for _, b := range doc.Blocks {
		fmt.Fprintf(&sb, "[%s %d p%d] %q\n", b.Kind, b.Level, b.Page, b.Text)
	}
	sb.WriteString("-- chunks\n")
	for i, c := range chunks {
		fmt.Fprintf(&sb, "#%d p%d %d-%d %q %q\n", i, c.Page, c.Start, c.End, strings.Join(c.Headings, " > "), c.Text)
	}
	return sb.String()
}

func TestGoldenExtraction(t *testing.T) {
	for _, name := range []string{"sample.md", "sample.html", "sample.txt", "sample.csv", "zh.txt", "gbk.txt", "sample.docx", "tiny.pdf", "cid-no-tounicode.pdf", "encrypted-empty-password.pdf"} {
		t.Run(name, func(t *testing.T) {
			doc, err := Extract(context.Background(), filepath.Join("testdata", name), DefaultLimits())
			if err != nil {
				t.Fatal(err)
			}
			opt := ChunkOptions{Target: 200, Overlap: 30, Min: 20}
			chunks := Split(doc, opt)
			checkChunks(t, doc, chunks, opt)
			got := dumpDoc(doc, chunks)
			golden := filepath.Join("testdata", "golden", name+".golden")
			if *update {
				os.MkdirAll(filepath.Dir(golden), 0o755)
				writeFile(t, filepath.Dir(golden), filepath.Base(golden), []byte(got))
				return
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run go test -run Golden -update)", err)
			}
			if got != string(want) {
				t.Errorf("extraction of %s changed; diff against %s:\n%s", name, golden, got)
			}
		})
	}
}

// checkChunks asserts the invariants citations depend on.
func checkChunks(t *testing.T, doc *Document, chunks []Chunk, opt ChunkOptions) {
	t.Helper()
	runes := []rune(doc.Text())
	prevStart := -1
	for i, c := range chunks {
		if c.Start < 0 || c.End > len(runes) || c.Start >= c.End {
			t.Fatalf("chunk %d has bad range %d-%d (text has %d runes)", i, c.Start, c.End, len(runes))
		}
		if string(runes[c.Start:c.End]) != c.Text {
			t.Fatalf("chunk %d text != Text()[%d:%d]", i, c.Start, c.End)
		}
		if c.Start <= prevStart {
			t.Fatalf("chunk %d starts at %d, not after chunk %d at %d", i, c.Start, i-1, prevStart)
		}
		prevStart = c.Start
		if n := c.End - c.Start; n > opt.Target+opt.Min+opt.Overlap+2 { // +2: a merged tail brings its separator
			t.Errorf("chunk %d has %d runes, target %d", i, n, opt.Target)
		}
	}
}
