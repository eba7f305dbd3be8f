package ingest

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

func pdfText(t *testing.T, pages ...pdfPage) *Document {
	t.Helper()
	return extractBytes(t, "t.pdf", buildPDF(pages, tinyCJK))
}

// TestPDFActualText: marked content's ActualText replaces the glyphs inside
// it, over several glyphs, inside other marked content, and when nested
// (the outermost span's text covers the inner one); an empty one drops its
// glyphs (wkhtmltopdf's second, fake-bold pass).
func TestPDFActualText(t *testing.T) {
	cases := []struct {
		name, content, want string
	}{
		{"one glyph", `BT /F1 10 Tf 72 700 Td (A) Tj /Span <</ActualText <FEFF957F>>> BDC (x) Tj EMC (B) Tj ET`, "A长B"},
		{"several glyphs", `BT /F1 10 Tf 72 700 Td (The ) Tj /Span <</ActualText (office)>> BDC (o\003ce) Tj EMC ( hours) Tj ET`, "The office hours"},
		{"inside other marked content", `/P <</MCID 0>> BDC BT /F1 10 Tf 72 700 Td /Span <</ActualText <FEFF9752>>> BDC (q) Tj EMC (!) Tj ET EMC`, "青!"},
		{"nested", `BT /F1 10 Tf 72 700 Td /Span <</ActualText (outer)>> BDC (a) Tj /Span <</ActualText (inner)>> BDC (b) Tj EMC (c) Tj EMC ( end) Tj ET`, "outer end"},
		{"spans text objects", `/Span <</ActualText (Hello)>> BDC BT /F1 10 Tf 72 700 Td (Hx) Tj ET BT /F1 10 Tf 84 700 Td (yz) Tj ET EMC`, "Hello"},
		{"empty", `BT /F1 10 Tf 72 700 Td (Bold) Tj 1 0 0 1 72.3 700 Tm /Span <</ActualText <>>> BDC (Bold) Tj EMC ( text) Tj ET`, "Bold text"},
		{"named property", `BT /F1 10 Tf 72 700 Td /Span /NoSuch BDC (kept) Tj EMC ET`, "kept"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			doc := pdfText(t, pdfPage(c.content))
			if got := doc.Text(); got != c.want {
				t.Errorf("got %q, want %q", got, c.want)
			}
		})
	}
}

// TestPDFOverprintMerged: a run drawn a second time over itself, slightly
// offset and with no marked content, is read once; the same word written
// again further along the line is kept.
func TestPDFOverprintMerged(t *testing.T) {
	doc := pdfText(t, pdfPage(`BT /F1 10 Tf 1 0 0 1 72 700 Tm (Cost Breakdown) Tj 1 0 0 1 72.4 700 Tm (Cost Breakdown) Tj ( and Cost) Tj ET`))
	if got := doc.Text(); got != "Cost Breakdown and Cost" {
		t.Errorf("got %q", got)
	}
}

// TestPDFSimpleFontTwoByteCodespace: a simple font whose ToUnicode declares
// <0000> <FFFF> (groff) still reads one byte per code, so glyph widths and
// the word gaps they make come out right.
func TestPDFSimpleFontTwoByteCodespace(t *testing.T) {
	cmap := "/CIDInit /ProcSet findresource begin 12 dict begin begincmap /CMapName /Adobe-Identity-UCS def /CMapType 2 def\n" +
		"1 begincodespacerange <0000> <FFFF> endcodespacerange\n" +
		"1 beginbfrange <008c> <008c> <00660069> endbfrange\nendcmap CMapName currentdict /CMap defineresource pop end end\n"
	font := "<< /Type /Font /Subtype /Type1 /BaseFont /Times-Roman /Encoding << /Type /Encoding /Differences [140 /fi] >> /FirstChar 32 /LastChar 255 /Widths [" +
		strings.Repeat("500 ", 224) + "] /ToUnicode 4 0 R >>"
	pdf := string(buildPDF([]pdfPage{`BT /F1 10 Tf 72 700 Td [(Bash)-250(is)-250(an)-250(sh-compatible,)-250(ef\214cient.)]TJ ET`}, tinyCJK))
	// Swap F1 (object 3) for the groff-like font, and object 4 (the CJK
	// font's CMap) for this one: offsets change, so rebuild the xref.
	pdf = rebuildWith(t, pdf, map[int]string{3: font, 4: streamObj(cmap)})
	doc := extractBytes(t, "groff.pdf", []byte(pdf))
	if got := doc.Text(); got != "Bash is an sh-compatible, efficient." {
		t.Errorf("got %q", got)
	}
}

// TestPDFRunningHeadersStillDropped: a short line at the same height on
// every page, set apart from the body, and page numbers are dropped; a
// boilerplate first body line at the same height on every page is not.
func TestPDFRunningHeadersStillDropped(t *testing.T) {
	var pages []pdfPage
	for i := 1; i <= 5; i++ {
		var sb strings.Builder
		sb.WriteString("BT /F1 9 Tf 72 800 Td (Annual Report 2024) Tj ET\n")
		sb.WriteString("BT /F1 10 Tf 72 740 Td (Keep receipts for every purchase.) Tj ET\n")
		for j := 0; j < 6; j++ {
			sb.WriteString("BT /F1 10 Tf 72 " + itoa(728-12*j) + " Td (Body line " + itoa(i*10+j) + " of the page.) Tj ET\n")
		}
		sb.WriteString("BT /F1 9 Tf 290 40 Td (" + itoa(i) + ") Tj ET\n")
		pages = append(pages, pdfPage(sb.String()))
	}
	doc := pdfText(t, pages...)
	text := doc.Text()
	if strings.Contains(text, "Annual Report") {
		t.Errorf("running header kept: %q", text)
	}
	if n := strings.Count(text, "Keep receipts for every purchase."); n != 5 {
		t.Errorf("boilerplate body line kept %d times, want 5: %q", n, text)
	}
	for _, b := range doc.Blocks {
		if strings.TrimSpace(b.Text) == "3" {
			t.Errorf("page number kept as a block")
		}
	}
}

func itoa(i int) string { return strconv.Itoa(i) }

func streamObj(s string) string {
	return fmt.Sprintf("<< /Length %d >>\nstream\n%s\nendstream", len(s)+1, s)
}

var pdfObjRe = regexp.MustCompile(`(?s)(\d+) 0 obj\n(.*?)\nendobj\n`)

// rebuildWith replaces whole objects of a buildPDF file and writes a new
// cross-reference table.
func rebuildWith(t *testing.T, pdf string, repl map[int]string) string {
	t.Helper()
	var objs []string
	for _, m := range pdfObjRe.FindAllStringSubmatch(pdf, -1) {
		n, _ := strconv.Atoi(m[1])
		if n != len(objs)+1 {
			t.Fatalf("object %d out of order", n)
		}
		body := m[2]
		if r, ok := repl[n]; ok {
			body = r
		}
		objs = append(objs, body)
	}
	var b strings.Builder
	b.WriteString("%PDF-1.4\n")
	offs := make([]int, len(objs))
	for i, o := range objs {
		offs[i] = b.Len()
		fmt.Fprintf(&b, "%d 0 obj\n%s\nendobj\n", i+1, o)
	}
	x := b.Len()
	fmt.Fprintf(&b, "xref\n0 %d\n0000000000 65535 f \n", len(objs)+1)
	for _, o := range offs {
		fmt.Fprintf(&b, "%010d 00000 n \n", o)
	}
	fmt.Fprintf(&b, "trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n", len(objs)+1, x)
	return b.String()
}
