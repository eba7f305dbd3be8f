package knowledge

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"atoll/ingest"
	"atoll/internal/scantest"
	"atoll/rag"
	"atoll/store"
)

// One phrase per scanned page: each must be found, on its page, with boxes.
func needOCRTools(t *testing.T) {
	for _, p := range []string{"tesseract", "img2pdf", "gs", "groff", "pdfimages"} {
		if _, err := exec.LookPath(p); err != nil {
			t.Fatalf("%s is needed (make test installs it): %v", p, err)
		}
	}
}

// checkFound: every scanned page's phrase is found by search, on its page,
// with boxes inside the page.
func checkFound(t *testing.T, kb *store.KB, want map[string]map[int]string) {
	t.Helper()
	for file, pages := range want {
		for page, phrase := range pages {
			// Four words of the phrase, as a user would type them.
			q := strings.Join(strings.Fields(phrase)[1:5], " ")
			var hit *rag.Hit
			for _, h := range kb.Search(rag.Query{Text: q, K: 5}) {
				if filepath.Base(h.Source) == file && h.Page == page {
					hit = &h
					break
				}
			}
			if hit == nil {
				t.Errorf("%q: no hit on %s page %d", q, file, page)
				continue
			}
			if len(hit.Boxes) == 0 {
				t.Errorf("%s page %d: the hit has no boxes", file, page)
			}
			for _, b := range hit.Boxes {
				if b.Page != page || b.X0 < 0 || b.Y0 < 0 || b.X1 > 1 || b.Y1 > 1 || b.X0 >= b.X1 || b.Y0 >= b.Y1 {
					t.Errorf("%s page %d: bad box %+v", file, page, b)
				}
			}
		}
	}
	// The typed page is text, not OCR: no boxes.
	for _, h := range kb.Search(rag.Query{Text: "harbour fees small boats", K: 3}) {
		if filepath.Base(h.Source) == "mixed.pdf" && h.Page == 1 && len(h.Boxes) != 0 {
			t.Errorf("a typed page's hit has boxes: %+v", h.Boxes)
		}
	}
}

// TestOCRPendingUntilTesseract: scans and photos ingested without Tesseract
// are kept, pending OCR, with the sentence saying how to install it; a later
// ingest (of anything) with Tesseract reads them, page by page with progress,
// and every page is then found with its boxes. A third run repeats no OCR.
func TestOCRPendingUntilTesseract(t *testing.T) {
	needOCRTools(t)
	docs, data := t.TempDir(), t.TempDir()
	want := scantest.Corpus(t, docs)
	st, _ := store.Open(data)
	defer st.Close()
	in := New(st, nil)
	in.OCR = ingest.OCR{CacheDir: t.TempDir(), Tesseract: filepath.Join(docs, "no-tesseract-here")}
	sum, err := in.Run(context.Background(), "j1", "kb", "", []string{docs}, nil)
	if err != nil || sum.OK != 3 || sum.Failed != 0 {
		t.Fatalf("without Tesseract: %+v %v", sum, err)
	}
	if sum.OCRPending != 4 || !strings.Contains(sum.OCRPendingWhy, "apt install tesseract-ocr") {
		t.Fatalf("pending OCR %d (%q), want the 4 scanned pages and how to install Tesseract", sum.OCRPending, sum.OCRPendingWhy)
	}
	kb, _ := st.KB("kb")
	if hits := kb.Search(rag.Query{Text: "ferry Tuesday morning", K: 3}); len(hits) != 0 {
		t.Fatalf("found text that was never read: %+v", hits)
	}
	if hits := kb.Search(rag.Query{Text: "harbour fees small boats", K: 3}); len(hits) == 0 {
		t.Fatal("the typed page of the mixed PDF should be searchable at once")
	}

	// Tesseract is there now; the user adds an unrelated note.
	in.OCR.Tesseract = ""
	notes := t.TempDir()
	os.WriteFile(filepath.Join(notes, "notes.md"), []byte("# Notes\n\nBring a coat."), 0o644)
	var ocrSeen []string
	in.ProgressEvery = -1
	sum, err = in.Run(context.Background(), "j2", "kb", "", []string{notes}, func(p Progress) {
		if p.Phase == "ocr" {
			ocrSeen = append(ocrSeen, fmt.Sprintf("%s %d/%d", filepath.Base(p.Current), p.OCRPage, p.OCRPages))
		}
	})
	if err != nil || sum.OCRPending != 0 || sum.OK != 4 {
		t.Fatalf("with Tesseract: %+v %v", sum, err)
	}
	wantSeen := "[mixed.pdf 2/2 photo.png 1/1 scan.pdf 1/2 scan.pdf 2/2]"
	if got := fmt.Sprint(dedupe(ocrSeen)); got != wantSeen {
		t.Errorf("OCR progress %s, want %s", got, wantSeen)
	}
	checkFound(t, kb, want)
	for _, d := range kb.Docs() {
		if len(d.OCRPending) != 0 || (d.Name != "notes.md" && d.Root != docs) {
			t.Errorf("%s: pending %v, root %q", d.Name, d.OCRPending, d.Root)
		}
	}

	// Unchanged files are skipped: no OCR again.
	ocrSeen = nil
	sum, err = in.Run(context.Background(), "j3", "kb", "", []string{docs}, func(p Progress) {
		if p.Phase == "ocr" {
			ocrSeen = append(ocrSeen, p.Current)
		}
	})
	if err != nil || sum.Skipped != 3 || len(ocrSeen) != 0 {
		t.Fatalf("third run: %+v, OCR of %v", sum, ocrSeen)
	}
	// Reopened from disk, the boxes are still there.
	st.Close()
	st2, _ := store.Open(data)
	defer st2.Close()
	kb2, _ := st2.KB("kb")
	checkFound(t, kb2, want)
}

func dedupe(s []string) []string {
	var out []string
	for _, x := range s {
		if len(out) == 0 || out[len(out)-1] != x {
			out = append(out, x)
		}
	}
	return out
}

// TestOCRCancelDuringIngest: cancelling while a page is being OCR'd stops
// the job promptly, stores nothing half-read, and the next run reads it.
func TestOCRCancelDuringIngest(t *testing.T) {
	needOCRTools(t)
	docs := t.TempDir()
	work := t.TempDir()
	scantest.Run(t, work, "", "img2pdf", "-o", filepath.Join(docs, "scan.pdf"), scantest.Render(t, work, "a.jpg", scantest.Phrases[0]), scantest.Render(t, work, "b.jpg", scantest.Phrases[1]))
	st, _ := store.Open(t.TempDir())
	defer st.Close()
	in := New(st, nil)
	in.OCR = ingest.OCR{CacheDir: t.TempDir()}
	in.ProgressEvery = -1
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var cancelledAt time.Time
	sum, err := in.Run(ctx, "j", "kb", "", []string{docs}, func(p Progress) {
		if p.Phase == "ocr" && cancelledAt.IsZero() {
			cancelledAt = time.Now()
			cancel()
		}
	})
	if err != nil || !sum.Cancelled || cancelledAt.IsZero() {
		t.Fatalf("%+v %v (cancelled at %v)", sum, err, cancelledAt)
	}
	if took := time.Since(cancelledAt); took > 20*time.Second {
		t.Errorf("the job took %v to stop after the cancel", took)
	}
	kb, _ := st.KB("kb")
	if d := kb.Docs(); len(d) != 0 {
		t.Fatalf("a cancelled file was stored: %+v", d)
	}
	sum, err = in.Run(context.Background(), "j2", "kb", "", []string{docs}, nil)
	if err != nil || sum.OK != 1 || sum.Cancelled {
		t.Fatalf("after cancel: %+v %v", sum, err)
	}
	checkFound(t, kb, map[string]map[int]string{"scan.pdf": {1: scantest.Phrases[0], 2: scantest.Phrases[1]}})
}
