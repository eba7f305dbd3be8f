package main

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"atoll/internal/ollamafake"
	"atoll/internal/scantest"
)

// TestOCRCorpusEndToEnd: a scanned PDF, a photo and a PDF mixing a typed
// page with a scan, ingested by the command line. Without Tesseract on PATH
// the scans wait for OCR, with how to install it; the next run, with it,
// reads them; `atoll search` then finds a phrase of every page, and
// `atoll ask --json` cites the page with boxes on the scan.
func TestOCRCorpusEndToEnd(t *testing.T) {
	for _, p := range []string{"tesseract", "img2pdf", "gs", "groff", "pdfimages", "pdftoppm"} {
		if _, err := exec.LookPath(p); err != nil {
			t.Fatalf("%s is needed (make test installs it): %v", p, err)
		}
	}
	data, docs := t.TempDir(), t.TempDir()
	phrases := map[string]string{} // "file page" -> a phrase on it
	for file, pages := range scantest.Corpus(t, docs) {
		for page, phrase := range pages {
			phrases[fmt.Sprintf("%s %d", file, page)] = phrase
		}
	}

	if r := atoll(t, "--data", data, "ingest", "--kb", "port", "--ocr-lang", "fra", docs); r.code != 2 || !strings.Contains(r.stderr, "eng, chi_sim, eng+chi_sim or auto") {
		t.Fatalf("--ocr-lang fra: %d %s", r.code, r.stderr)
	}
	t.Setenv("XDG_CACHE_HOME", t.TempDir()) // the OCR cache starts empty
	// A PATH with poppler but without Tesseract.
	bin := t.TempDir()
	for _, p := range []string{"pdfimages", "pdftoppm"} {
		real, _ := exec.LookPath(p)
		os.Symlink(real, filepath.Join(bin, p))
	}
	fullPath := os.Getenv("PATH")
	t.Setenv("PATH", bin)
	r := atoll(t, "--data", data, "--ollama", "http://127.0.0.1:9", "ingest", "--kb", "port", "--ocr-lang", "eng", docs)
	if r.code != 0 || !strings.Contains(r.stderr, "3 ok, 0 failed") || !strings.Contains(r.stderr, "OCR pending for 4 scanned pages") || !strings.Contains(r.stderr, "apt install tesseract-ocr") {
		t.Fatalf("without Tesseract: %d\n%s", r.code, r.stderr)
	}
	meta, _ := os.ReadFile(filepath.Join(data, "kb", "port", "kb.json"))
	if !strings.Contains(string(meta), `"ocrLang": "eng"`) {
		t.Fatalf("--ocr-lang not kept: %s", meta)
	}
	t.Setenv("PATH", fullPath)
	r = atoll(t, "--data", data, "--ollama", "http://127.0.0.1:9", "ingest", "--kb", "port", docs)
	if r.code != 0 || strings.Contains(r.stderr, "OCR pending") {
		t.Fatalf("with Tesseract: %d\n%s", r.code, r.stderr)
	}

	for where, phrase := range phrases {
		file, page, _ := strings.Cut(where, " ")
		q := strings.Join(strings.Fields(phrase)[1:5], " ")
		r := atoll(t, "--data", data, "search", "--kb", "port", "--json", "--k", "5", q)
		var hits []struct {
			Source string `json:"source"`
			Page   int    `json:"page"`
		}
		if err := json.Unmarshal([]byte(r.stdout), &hits); err != nil {
			t.Fatalf("search %q: %v %s", q, err, r.stderr)
		}
		found := false
		for _, h := range hits {
			found = found || (filepath.Base(h.Source) == file && page == strings.TrimSpace(jsonInt(h.Page)))
		}
		if !found {
			t.Errorf("search %q: no hit on %s page %s: %+v", q, file, page, hits)
		}
	}

	fake := ollamafake.New(t)
	if r := atoll(t, "--data", data, "agent", "create", "port", "--kb", "port", "--model", ollamafake.DefaultChatModel); r.code != 0 {
		t.Fatalf("agent create: %d %s", r.code, r.stderr)
	}
	fake.Script(ollamafake.Reply{Text: "Adults pay seven euros [1]."})
	r = atoll(t, "--data", data, "--ollama", fake.URL, "ask", "--agent", "port", "--json", "How much are lighthouse tickets for adults?")
	var ans struct {
		Citations []struct {
			Source string `json:"source"`
			Page   int    `json:"page"`
			Boxes  []struct {
				Page           int
				X0, Y0, X1, Y1 float64
			} `json:"boxes"`
		} `json:"citations"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &ans); err != nil || len(ans.Citations) == 0 {
		t.Fatalf("ask: %v %s %s", err, r.stdout, r.stderr)
	}
	c := ans.Citations[0]
	if filepath.Base(c.Source) != "scan.pdf" || c.Page != 2 || len(c.Boxes) == 0 {
		t.Fatalf("the first citation should be scan.pdf page 2 with boxes: %+v", c)
	}
	for _, b := range c.Boxes {
		if b.Page != 2 || b.X0 >= b.X1 || b.Y0 >= b.Y1 || b.X1 > 1 || b.Y1 > 1 {
			t.Errorf("bad box %+v", b)
		}
	}
}

func jsonInt(n int) string { b, _ := json.Marshal(n); return string(b) }
