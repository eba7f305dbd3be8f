package ingest

import (
	"archive/zip"
	"bytes"
	"context"
	"io"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/xuri/excelize/v2"
)

// chunkAt returns the chunk cited by cite, failing the test if none is.
func chunkAt(t *testing.T, chunks []Chunk, cite string) Chunk {
	t.Helper()
	for _, c := range chunks {
		if len(c.Headings) > 0 && c.Headings[len(c.Headings)-1] == cite {
			return c
		}
	}
	var got []string
	for _, c := range chunks {
		got = append(got, strings.Join(c.Headings, " > ")+": "+c.Text)
	}
	t.Fatalf("no chunk cited %q; chunks:\n%s", cite, strings.Join(got, "\n"))
	return Chunk{}
}

// rewriteZip replaces entries of a zip archive (nil data deletes one).
func rewriteZip(t *testing.T, data []byte, edit func(name string, body []byte) []byte) []byte {
	t.Helper()
	zr, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	zw := zip.NewWriter(&out)
	for _, zf := range zr.File {
		rc, _ := zf.Open()
		body, _ := io.ReadAll(rc)
		rc.Close()
		w, _ := zw.Create(zf.Name)
		w.Write(edit(zf.Name, body))
	}
	zw.Close()
	return out.Bytes()
}

func TestXLSXSheetsRowsAndCitations(t *testing.T) {
	f := excelize.NewFile()
	// Sheet "Cakes": a merged title, a two-level header whose "Price" group
	// is merged over two columns, a vertically merged flavour, a formula.
	f.SetSheetName("Sheet1", "Cakes")
	set := func(sheet, cell string, v any) {
		if err := f.SetCellValue(sheet, cell, v); err != nil {
			t.Fatal(err)
		}
	}
	set("Cakes", "A1", "Cake prices 2026")
	f.MergeCell("Cakes", "A1", "D1")
	set("Cakes", "A2", "Size")
	f.MergeCell("Cakes", "A2", "A3")
	set("Cakes", "B2", "Flavour")
	f.MergeCell("Cakes", "B2", "B3")
	set("Cakes", "C2", "Price")
	f.MergeCell("Cakes", "C2", "D2")
	set("Cakes", "C3", "Small")
	set("Cakes", "D3", "Large")
	set("Cakes", "A4", "20 cm")
	set("Cakes", "B4", "chocolate")
	f.MergeCell("Cakes", "B4", "B5")
	set("Cakes", "C4", 38)
	f.SetCellFormula("Cakes", "D4", "C4*2") // no cached value: computed
	set("Cakes", "A5", "25 cm")
	set("Cakes", "C5", 45)
	f.SetCellFormula("Cakes", "D5", "C5*2") // a cached value is patched in below
	// Sheet "Orders": dates, Chinese, a column without a header.
	f.NewSheet("Orders")
	set("Orders", "A1", "日期")
	set("Orders", "B1", "客户")
	set("Orders", "A2", time.Date(2026, 3, 14, 0, 0, 0, 0, time.UTC))
	set("Orders", "B2", "王小明")
	set("Orders", "C2", "加急")
	var buf bytes.Buffer
	if err := f.Write(&buf); err != nil {
		t.Fatal(err)
	}
	// A spreadsheet app stores each formula's result; 99 (not 90) proves
	// the cached value is read rather than computed again.
	data := rewriteZip(t, buf.Bytes(), func(name string, body []byte) []byte {
		if strings.HasPrefix(name, "xl/worksheets/") {
			body = bytes.Replace(body, []byte("<f>C5*2</f></c>"), []byte("<f>C5*2</f><v>99</v></c>"), 1)
			body = bytes.Replace(body, []byte(`t="str"><f>C5*2</f><v>`), []byte(`><f>C5*2</f><v>`), 1)
		}
		return body
	})
	p := writeFile(t, t.TempDir(), "prices.xlsx", data)
	doc, err := Extract(context.Background(), p, DefaultLimits())
	if err != nil {
		t.Fatal(err)
	}
	if doc.Format != "xlsx" || doc.Pages != 2 {
		t.Fatalf("format %q, %d sheets; want xlsx, 2", doc.Format, doc.Pages)
	}
	chunks := Split(doc, DefaultChunkOptions())
	for cite, want := range map[string]string{
		`Sheet "Cakes" · row 1`:  "Cake prices 2026",
		`Sheet "Cakes" · row 4`:  "Size: 20 cm · Flavour: chocolate · Price › Small: 38 · Price › Large: 76",
		`Sheet "Cakes" · row 5`:  "Size: 25 cm · Flavour: chocolate · Price › Small: 45 · Price › Large: 99",
		`Sheet "Orders" · row 2`: "日期: 2026-03-14 · 客户: 王小明 · column C: 加急",
	} {
		if c := chunkAt(t, chunks, cite); c.Text != want {
			t.Errorf("%s:\n got %q\nwant %q", cite, c.Text, want)
		}
	}
	if len(chunks) != 4 {
		t.Errorf("%d chunks, want one per row and the title (4)", len(chunks))
	}
	// Offsets still cite the document's text.
	text := []rune(doc.Text())
	for _, c := range chunks {
		if string(text[c.Start:c.End]) != c.Text {
			t.Errorf("chunk %q does not match its offsets", c.Text)
		}
	}
}

func TestXLSXFolderPickedUp(t *testing.T) {
	dir := t.TempDir()
	f := excelize.NewFile()
	f.SetCellValue("Sheet1", "A1", "k")
	f.SetCellValue("Sheet1", "B1", "v")
	f.SetCellValue("Sheet1", "A2", "x")
	f.SetCellValue("Sheet1", "B2", "y")
	if err := f.SaveAs(filepath.Join(dir, "a.xlsx")); err != nil {
		t.Fatal(err)
	}
	writeFile(t, dir, "b.pptx", buildPPTX(t, [][2]string{{"Hello", ""}}))
	files, ignored, _ := Collect([]string{dir})
	if len(files) != 2 || len(ignored) != 0 {
		t.Fatalf("files %v, ignored %v; want both picked up", files, ignored)
	}
}

// buildPPTX assembles a presentation from slides of (text, notes); text
// lines become paragraphs, the first one the title.
func buildPPTX(t testing.TB, slides [][2]string) []byte {
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	put := func(name, body string) {
		w, err := zw.Create(name)
		if err != nil {
			t.Fatal(err)
		}
		w.Write([]byte(body))
	}
	const ns = `xmlns:a="http://schemas.openxmlformats.org/drawingml/2006/main" xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships" xmlns:p="http://schemas.openxmlformats.org/presentationml/2006/main"`
	shape := func(ph string, lines []string) string {
		var sb strings.Builder
		sb.WriteString(`<p:sp><p:nvSpPr><p:cNvPr id="2" name="x"/><p:cNvSpPr/><p:nvPr>` + ph + `</p:nvPr></p:nvSpPr><p:txBody><a:bodyPr/>`)
		for _, l := range lines {
			sb.WriteString(`<a:p><a:r><a:t>` + l + `</a:t></a:r></a:p>`)
		}
		sb.WriteString(`</p:txBody></p:sp>`)
		return sb.String()
	}
	var ids, rels strings.Builder
	// Slides are listed in reverse file order, to check the presentation's
	// order wins over file names.
	for i := range slides {
		n := len(slides) - i
		ids.WriteString(`<p:sldId id="` + strconv.Itoa(256+i) + `" r:id="rId` + strconv.Itoa(n) + `"/>`)
		rels.WriteString(`<Relationship Id="rId` + strconv.Itoa(n) + `" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/slide" Target="slides/slide` + strconv.Itoa(n) + `.xml"/>`)
		s := slides[i]
		lines := strings.Split(s[0], "\n")
		body := shape(`<p:ph type="title"/>`, lines[:1]) + shape(`<p:ph idx="1"/>`, lines[1:])
		put("ppt/slides/slide"+strconv.Itoa(n)+".xml", `<?xml version="1.0"?><p:sld `+ns+`><p:cSld><p:spTree>`+body+`</p:spTree></p:cSld></p:sld>`)
		if s[1] != "" {
			put("ppt/slides/_rels/slide"+strconv.Itoa(n)+".xml.rels", `<?xml version="1.0"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId2" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/notesSlide" Target="../notesSlides/notesSlide`+strconv.Itoa(n)+`.xml"/></Relationships>`)
			notes := shape(`<p:ph type="sldImg"/>`, nil) + shape(`<p:ph type="body" idx="1"/>`, strings.Split(s[1], "\n")) + shape(`<p:ph type="sldNum"/>`, []string{strconv.Itoa(n)})
			put("ppt/notesSlides/notesSlide"+strconv.Itoa(n)+".xml", `<?xml version="1.0"?><p:notes `+ns+`><p:cSld><p:spTree>`+notes+`</p:spTree></p:cSld></p:notes>`)
		}
	}
	put("[Content_Types].xml", `<?xml version="1.0"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"/>`)
	put("ppt/presentation.xml", `<?xml version="1.0"?><p:presentation `+ns+`><p:sldIdLst>`+ids.String()+`</p:sldIdLst></p:presentation>`)
	put("ppt/_rels/presentation.xml.rels", `<?xml version="1.0"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">`+rels.String()+`</Relationships>`)
	zw.Close()
	return buf.Bytes()
}

func TestPPTXSlidesAndNotes(t *testing.T) {
	data := buildPPTX(t, [][2]string{
		{"Opening hours\nTuesday to Sunday, 8:00 to 18:00", "Mention that we close on Mondays."},
		{"蛋糕价格\n二十厘米巧克力蛋糕三十八元", ""},
		{"Thanks", "Ask for questions"},
	})
	p := writeFile(t, t.TempDir(), "deck.pptx", data)
	doc, err := Extract(context.Background(), p, DefaultLimits())
	if err != nil {
		t.Fatal(err)
	}
	if doc.Format != "pptx" || doc.Pages != 3 {
		t.Fatalf("format %q, %d slides; want pptx, 3", doc.Format, doc.Pages)
	}
	chunks := Split(doc, DefaultChunkOptions())
	for cite, want := range map[string]string{
		"Slide 1": "Opening hours\n\nTuesday to Sunday, 8:00 to 18:00\n\nSpeaker notes: Mention that we close on Mondays.",
		"Slide 2": "蛋糕价格\n\n二十厘米巧克力蛋糕三十八元",
		"Slide 3": "Thanks\n\nSpeaker notes: Ask for questions",
	} {
		if c := chunkAt(t, chunks, cite); c.Text != want {
			t.Errorf("%s:\n got %q\nwant %q", cite, c.Text, want)
		}
	}
	if len(chunks) != 3 {
		t.Errorf("%d chunks, want one per slide", len(chunks))
	}
}

func TestODSSheets(t *testing.T) {
	content := `<?xml version="1.0" encoding="UTF-8"?>
<office:document-content xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0" xmlns:table="urn:oasis:names:tc:opendocument:xmlns:table:1.0" xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0">
<office:body><office:spreadsheet>
<table:table table:name="Cakes">
 <table:table-row><table:table-cell table:number-columns-spanned="3"><text:p>Price list</text:p></table:table-cell><table:covered-table-cell table:number-columns-repeated="2"/></table:table-row>
 <table:table-row><table:table-cell><text:p>Size</text:p></table:table-cell><table:table-cell><text:p>Flavour</text:p></table:table-cell><table:table-cell><text:p>Price</text:p></table:table-cell></table:table-row>
 <table:table-row table:number-rows-repeated="2"><table:table-cell table:number-columns-repeated="3"/></table:table-row>
 <table:table-row><table:table-cell><text:p>20 cm</text:p></table:table-cell><table:table-cell><text:p>chocolate</text:p></table:table-cell><table:table-cell office:value-type="float" office:value="38" table:formula="of:=[.D5]*2"><text:p>38</text:p></table:table-cell></table:table-row>
 <table:table-row table:number-rows-repeated="1048570"><table:table-cell table:number-columns-repeated="1024"/></table:table-row>
</table:table>
<table:table table:name="订单">
 <table:table-row><table:table-cell><text:p>日期</text:p></table:table-cell><table:table-cell><text:p>客户</text:p></table:table-cell></table:table-row>
 <table:table-row><table:table-cell office:value-type="date" office:date-value="2026-03-14"><text:p>14/03/26</text:p></table:table-cell><table:table-cell><text:p>王<text:s/>小明</text:p></table:table-cell></table:table-row>
</table:table>
</office:spreadsheet></office:body></office:document-content>`
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	w, _ := zw.CreateHeader(&zip.FileHeader{Name: "mimetype", Method: zip.Store})
	w.Write([]byte("application/vnd.oasis.opendocument.spreadsheet"))
	w, _ = zw.Create("content.xml")
	w.Write([]byte(content))
	zw.Close()
	p := writeFile(t, t.TempDir(), "prices.ods", buf.Bytes())
	doc, err := Extract(context.Background(), p, DefaultLimits())
	if err != nil {
		t.Fatal(err)
	}
	if doc.Format != "ods" || doc.Pages != 2 {
		t.Fatalf("format %q, %d sheets; want ods, 2", doc.Format, doc.Pages)
	}
	chunks := Split(doc, DefaultChunkOptions())
	for cite, want := range map[string]string{
		`Sheet "Cakes" · row 1`: "Price list",
		`Sheet "Cakes" · row 5`: "Size: 20 cm · Flavour: chocolate · Price: 38",
		`Sheet "订单" · row 2`:    "日期: 2026-03-14 · 客户: 王 小明",
	} {
		if c := chunkAt(t, chunks, cite); c.Text != want {
			t.Errorf("%s:\n got %q\nwant %q", cite, c.Text, want)
		}
	}
	if len(chunks) != 3 {
		t.Errorf("%d chunks, want 3", len(chunks))
	}
}
