package ingest

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"testing"

	"golang.org/x/text/encoding/simplifiedchinese"
	xunicode "golang.org/x/text/encoding/unicode"
)

func extractBytes(t *testing.T, name string, data []byte) *Document {
	t.Helper()
	doc, err := Extract(context.Background(), writeFile(t, t.TempDir(), name, data), DefaultLimits())
	if err != nil {
		t.Fatal(err)
	}
	return doc
}

func TestEncodings(t *testing.T) {
	utf16le, _ := xunicode.UTF16(xunicode.LittleEndian, xunicode.UseBOM).NewEncoder().Bytes([]byte("Hello 世界\n\nsecond"))
	utf16be, _ := xunicode.UTF16(xunicode.BigEndian, xunicode.UseBOM).NewEncoder().Bytes([]byte("Hello 世界"))
	gb, _ := simplifiedchinese.GB18030.NewEncoder().Bytes([]byte("<html><head><meta charset=\"gb2312\"></head><body><p>你好，世界。</p></body></html>"))
	cases := []struct {
		name string
		data []byte
		want string
	}{
		{"bom.txt", []byte("\xEF\xBB\xBFwith BOM"), "with BOM"},
		{"le.txt", utf16le, "Hello 世界\n\nsecond"},
		{"be.txt", utf16be, "Hello 世界"},
		{"gbk.html", gb, "你好，世界。"},
		{"ctl.txt", []byte("a\x00b\x07c\r\nd"), ""}, // binary: NUL in the head
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			doc, err := Extract(context.Background(), writeFile(t, t.TempDir(), c.name, c.data), DefaultLimits())
			if c.want == "" {
				if err == nil {
					t.Fatalf("want an error, got %q", doc.Text())
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if doc.Text() != c.want || len(doc.Warnings) != 0 {
				t.Fatalf("got %q %q", doc.Text(), doc.Warnings)
			}
		})
	}
}

func TestPDFDamagedPageKeepsTheRest(t *testing.T) {
	// "end" without "begin" makes the library's interpreter panic mid-page.
	data := buildPDF([]pdfPage{
		"BT /F1 10 Tf 72 700 Td (Before the damage.) Tj ET end BT /F1 10 Tf 72 680 Td (After) Tj ET",
		"BT /F1 10 Tf 72 700 Td (Page two is fine.) Tj ET",
		pdfPage("BT /F2 10 Tf 72 700 Td " + cjkHex("隐私", tinyCJK) + " Tj ET"),
	}, tinyCJK)
	// Without its ToUnicode map the CJK page decodes to garbage; the key is
	// renamed in place so the xref offsets stay valid.
	data = bytes.Replace(data, []byte("/ToUnicode 4 0 R"), []byte("/ToUnicodX 4 0 R"), 1)
	doc := extractBytes(t, "damaged.pdf", data)
	text := doc.Text()
	if !strings.Contains(text, "Before the damage.") || !strings.Contains(text, "Page two is fine.") {
		t.Fatalf("text %q", text)
	}
	want := []string{"page 1 could only be partly read (damaged content)", "page 3 has text that could not be decoded"}
	if len(doc.Warnings) != 2 || !strings.HasPrefix(doc.Warnings[0], want[0]) || !strings.HasPrefix(doc.Warnings[1], want[1]) {
		t.Fatalf("warnings %q", doc.Warnings)
	}
	if strings.Contains(text, "\x00") {
		t.Fatalf("garbage kept: %q", text)
	}
}

func TestPDFFormXObjectText(t *testing.T) {
	// Text inside a Form XObject, which the library's own extractor drops.
	form := "BT /F1 10 Tf 72 700 Td (Inside the form) Tj ET"
	page := "q 1 0 0 1 0 0 cm /Fm1 Do Q BT /F1 10 Tf 72 600 Td (Outside) Tj ET"
	objs := []string{
		"<< /Type /Catalog /Pages 2 0 R >>",
		"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
		"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Resources << /Font << /F1 4 0 R >> /XObject << /Fm1 5 0 R >> >> /Contents 6 0 R >>",
		"<< /Type /Font /Subtype /Type1 /BaseFont /Courier /FirstChar 32 /LastChar 126 /Widths [" + strings.Repeat("600 ", 95) + "] >>",
		fmt.Sprintf("<< /Type /XObject /Subtype /Form /BBox [0 0 595 842] /Length %d >>\nstream\n%s\nendstream", len(form)+1, form),
		fmt.Sprintf("<< /Length %d >>\nstream\n%s\nendstream", len(page)+1, page),
	}
	var b bytes.Buffer
	b.WriteString("%PDF-2.0\n") // 2.0 header: the library alone refuses it
	var offs []int
	for i, o := range objs {
		offs = append(offs, b.Len())
		fmt.Fprintf(&b, "%d 0 obj\n%s\nendobj\n", i+1, o)
	}
	x := b.Len()
	fmt.Fprintf(&b, "xref\n0 %d\n0000000000 65535 f \n", len(objs)+1)
	for _, o := range offs {
		fmt.Fprintf(&b, "%010d 00000 n \n", o)
	}
	fmt.Fprintf(&b, "trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n", len(objs)+1, x)
	doc := extractBytes(t, "form.pdf", b.Bytes())
	if doc.Text() != "Inside the form\n\nOutside" {
		t.Fatalf("text %q", doc.Text())
	}
}
