package ingest

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/csv"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"unicode/utf8"
)

// OCR configures optical character recognition of scanned PDF pages and
// image files: with Tesseract (run as a separate program, found on PATH), or
// with a vision model when Vision is set. The zero value is the default:
// Tesseract, language from the page's script, results cached under the
// user's cache folder.
type OCR struct {
	// Lang is "" (or "auto") to pick from the script Tesseract's OSD sees
	// (Han: chi_sim+eng, otherwise eng), or Tesseract languages such as
	// "eng", "chi_sim" or "eng+chi_sim" (a knowledge base's override).
	Lang string
	// CacheDir holds one result per image hash and language, so
	// re-ingesting never repeats OCR. "" means <user cache dir>/atoll/ocr.
	CacheDir string
	// Tesseract is the program; "" means "tesseract" on PATH.
	Tesseract string
	// Off leaves scanned pages pending instead of running OCR.
	Off bool
	// OnPage, when set, is called before a page's OCR starts (OCR takes
	// seconds a page: a progress display can say so).
	OnPage func(page, total int)
	// Vision, when set, reads pages instead of Tesseract; Model names
	// its model, for the cache and OCRPage.Model. A vision model gives
	// text without word positions, so citations are page-level.
	Vision VisionFunc
	Model  string
}

// OCRPage says how one page (1 for a single image) was read by OCR, or why
// it is still waiting.
type OCRPage struct {
	Page int
	// Pending is empty when the page was read; otherwise one sentence
	// saying why it was not and what to do (install Tesseract). A later
	// Extract of the same file, once fixed, reads it.
	Pending string
	Lang    string // the Tesseract languages used
	// Model is the vision model that read the page ("" for Tesseract);
	// such a page has no Words.
	Model  string
	Cached bool // the result came from the cache
	Words  []OCRWord
}

// OCRWord is one recognised word and where it is on the page image.
type OCRWord struct {
	Text string
	// Block indexes Document.Blocks; Off and Len are rune offsets of the
	// word inside that block's text (Len 0: the word was not kept).
	Block, Off, Len int
	// Box as fractions of the page image's width and height, origin at
	// the top left, so a viewer can draw it at any scale.
	X0, Y0, X1, Y1 float64
	Conf           float64 // Tesseract's confidence, 0..100
}

// OCRBox is a highlighted rectangle on a page, in the units of OCRWord.
type OCRBox struct {
	Page           int
	X0, Y0, X1, Y1 float64
}

// OCRBoxes returns the boxes of the OCR'd words that overlap the rune range
// [start, end) of d.Text() (a chunk's Start and End), so a citation of a
// scanned page can be highlighted on the scan. A page read by a vision
// model has no word positions: a passage on it gets one box covering the
// whole page (PageLevel), so a viewer can say the passage is on that page.
func (d *Document) OCRBoxes(start, end int) []OCRBox {
	if len(d.OCR) == 0 {
		return nil
	}
	// Rune offset of each block in Text().
	offs := make([]int, len(d.Blocks))
	pos := 0
	for i, b := range d.Blocks {
		offs[i] = pos
		pos += utf8.RuneCountInString(b.Text) + utf8.RuneCountInString(blockSep)
	}
	var out []OCRBox
	for _, p := range d.OCR {
		if p.Model != "" && p.Pending == "" {
			for i, b := range d.Blocks {
				n := utf8.RuneCountInString(b.Text)
				if b.Page == p.Page && offs[i] < end && offs[i]+n > start {
					out = append(out, OCRBox{Page: p.Page, X0: 0, Y0: 0, X1: 1, Y1: 1})
					break
				}
			}
			continue
		}
		for _, w := range p.Words {
			if w.Len == 0 || w.Block < 0 || w.Block >= len(offs) {
				continue
			}
			s := offs[w.Block] + w.Off
			if s < end && s+w.Len > start {
				out = append(out, OCRBox{Page: p.Page, X0: w.X0, Y0: w.Y0, X1: w.X1, Y1: w.Y1})
			}
		}
	}
	return out
}

// PageLevel reports whether a box covers a whole page: the passage was
// read by a vision model, which tells no position on the page.
func (b OCRBox) PageLevel() bool { return b.X0 == 0 && b.Y0 == 0 && b.X1 == 1 && b.Y1 == 1 }

// PendingOCR lists the pages still waiting for OCR.
func (d *Document) PendingOCR() []int {
	var out []int
	for _, p := range d.OCR {
		if p.Pending != "" {
			out = append(out, p.Page)
		}
	}
	return out
}

// installTesseract is the sentence a user sees while Tesseract is missing.
const installTesseract = "install Tesseract OCR (Debian/Ubuntu: sudo apt install tesseract-ocr tesseract-ocr-eng tesseract-ocr-chi-sim tesseract-ocr-osd; macOS: brew install tesseract tesseract-lang; Windows: the Tesseract installer from UB Mannheim, with Chinese) and add the file again"

// errNoTesseract: OCR is needed but cannot run here.
var errNoTesseract = errors.New("tesseract not found")

// OCRAvailable reports whether Tesseract can run, and its version line, so
// the app can retry pending pages once it has been installed.
func OCRAvailable(o *OCR) (string, bool) {
	if o != nil && o.Vision != nil {
		return "the vision model " + o.Model, true
	}
	prog, err := o.program()
	if err != nil {
		return "", false
	}
	out, err := exec.Command(prog, "--version").CombinedOutput()
	if err != nil {
		return "", false
	}
	line, _, _ := strings.Cut(string(out), "\n")
	return strings.TrimSpace(line), true
}

func (o *OCR) program() (string, error) {
	name := "tesseract"
	if o != nil && o.Tesseract != "" {
		name = o.Tesseract
	}
	p, err := exec.LookPath(name)
	if err != nil {
		return "", errNoTesseract
	}
	return p, nil
}

func (o *OCR) cacheDir() string {
	if o != nil && o.CacheDir != "" {
		return o.CacheDir
	}
	d, err := os.UserCacheDir()
	if err != nil {
		return ""
	}
	return filepath.Join(d, "atoll", "ocr")
}

// tessLangs caches the languages each Tesseract program has installed.
var tessLangs sync.Map // program path -> map[string]bool

func installedLangs(ctx context.Context, prog string) map[string]bool {
	if v, ok := tessLangs.Load(prog); ok {
		return v.(map[string]bool)
	}
	m := map[string]bool{}
	out, err := exec.CommandContext(ctx, prog, "--list-langs").CombinedOutput()
	if err == nil {
		for _, l := range strings.Split(string(out), "\n")[1:] {
			if l = strings.TrimSpace(l); l != "" {
				m[l] = true
			}
		}
		tessLangs.Store(prog, m)
	}
	return m
}

// ocrResult is what one image gives, as cached.
type ocrResult struct {
	Lang  string     `json:"lang"`
	Model string     `json:"model,omitempty"` // the vision model, instead of Tesseract
	Pages []ocrImage `json:"pages"`           // a multi-page TIFF has several
}

type ocrImage struct {
	W     int       `json:"w"`
	H     int       `json:"h"`
	Words []ocrWord `json:"words"`
	Text  string    `json:"text,omitempty"` // a vision model's reading (no words)
}

type ocrWord struct {
	Text             string  `json:"t"`
	Block, Par, Line int     `json:"-"`
	Key              string  `json:"k"` // block.par.line
	Left             int     `json:"l"`
	Top              int     `json:"y"`
	Wid              int     `json:"w"`
	Hei              int     `json:"h"`
	Conf             float64 `json:"c"`
}

// recognize OCRs one image file, from the cache when it has been seen.
func (o *OCR) recognize(ctx context.Context, img string) (*ocrResult, bool, error) {
	if o != nil && o.Vision != nil {
		return o.recognizeVision(ctx, img)
	}
	data, err := os.ReadFile(img)
	if err != nil {
		return nil, false, err
	}
	sum := sha256.Sum256(data)
	lang := "auto"
	if o != nil && o.Lang != "" {
		lang = o.Lang
	}
	dir := o.cacheDir()
	cacheFile := ""
	if dir != "" {
		cacheFile = filepath.Join(dir, hex.EncodeToString(sum[:])+"-"+strings.ReplaceAll(lang, "+", "_")+".json")
		if b, err := os.ReadFile(cacheFile); err == nil {
			var r ocrResult
			if json.Unmarshal(b, &r) == nil && r.Lang != "" {
				return &r, true, nil
			}
		}
	}
	prog, err := o.program()
	if err != nil {
		return nil, false, err
	}
	langs := installedLangs(ctx, prog)
	if lang == "auto" {
		lang = autoLang(ctx, prog, img, langs)
	}
	psm := "3"
	if langs["osd"] {
		psm = "1" // with orientation and script detection: rotated scans
	}
	pages, err := runTesseract(ctx, prog, img, lang, psm)
	if err != nil {
		return nil, false, err
	}
	// Layout analysis sometimes cuts a single column of Chinese into
	// bits and misreads the first character of each line. Where the page
	// is one column and the reading is doubtful, read it again as one
	// block and keep the more confident reading.
	if len(pages) == 1 && meanConf(pages[0]) < 92 && !multiColumn(pages[0]) {
		if again, err := runTesseract(ctx, prog, img, lang, "6"); err == nil && len(again) == 1 && meanConf(again[0]) > meanConf(pages[0])+1 {
			pages = again
		} else if ctx.Err() != nil {
			return nil, false, ctx.Err()
		}
	}
	r := &ocrResult{Lang: lang, Pages: pages}
	if cacheFile != "" {
		if b, err := json.Marshal(r); err == nil && os.MkdirAll(dir, 0o755) == nil {
			tmp := cacheFile + ".tmp" + strconv.Itoa(os.Getpid())
			if os.WriteFile(tmp, b, 0o644) == nil {
				os.Rename(tmp, cacheFile)
			}
		}
	}
	return r, false, nil
}

func runTesseract(ctx context.Context, prog, img, lang, psm string) ([]ocrImage, error) {
	cmd := exec.CommandContext(ctx, prog, img, "stdout", "-l", lang, "--psm", psm, "tsv")
	// One thread per run: the machine's cores are better spent on pages.
	cmd.Env = append(os.Environ(), "OMP_THREAD_LIMIT=1")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		msg := strings.TrimSpace(stderr.String())
		if i := strings.LastIndexByte(msg, '\n'); i >= 0 {
			msg = msg[i+1:]
		}
		return nil, fmt.Errorf("tesseract failed (%s)", msg)
	}
	return parseTSV(out), nil
}

// meanConf is the confidence per character over the page's words.
func meanConf(p ocrImage) float64 {
	sum, n := 0.0, 0
	for _, w := range p.Words {
		k := utf8.RuneCountInString(w.Text)
		sum += w.Conf * float64(k)
		n += k
	}
	if n == 0 {
		return 0
	}
	return sum / float64(n)
}

// multiColumn: two of Tesseract's blocks side by side (overlapping in
// height, not in width).
func multiColumn(p ocrImage) bool {
	type box struct{ x0, y0, x1, y1 int }
	blocks := map[string]*box{}
	for _, w := range p.Words {
		k, _, _ := strings.Cut(w.Key, ".")
		b := blocks[k]
		if b == nil {
			blocks[k] = &box{w.Left, w.Top, w.Left + w.Wid, w.Top + w.Hei}
			continue
		}
		b.x0, b.y0 = min(b.x0, w.Left), min(b.y0, w.Top)
		b.x1, b.y1 = max(b.x1, w.Left+w.Wid), max(b.y1, w.Top+w.Hei)
	}
	for ka, a := range blocks {
		for kb, b := range blocks {
			if ka < kb && min(a.y1, b.y1)-max(a.y0, b.y0) > 0 && (a.x1 <= b.x0 || b.x1 <= a.x0) {
				return true
			}
		}
	}
	return false
}

// autoLang asks Tesseract's orientation and script detection which script
// the image is in. Too little text for OSD: both languages.
func autoLang(ctx context.Context, prog, img string, langs map[string]bool) string {
	both := "eng"
	if langs["chi_sim"] {
		both = "eng+chi_sim"
	}
	if !langs["osd"] {
		return both
	}
	out, err := exec.CommandContext(ctx, prog, img, "stdout", "--psm", "0").Output()
	if err != nil {
		return both
	}
	for _, l := range strings.Split(string(out), "\n") {
		if s, ok := strings.CutPrefix(l, "Script:"); ok {
			switch strings.TrimSpace(s) {
			case "Han", "HanS", "HanT", "Hangul", "Japanese":
				if langs["chi_sim"] {
					return "chi_sim+eng"
				}
				return "eng"
			case "Latin":
				return "eng"
			}
		}
	}
	return both
}

// parseTSV reads Tesseract's TSV: level 1 rows give each page's size,
// level 5 rows the words with their boxes.
func parseTSV(out []byte) []ocrImage {
	rd := csv.NewReader(bytes.NewReader(out))
	rd.Comma = '\t'
	rd.FieldsPerRecord = -1
	rd.LazyQuotes = true
	var pages []ocrImage
	for {
		rec, err := rd.Read()
		if err == io.EOF {
			break
		}
		if err != nil || len(rec) < 12 || rec[0] == "level" {
			continue
		}
		n := make([]int, 10)
		for i := range n {
			n[i], _ = strconv.Atoi(rec[i])
		}
		level, page := n[0], n[1]
		for len(pages) < page {
			pages = append(pages, ocrImage{})
		}
		if page < 1 {
			continue
		}
		p := &pages[page-1]
		switch level {
		case 1:
			p.W, p.H = n[8], n[9]
		case 5:
			text := strings.TrimSpace(rec[11])
			if text == "" {
				continue
			}
			conf, _ := strconv.ParseFloat(rec[10], 64)
			p.Words = append(p.Words, ocrWord{Text: text, Key: rec[2] + "." + rec[3] + "." + rec[4],
				Block: n[2], Par: n[3], Line: n[4], Left: n[6], Top: n[7], Wid: n[8], Hei: n[9], Conf: conf})
		}
	}
	return pages
}

// addOCRPage turns image i of an OCR result into the blocks of page.
func addOCRPage(b *builder, page int, r *ocrResult, i int) OCRPage {
	if r.Model != "" {
		return addVisionPage(b, page, r.Pages[i].Text, r.Model)
	}
	return addTesseractPage(b, page, r.Pages[i], r.Lang)
}

// addTesseractPage turns one OCR'd image into paragraph blocks (Tesseract's
// paragraphs), keeping every word's offset and box.
func addTesseractPage(b *builder, page int, img ocrImage, lang string) OCRPage {
	res := OCRPage{Page: page, Lang: lang}
	type pending struct {
		w        ocrWord
		off, len int
	}
	var para strings.Builder
	var words []pending
	flush := func() {
		text := para.String()
		para.Reset()
		if text == "" {
			return
		}
		n := len(b.doc.Blocks)
		if !b.add(KindParagraph, 0, page, text) {
			words = nil
			return
		}
		// The builder trims and cleans: offsets hold only if it kept the
		// text as it was.
		same := len(b.doc.Blocks) > n && b.doc.Blocks[n].Text == text
		for _, p := range words {
			w := OCRWord{Text: p.w.Text, Block: n, Off: p.off, Conf: p.w.Conf}
			if same {
				w.Len = p.len
			}
			if img.W > 0 && img.H > 0 {
				w.X0 = float64(p.w.Left) / float64(img.W)
				w.Y0 = float64(p.w.Top) / float64(img.H)
				w.X1 = float64(p.w.Left+p.w.Wid) / float64(img.W)
				w.Y1 = float64(p.w.Top+p.w.Hei) / float64(img.H)
			}
			res.Words = append(res.Words, w)
		}
		words = nil
	}
	// Tesseract's paragraphs split a short text at every other line, so
	// paragraphs come from the lines' geometry: a gap wider than most of a
	// line's height, or a jump up (the next column).
	runes := 0
	lastLine := ""
	lineTop, lineBottom, prevTop, prevBottom := 0, 0, 0, 0
	for _, w := range img.Words {
		newPara := false
		if w.Key != lastLine {
			prevTop, prevBottom = lineTop, lineBottom
			lineTop, lineBottom = w.Top, w.Top+w.Hei
			h := prevBottom - prevTop
			gap := lineTop - prevBottom
			newPara = lastLine == "" || gap > h*7/10 || gap < -h
		} else {
			lineTop, lineBottom = min(lineTop, w.Top), max(lineBottom, w.Top+w.Hei)
		}
		if newPara {
			flush()
			runes = 0
		} else {
			// A space between words, none between two CJK characters
			// (Tesseract splits Chinese into one-character words).
			prev := para.String()
			ra, _ := utf8.DecodeLastRuneInString(prev)
			rb, _ := utf8.DecodeRuneInString(w.Text)
			if prev != "" && !(isCJK(ra) && isCJK(rb)) {
				para.WriteByte(' ')
				runes++
			}
		}
		lastLine = w.Key
		n := utf8.RuneCountInString(w.Text)
		words = append(words, pending{w: w, off: runes, len: n})
		para.WriteString(w.Text)
		runes += n
	}
	flush()
	return res
}

// ocrWorkDir is a private temp folder for page images.
func ocrWorkDir() (string, func(), error) {
	d, err := os.MkdirTemp("", "atoll-ocr-")
	if err != nil {
		return "", func() {}, err
	}
	return d, func() { os.RemoveAll(d) }, nil
}
