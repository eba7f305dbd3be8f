// Package scantest makes scanned documents for OCR tests with the tools
// make test installs (ImageMagick, img2pdf, groff, Ghostscript).
package scantest

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// Phrases are the lines on the corpus's scanned pages, in the order
// Corpus uses them.
var Phrases = [4]string{
	"The harbour ferry leaves at nine fifteen every Tuesday morning.",
	"Lighthouse tickets cost seven euros for adults and three for children.",
	"The photo shows the opening hours of the fish market on the quay.",
	"Mixed files keep their typed pages and their scanned signature page.",
}

// Run runs a tool in dir with stdin, failing the test with its output.
func Run(t testing.TB, dir, stdin, name string, args ...string) {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	cmd.Stdin = strings.NewReader(stdin)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%s %v: %v\n%s", name, args, err, out)
	}
}

// Render writes one line of text as a slightly rotated 300 dpi scan named
// name in dir, and returns its path.
func Render(t testing.TB, dir, name, text string) string {
	t.Helper()
	convert := "/usr/bin/convert" // a stand-in may shadow ImageMagick on PATH
	if _, err := os.Stat(convert); err != nil {
		convert = "convert"
	}
	out := filepath.Join(dir, name)
	Run(t, dir, "", convert, "-units", "PixelsPerInch", "-density", "300", "-size", "2100x", "-background", "white", "-fill", "black",
		"-font", "DejaVu-Serif", "-pointsize", "12", "caption:"+text, "-bordercolor", "white", "-border", "150", "-rotate", "0.6", "-flatten",
		"-colorspace", "Gray", "-quality", "85", out)
	return out
}

// Corpus writes, in docs: a two-page scanned PDF, a photo, and a PDF with
// a typed page before a scanned one. It returns the phrase on each scanned
// page by file and page.
func Corpus(t testing.TB, docs string) map[string]map[int]string {
	t.Helper()
	work := t.TempDir()
	Run(t, work, "", "img2pdf", "-o", filepath.Join(docs, "scan.pdf"),
		Render(t, work, "a.jpg", Phrases[0]), Render(t, work, "b.jpg", Phrases[1]))
	Render(t, docs, "photo.png", Phrases[2])
	typed := filepath.Join(work, "typed.pdf")
	Run(t, work, ".LP\nThe typed page lists the harbour fees for small boats.\n", "sh", "-c", "groff -ms -Tpdf > "+typed)
	signed := filepath.Join(work, "signed.pdf")
	Run(t, work, "", "img2pdf", "-o", signed, Render(t, work, "c.jpg", Phrases[3]))
	Run(t, work, "", "gs", "-q", "-dNOPAUSE", "-dBATCH", "-sDEVICE=pdfwrite", "-dPassThroughJPEGImages=true", "-o", filepath.Join(docs, "mixed.pdf"), typed, signed)
	return map[string]map[int]string{
		"scan.pdf":  {1: Phrases[0], 2: Phrases[1]},
		"photo.png": {1: Phrases[2]},
		"mixed.pdf": {2: Phrases[3]},
	}
}
