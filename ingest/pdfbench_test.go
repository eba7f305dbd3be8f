package ingest

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// fieldNotesPDFs are the two TeX-made PDFs named in the field notes; they
// are Debian package documentation, so not every machine has them.
var fieldNotesPDFs = []string{
	"/usr/share/doc/libtasn1-doc/libtasn1.pdf",
	"/usr/share/doc/shared-mime-info/shared-mime-info-spec.pdf",
}

func pdftotext(tb testing.TB, path string) string {
	tb.Helper()
	out, err := exec.Command("pdftotext", "-enc", "UTF-8", path, "-").Output()
	if err != nil {
		tb.Fatalf("pdftotext %s: %v", path, err)
	}
	return string(out)
}

// TestPDFWordF1 holds our extraction to poppler's on real TeX PDFs: the
// library's own GetPlainText scores far lower there because it loses every
// space between words.
func TestPDFWordF1(t *testing.T) {
	if _, err := exec.LookPath("pdftotext"); err != nil {
		if os.Getenv("ATOLL_REQUIRE_PDFTOTEXT") == "1" {
			t.Fatal("pdftotext (poppler-utils) is required here (make test installs it)")
		}
		t.Skip("pdftotext (poppler-utils) is not installed, nothing to compare with")
	}
	for _, p := range fieldNotesPDFs { // testdata/tiny.pdf is covered by its golden file

		t.Run(filepath.Base(p), func(t *testing.T) {
			if _, err := os.Stat(p); err != nil {
				if os.Getenv("ATOLL_REQUIRE_PDFTOTEXT") == "1" {
					t.Fatalf("%s is missing (make test installs its Debian package)", p)
				}
				t.Skipf("%s is not on this machine (install its Debian package to run this check)", p)
			}
			doc, err := Extract(context.Background(), p, DefaultLimits())
			if err != nil {
				t.Fatal(err)
			}
			f1 := WordF1(doc.Text(), pdftotext(t, p))
			t.Logf("%s: %d pages, word F1 %.4f against pdftotext", p, doc.Pages, f1)
			if f1 < 0.98 {
				t.Errorf("word F1 %.4f < 0.98", f1)
			}
		})
	}
}

func TestWordF1(t *testing.T) {
	cases := []struct {
		a, b string
		want float64
	}{
		{"the cat sat", "The  cat, sat.", 1},
		{"", "", 1},
		{"a b", "", 0},
		{"a b c d", "a b", 2 * 1 * 0.5 / 1.5},
		{"中文测试", "中 文 测 试", 1},
		{"ﬁle", "file", 1},
	}
	for _, c := range cases {
		if got := WordF1(c.a, c.b); got < c.want-1e-9 || got > c.want+1e-9 {
			t.Errorf("WordF1(%q, %q) = %v, want %v", c.a, c.b, got, c.want)
		}
	}
}

func benchPDFs() []string {
	out := []string{"testdata/tiny.pdf"}
	for _, p := range fieldNotesPDFs {
		if _, err := os.Stat(p); err == nil {
			out = append(out, p)
		}
	}
	return out
}

// BenchmarkPDFExtract and BenchmarkPdftotext run on the same files so the
// ratio can be read off one report:
//
//	go test ./ingest -run '^$' -bench 'PDFExtract|Pdftotext' -benchtime 10x
func BenchmarkPDFExtract(b *testing.B) {
	for _, p := range benchPDFs() {
		b.Run(filepath.Base(p), func(b *testing.B) {
			for b.Loop() {
				if _, err := Extract(context.Background(), p, DefaultLimits()); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkPdftotext(b *testing.B) {
	for _, p := range benchPDFs() {
		b.Run(filepath.Base(p), func(b *testing.B) {
			if _, err := exec.LookPath("pdftotext"); err != nil {
				b.Skip("pdftotext (poppler-utils) is not installed")
			}
			for b.Loop() {
				if err := exec.Command("pdftotext", "-enc", "UTF-8", p, os.DevNull).Run(); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkSplit(b *testing.B) {
	doc, err := Extract(context.Background(), "testdata/zh.txt", DefaultLimits())
	if err != nil {
		b.Fatal(err)
	}
	big := docOf(Block{Kind: KindParagraph, Text: strings.Repeat(doc.Text(), 100)})
	b.SetBytes(int64(len(big.Blocks[0].Text)))
	for b.Loop() {
		Split(big, DefaultChunkOptions())
	}
}
