package ingest

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
)

// extractImage reads a PNG, JPEG, TIFF or WebP file by OCR; each frame of a
// multi-page TIFF is a page.
func extractImage(ctx context.Context, path string, doc *Document, lim Limits, o *OCR) error {
	doc.Pages = 1
	if o == nil || o.Off {
		doc.OCR = []OCRPage{{Page: 1, Pending: "the image is waiting for OCR, which is turned off"}}
		doc.Warnings = append(doc.Warnings, "the image was not read: OCR is turned off")
		return nil
	}
	if o.OnPage != nil {
		o.OnPage(1, 1)
	}
	r, cached, err := o.recognize(ctx, path)
	var ve *visionError
	switch {
	case errors.Is(err, errNoTesseract), ctx.Err() == nil && errors.As(err, &ve):
		why := installTesseract
		if ve != nil {
			why = ve.Error()
		}
		msg := "the image is waiting for OCR: " + why
		doc.OCR = []OCRPage{{Page: 1, Pending: msg}}
		doc.Warnings = append(doc.Warnings, msg)
		return nil
	case ctx.Err() != nil:
		return fileErr("", "was not read (cancelled)", ctx.Err())
	case err != nil:
		return fileErr("", "could not be read by OCR ("+err.Error()+")", err)
	}
	b := newBuilder(doc, lim)
	for i := range r.Pages {
		p := addOCRPage(b, i+1, r, i)
		p.Cached = cached
		doc.OCR = append(doc.OCR, p)
	}
	doc.Pages = max(1, len(r.Pages))
	if len(doc.Blocks) == 0 {
		doc.Warnings = append(doc.Warnings, "the image has no text that OCR could read")
	}
	return nil
}

// pdfOCR runs OCR on the pages of one PDF that have images but no text.
type pdfOCR struct {
	o       *OCR
	path    string
	total   int
	results map[int]*ocrResult
	cached  map[int]bool
	pending []int
	failed  []string
	why     string
}

// page OCRs one page; it reports false when the page stays pending or
// failed (the reason is kept for one summary warning).
func (po *pdfOCR) page(ctx context.Context, num int) bool {
	if po.o.Off {
		po.pending = append(po.pending, num)
		po.why = "OCR is turned off"
		return false
	}
	if po.o.OnPage != nil {
		po.o.OnPage(num, po.total)
	}
	dir, done, err := ocrWorkDir()
	if err != nil {
		po.failed = append(po.failed, fmt.Sprintf("page %d (%v)", num, err))
		return false
	}
	defer done()
	img, err := pageImage(ctx, po.path, num, dir)
	if err != nil {
		if errors.Is(err, errNoPoppler) {
			po.pending = append(po.pending, num)
			po.why = "install poppler-utils (pdfimages and pdftoppm), which takes a scanned page's image out of the PDF"
		} else if ctx.Err() == nil {
			po.failed = append(po.failed, fmt.Sprintf("page %d (%v)", num, err))
		}
		return false
	}
	if po.o.Vision != nil && !visionReadable(img) {
		// JPEG 2000 and JBIG2 scans: Ollama reads PNG and JPEG only.
		if img, err = renderPageImage(ctx, po.path, num, dir); err != nil {
			if ctx.Err() == nil {
				po.failed = append(po.failed, fmt.Sprintf("page %d (%v)", num, err))
			}
			return false
		}
	}
	r, cached, err := po.o.recognize(ctx, img)
	var ve *visionError
	if errors.Is(err, errNoTesseract) || ctx.Err() == nil && errors.As(err, &ve) {
		po.pending = append(po.pending, num)
		po.why = installTesseract
		if ve != nil {
			po.why = ve.Error()
		}
		return false
	}
	if err != nil {
		if ctx.Err() == nil {
			po.failed = append(po.failed, fmt.Sprintf("page %d (%v)", num, err))
		}
		return false
	}
	po.results[num] = r
	po.cached[num] = cached
	return true
}

func (po *pdfOCR) warnings() []string {
	var out []string
	if n := len(po.pending); n > 0 {
		out = append(out, fmt.Sprintf("%s a scan waiting for OCR: %s", pageList(po.pending), po.why))
	}
	if len(po.failed) > 0 {
		out = append(out, "OCR failed on "+strings.Join(po.failed[:min(len(po.failed), 5)], ", "))
	}
	return out
}

// pageList says "page 3 is" or "pages 3, 4 and 9 are" (at most ten named).
func pageList(ps []int) string {
	if len(ps) == 1 {
		return fmt.Sprintf("page %d is", ps[0])
	}
	var parts []string
	for _, p := range ps[:min(len(ps), 10)] {
		parts = append(parts, strconv.Itoa(p))
	}
	s := strings.Join(parts[:len(parts)-1], ", ") + " and " + parts[len(parts)-1]
	if len(ps) > 10 {
		s = strings.Join(parts, ", ") + fmt.Sprintf(" and %d more", len(ps)-10)
	}
	return "pages " + s + " are"
}

var errNoPoppler = errors.New("pdfimages/pdftoppm not found")

// pageImage writes the image to OCR for one PDF page and returns its path.
// A page that is one scanned image at scanner resolution gives that image
// as stored (JPEG and JPEG 2000 byte for byte, CCITT, JBIG2 and Flate
// decoded losslessly to PNG) by poppler's pdfimages: no resampling, and the
// hash stays that of the scan. Anything else (several strips, a photo set
// in a text layout, vector drawings) is rendered at 300 dpi by poppler's
// pdftoppm, the renderer pdftotext users already have.
func pageImage(ctx context.Context, pdfPath string, page int, dir string) (string, error) {
	pdfimages, err1 := exec.LookPath("pdfimages")
	_, err2 := exec.LookPath("pdftoppm")
	if err1 != nil && err2 != nil {
		return "", errNoPoppler
	}
	p := strconv.Itoa(page)
	if err1 == nil {
		out, err := exec.CommandContext(ctx, pdfimages, "-f", p, "-l", p, "-list", pdfPath).Output()
		if err == nil && scanImage(out) {
			if err := exec.CommandContext(ctx, pdfimages, "-f", p, "-l", p, "-j", "-jp2", "-png", pdfPath, filepath.Join(dir, "img")).Run(); err == nil {
				if m, _ := filepath.Glob(filepath.Join(dir, "img-*")); len(m) == 1 {
					return m[0], nil
				}
			}
		}
	}
	if err2 != nil {
		return "", errNoPoppler
	}
	return renderPageImage(ctx, pdfPath, page, dir)
}

// visionReadable: an extracted page image a vision model can take as it is.
func visionReadable(img string) bool {
	switch strings.ToLower(filepath.Ext(img)) {
	case ".png", ".jpg", ".jpeg":
		return true
	}
	return false
}

// renderPageImage renders one PDF page at 300 dpi with pdftoppm.
func renderPageImage(ctx context.Context, pdfPath string, page int, dir string) (string, error) {
	pdftoppm, err := exec.LookPath("pdftoppm")
	if err != nil {
		return "", errNoPoppler
	}
	p := strconv.Itoa(page)
	var stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, pdftoppm, "-f", p, "-l", p, "-r", "300", "-gray", "-png", "-singlefile", pdfPath, filepath.Join(dir, "page"))
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("the page could not be rendered: %s", strings.TrimSpace(stderr.String()))
	}
	out := filepath.Join(dir, "page.png")
	if _, err := os.Stat(out); err != nil {
		return "", fmt.Errorf("the page could not be rendered")
	}
	return out, nil
}

// scanImage reads `pdfimages -list`: exactly one image (masks aside) at
// 150 ppi or more is a scanned page.
func scanImage(list []byte) bool {
	sc := bufio.NewScanner(bytes.NewReader(list))
	n, ok := 0, false
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 14 || f[0] == "page" || strings.HasPrefix(f[0], "-") {
			continue
		}
		if f[2] != "image" {
			continue
		}
		n++
		ppi, _ := strconv.Atoi(f[12])
		ok = ppi >= 150
	}
	return n == 1 && ok
}
