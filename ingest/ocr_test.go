package ingest

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode"
)

// The scan set is rendered at test time with ImageMagick: known text at 200
// and 300 dpi, turned by 1.2°, with noise and JPEG compression, like a page
// from an office scanner.

var scanEN = []string{
	"Atoll reads scanned contracts and price lists offline, keeping the page and the position of every word for citations.",
	"Invoice number 4417 is due on 12 March 2025. Please pay the full amount of 1,280 euros to the account named below.",
	"The quick brown fox jumps over the lazy dog while the committee reviews the budget for the second quarter.",
}

var scanZH = []string{
	"长江是中国最长的河流，发源于青海省的高原。用户在网站上看见长江和青海的风景照片，觉得非常漂亮。",
	"本地优先的软件把数据保存在用户自己的设备上，隐私因此得到保护，网络断开时也能正常工作。",
	"发票编号四四一七，请在三月十二日之前付清全部款项。价格表每个月更新一次，请以最新版本为准。",
}

func convertProg(tb testing.TB) string {
	// A stand-in for ImageMagick may shadow the real one on PATH.
	if _, err := os.Stat("/usr/bin/convert"); err == nil {
		return "/usr/bin/convert"
	}
	requireTools(tb, "convert")
	return "convert"
}

// scanImageFile renders paragraphs as a scanned page and returns its path.
// format is the file extension (jpg, png, tif, webp).
func scanImageFile(tb testing.TB, dir, name string, paras []string, font string, dpi int, format string) string {
	tb.Helper()
	out := filepath.Join(dir, name+"."+format)
	args := []string{"-seed", "7", "-units", "PixelsPerInch", "-density", fmt.Sprint(dpi), "-size", fmt.Sprintf("%dx", dpi*7),
		"-background", "white", "-fill", "black", "-font", font, "-pointsize", "11",
		"caption:" + strings.Join(paras, "\n\n"),
		"-bordercolor", "white", "-border", fmt.Sprint(dpi / 3), "-rotate", "1.2", "-flatten",
		"-attenuate", "0.3", "+noise", "Gaussian", "-colorspace", "Gray", "-depth", "8",
		"-units", "PixelsPerInch", "-density", fmt.Sprint(dpi), "-quality", "75", out}
	runTool(tb, dir, "", convertProg(tb), args...)
	return out
}

// cer is the character error rate: edit distance over reference length,
// white space collapsed (English) or removed (Chinese).
func cer(got, want string, cjk bool) float64 {
	norm := func(s string) []rune {
		if cjk {
			return []rune(strings.Map(func(r rune) rune {
				if unicode.IsSpace(r) {
					return -1
				}
				return r
			}, s))
		}
		return []rune(strings.Join(strings.Fields(s), " "))
	}
	a, b := norm(got), norm(want)
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			c := prev[j-1]
			if a[i-1] != b[j-1] {
				c++
			}
			cur[j] = min(c, prev[j]+1, cur[j-1]+1)
		}
		prev, cur = cur, prev
	}
	if len(b) == 0 {
		return 0
	}
	return float64(prev[len(b)]) / float64(len(b))
}

func requireOCR(tb testing.TB) {
	tb.Helper()
	requireTools(tb, "tesseract")
	langs := installedLangs(context.Background(), "tesseract")
	for _, l := range []string{"eng", "chi_sim", "osd"} {
		if !langs[l] {
			if os.Getenv("ATOLL_REQUIRE_PDFTOTEXT") == "1" {
				tb.Fatalf("Tesseract's %s data is required here (make test installs it)", l)
			}
			tb.Skipf("Tesseract's %s data is not installed", l)
		}
	}
}

type cerCase struct {
	lang  string
	dpi   int
	paras []string
	font  string
	limit float64 // target at 300 dpi; 0: measured only
}

var cerCases = []cerCase{
	{"en", 200, scanEN, "DejaVu-Serif", 0},
	{"en", 300, scanEN, "DejaVu-Serif", 0.03},
	{"zh", 200, scanZH, "Noto-Sans-CJK-SC", 0},
	{"zh", 300, scanZH, "Noto-Sans-CJK-SC", 0.08},
}

func measureCER(tb testing.TB, dir string, c cerCase) (float64, *Document) {
	img := scanImageFile(tb, dir, fmt.Sprintf("%s-%d", c.lang, c.dpi), c.paras, c.font, c.dpi, "jpg")
	doc, err := ExtractWith(context.Background(), img, DefaultLimits(), ExtractOptions{OCR: &OCR{CacheDir: filepath.Join(dir, "cache")}})
	if err != nil {
		tb.Fatal(err)
	}
	return cer(doc.Text(), strings.Join(c.paras, "\n\n"), c.lang == "zh"), doc
}

// TestOCRScanSetCER prints the CER table and holds 300 dpi to the targets
// (English 3%, Chinese 8%), with the language picked automatically.
func TestOCRScanSetCER(t *testing.T) {
	requireOCR(t)
	dir := t.TempDir()
	t.Log("lang dpi CER")
	for _, c := range cerCases {
		e, doc := measureCER(t, dir, c)
		t.Logf("%-4s %d %.2f%% (Tesseract language %s)", c.lang, c.dpi, 100*e, doc.OCR[0].Lang)
		if c.limit > 0 && e > c.limit {
			t.Errorf("%s at %d dpi: CER %.2f%% > %.0f%%:\n%s", c.lang, c.dpi, 100*e, 100*c.limit, doc.Text())
		}
	}
}

// BenchmarkOCRCER reports the CER of each scan-set image (and OCR time):
//
//	go test ./ingest -run '^$' -bench OCRCER -benchtime 1x
func BenchmarkOCRCER(b *testing.B) {
	requireOCR(b)
	dir := b.TempDir()
	for _, c := range cerCases {
		b.Run(fmt.Sprintf("%s-%ddpi", c.lang, c.dpi), func(b *testing.B) {
			var e float64
			for b.Loop() {
				os.RemoveAll(filepath.Join(dir, "cache")) // time the OCR, not the cache
				e, _ = measureCER(b, dir, c)
			}
			b.ReportMetric(100*e, "CER%")
		})
	}
}

// TestOCRImageFormats: PNG, TIFF and WebP files are read like JPEG, with a
// box for every word inside the image.
func TestOCRImageFormats(t *testing.T) {
	requireOCR(t)
	dir := t.TempDir()
	for _, f := range []string{"png", "tif", "webp"} {
		t.Run(f, func(t *testing.T) {
			img := scanImageFile(t, dir, "scan", scanEN[:1], "DejaVu-Serif", 300, f)
			doc, err := ExtractWith(context.Background(), img, DefaultLimits(), ExtractOptions{OCR: &OCR{CacheDir: t.TempDir()}})
			if err != nil {
				t.Fatal(err)
			}
			if doc.Format != "image" || !strings.Contains(doc.Text(), "scanned contracts and price lists") {
				t.Fatalf("format %s, text %q", doc.Format, doc.Text())
			}
			checkBoxes(t, doc, "price lists", 1)
		})
	}
}

// checkBoxes finds phrase in the text and asserts its boxes are on page,
// inside the image, and ordered left to right.
func checkBoxes(t *testing.T, doc *Document, phrase string, page int) {
	t.Helper()
	text := []rune(doc.Text())
	i := strings.Index(string(text), phrase)
	if i < 0 {
		t.Fatalf("%q not in %q", phrase, string(text))
	}
	start := len([]rune(string(text)[:i]))
	boxes := doc.OCRBoxes(start, start+len([]rune(phrase)))
	if len(boxes) != len(strings.Fields(phrase)) {
		t.Fatalf("%d boxes for %q, want one per word: %+v", len(boxes), phrase, boxes)
	}
	for j, b := range boxes {
		if b.Page != page || b.X0 < 0 || b.Y0 < 0 || b.X1 > 1 || b.Y1 > 1 || b.X0 >= b.X1 || b.Y0 >= b.Y1 {
			t.Errorf("bad box %+v (page %d)", b, page)
		}
		if j > 0 && b.X0 <= boxes[j-1].X0 {
			t.Errorf("box %d is left of the word before it: %+v", j, boxes)
		}
	}
}

// scannedPDF makes a PDF whose pages are text (groff) and scans (JPEG
// images via img2pdf), in the order given: "t" for text, "s" for scan.
func scannedPDF(t *testing.T, dir, layout string) string {
	t.Helper()
	requireTools(t, "img2pdf", "gs", "groff")
	var parts []string
	for i, k := range layout {
		p := filepath.Join(dir, fmt.Sprintf("part%d.pdf", i))
		switch k {
		case 't':
			src := fmt.Sprintf(".LP\nText page %d says the bakery opens at seven.\n", i+1)
			runTool(t, dir, src, "sh", "-c", "groff -ms -Tpdf > "+p)
		case 's':
			paras := []string{scanEN[i%len(scanEN)]}
			font := "DejaVu-Serif"
			if i%2 == 1 {
				paras, font = []string{scanZH[i%len(scanZH)]}, "Noto-Sans-CJK-SC"
			}
			img := scanImageFile(t, dir, fmt.Sprintf("scan%d", i), paras, font, 300, "jpg")
			runTool(t, dir, "", "img2pdf", "-o", p, img)
		}
		parts = append(parts, p)
	}
	out := filepath.Join(dir, "mixed.pdf")
	if len(parts) == 1 {
		return parts[0]
	}
	// Ghostscript joins the parts and keeps the JPEGs as they are.
	runTool(t, dir, "", "gs", append([]string{"-q", "-dNOPAUSE", "-dBATCH", "-sDEVICE=pdfwrite", "-dPassThroughJPEGImages=true", "-o", out}, parts...)...)
	return out
}

// TestOCRScannedPDFMixed: a PDF mixing text pages with scanned pages (one
// English, one Chinese) reads every page, in order, with the page numbers
// and word boxes of the scans; a second read comes from the cache, even with
// Tesseract gone.
func TestOCRScannedPDFMixed(t *testing.T) {
	requireOCR(t)
	dir := t.TempDir()
	path := scannedPDF(t, dir, "tsst")
	cache := filepath.Join(dir, "cache")
	var ocrPages []int
	doc, err := ExtractWith(context.Background(), path, DefaultLimits(), ExtractOptions{OCR: &OCR{CacheDir: cache, OnPage: func(p, total int) { ocrPages = append(ocrPages, p) }}})
	if err != nil {
		t.Fatal(err)
	}
	if doc.Pages != 4 || fmt.Sprint(ocrPages) != "[2 3]" || len(doc.Warnings) != 0 {
		t.Fatalf("pages %d, OCR'd %v, warnings %q", doc.Pages, ocrPages, doc.Warnings)
	}
	pageOf := map[string]int{"Text page 1 says": 1, "网络断开时也能正常工作": 2, "committee reviews the budget": 3, "Text page 4 says": 4}
	for phrase, page := range pageOf {
		found := false
		for _, b := range doc.Blocks {
			if strings.Contains(b.Text, phrase) {
				found = true
				if b.Page != page {
					t.Errorf("%q on page %d, want %d", phrase, b.Page, page)
				}
			}
		}
		if !found {
			t.Errorf("%q not found: %q", phrase, doc.Text())
		}
	}
	checkBoxes(t, doc, "committee reviews the budget", 3)
	for _, p := range doc.OCR {
		if p.Cached {
			t.Errorf("page %d came from an empty cache", p.Page)
		}
	}

	again, err := ExtractWith(context.Background(), path, DefaultLimits(), ExtractOptions{OCR: &OCR{CacheDir: cache, Tesseract: filepath.Join(dir, "no-such-tesseract")}})
	if err != nil {
		t.Fatal(err)
	}
	if again.Text() != doc.Text() || len(again.OCR) != 2 || !again.OCR[0].Cached || !again.OCR[1].Cached {
		t.Errorf("second read did not come from the cache: %+v", again.OCR)
	}
}

// TestOCRPendingThenDone: without Tesseract a scanned page and an image are
// kept as pending OCR with a sentence saying how to install it; a later run
// with Tesseract reads them.
func TestOCRPendingThenDone(t *testing.T) {
	requireOCR(t)
	dir := t.TempDir()
	path := scannedPDF(t, dir, "ts")
	img := scanImageFile(t, dir, "photo", scanEN[1:2], "DejaVu-Serif", 300, "png")
	missing := &OCR{CacheDir: filepath.Join(dir, "cache"), Tesseract: filepath.Join(dir, "no-such-tesseract")}
	for _, p := range []string{path, img} {
		doc, err := ExtractWith(context.Background(), p, DefaultLimits(), ExtractOptions{OCR: missing})
		if err != nil {
			t.Fatal(err)
		}
		want := []int{2}
		if p == img {
			want = []int{1}
		}
		if fmt.Sprint(doc.PendingOCR()) != fmt.Sprint(want) || len(doc.Warnings) != 1 || !strings.Contains(doc.Warnings[0], "apt install tesseract-ocr") {
			t.Fatalf("%s: pending %v, warnings %q", filepath.Base(p), doc.PendingOCR(), doc.Warnings)
		}
		if strings.Contains(doc.Text(), "网络断开") || strings.Contains(doc.Text(), "Invoice") {
			t.Fatalf("text without OCR: %q", doc.Text())
		}
		done, err := ExtractWith(context.Background(), p, DefaultLimits(), ExtractOptions{OCR: &OCR{CacheDir: missing.CacheDir}})
		if err != nil {
			t.Fatal(err)
		}
		if len(done.PendingOCR()) != 0 || len(done.Warnings) != 0 || !(strings.Contains(done.Text(), "网络断开时也能正常工作") || strings.Contains(done.Text(), "Invoice number 4417")) {
			t.Fatalf("%s: pending %v, warnings %q, text %q", filepath.Base(p), done.PendingOCR(), done.Warnings, done.Text())
		}
	}
}

// TestOCRCancel: cancelling while a page is being OCR'd stops at once with
// the cancelled error, and caches nothing.
func TestOCRCancel(t *testing.T) {
	requireOCR(t)
	dir := t.TempDir()
	path := scannedPDF(t, dir, "ss")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	cache := filepath.Join(dir, "cache")
	_, err := ExtractWith(ctx, path, DefaultLimits(), ExtractOptions{OCR: &OCR{CacheDir: cache, OnPage: func(int, int) { cancel() }}})
	var fe *FileError
	if !errors.As(err, &fe) || !strings.Contains(fe.Reason, "cancelled") {
		t.Fatalf("got %v, want a cancelled FileError", err)
	}
	if m, _ := filepath.Glob(filepath.Join(cache, "*.json")); len(m) != 0 {
		t.Errorf("a cancelled OCR was cached: %v", m)
	}
}

func TestOCRToolsFound(t *testing.T) {
	requireOCR(t)
	if v, ok := OCRAvailable(&OCR{}); !ok || !strings.HasPrefix(v, "tesseract") {
		t.Errorf("OCRAvailable = %q, %v", v, ok)
	}
	if _, ok := OCRAvailable(&OCR{Tesseract: "/no/such/tesseract"}); ok {
		t.Error("a missing program is available")
	}
}
