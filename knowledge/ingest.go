// Package knowledge runs ingestion jobs: it walks the user's files, extracts
// and chunks them (package ingest), stores them (package store) and embeds the
// new chunks through the model seam. Text and the lexical index are stored
// first; embeddings follow, so search works at once and a missing model or a
// stopped Ollama only delays the vectors.
package knowledge

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"atoll/ingest"
	"atoll/rag"
	"atoll/store"
)

// Embedder turns texts into vectors, one request per batch.
type Embedder interface {
	EmbedBatched(ctx context.Context, model string, texts []string, batch, concurrency int, progress func(done int)) ([][]float32, error)
}

// Progress is a snapshot of a running job.
type Progress struct {
	Job        string  `json:"job"`
	KB         string  `json:"kb"`
	Files      int     `json:"files"`
	FilesDone  int     `json:"filesDone"`
	Chunks     int     `json:"chunks"`
	Bytes      int64   `json:"bytes"`
	BytesDone  int64   `json:"bytesDone"`
	Rate       float64 `json:"rate"`
	ETASeconds float64 `json:"etaSeconds"`
	Current    string  `json:"current"`
	Phase      string  `json:"phase"` // "reading", "ocr" or "embedding"
	Embedded   int     `json:"embedded"`
	ToEmbed    int     `json:"toEmbed"`
	// Pages read so far (PDF pages, across the job), and the page of the
	// file being read when it has pages, so a long PDF shows it is moving.
	Pages     int `json:"pages"`
	FilePage  int `json:"filePage"`
	FilePages int `json:"filePages"`
	// OCRPage of OCRPages is the page being read by OCR (phase "ocr"):
	// seconds a page, so the display says so.
	OCRPage  int `json:"ocrPage"`
	OCRPages int `json:"ocrPages"`
}

// FileFailure is one file that could not be ingested.
type FileFailure struct {
	File   string `json:"file"`
	Reason string `json:"reason"`
}

// Summary is the outcome of a job.
type Summary struct {
	Job     string  `json:"job"`
	KB      string  `json:"kb"`
	OK      int     `json:"ok"`
	Failed  int     `json:"failed"`
	Skipped int     `json:"skipped"`
	Removed int     `json:"removed"`
	Chunks  int     `json:"chunks"`
	Seconds float64 `json:"seconds"`
	Pending int     `json:"pending"` // chunks still waiting for vectors
	// Ignored counts the files inside folders left out for their type
	// (images, archives...); IgnoredTypes names the commonest extensions.
	Ignored      int         `json:"ignored"`
	IgnoredTypes []TypeCount `json:"ignoredTypes,omitempty"`
	PendingWhy   string      `json:"pendingWhy,omitempty"`
	// OCRPending counts the pages (scans, images) waiting for OCR, in the
	// whole knowledge base; OCRPendingWhy says what to do. A later ingest
	// reads them once OCR can run.
	OCRPending    int           `json:"ocrPending,omitempty"`
	OCRPendingWhy string        `json:"ocrPendingWhy,omitempty"`
	Errors        []FileFailure `json:"errors"`
	Cancelled     bool          `json:"cancelled"`
}

// TypeCount is how many files of one extension were left out.
type TypeCount struct {
	Ext   string `json:"ext"` // ".png"; "" for files without one
	Files int    `json:"files"`
}

// commonTypes returns the n commonest extensions among paths, commonest first.
func commonTypes(paths []string, n int) []TypeCount {
	count := map[string]int{}
	for _, p := range paths {
		count[strings.ToLower(filepath.Ext(p))]++
	}
	out := make([]TypeCount, 0, len(count))
	for ext, c := range count {
		out = append(out, TypeCount{ext, c})
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Files != out[j].Files {
			return out[i].Files > out[j].Files
		}
		return out[i].Ext < out[j].Ext
	})
	if len(out) > n {
		out = out[:n]
	}
	return out
}

// Ingester is the job runner.
type Ingester struct {
	Store    *store.Store
	Embedder Embedder // nil: embeddings stay pending
	Limits   ingest.Limits
	Chunking ingest.ChunkOptions
	// EmbedBatch and EmbedConcurrency bound the load on Ollama.
	EmbedBatch, EmbedConcurrency int
	// Explain turns an embedding failure into the sentence shown to the
	// user (llm.Sentence in the app and the CLI).
	Explain func(error) string
	// ProgressEvery spaces progress reports (first and last always go);
	// zero means every 100 ms, negative means every change.
	ProgressEvery time.Duration
	// OCR is how scans and images are read (the program, the cache); the
	// language comes from the knowledge base (Meta.OCRLang).
	OCR ingest.OCR
}

// New returns an ingester with default limits.
func New(st *store.Store, emb Embedder) *Ingester {
	return &Ingester{Store: st, Embedder: emb, Limits: ingest.DefaultLimits(), Chunking: ingest.DefaultChunkOptions(), EmbedBatch: 32, EmbedConcurrency: 2}
}

// Run ingests paths into the knowledge base kb (created if missing). Each
// file is stored as soon as it is read, so cancelling or a crash keeps what
// was done and the next run skips it.
func (in *Ingester) Run(ctx context.Context, job, kbName, embedModel string, paths []string, progress func(Progress)) (Summary, error) {
	start := time.Now()
	sum := Summary{Job: job, KB: kbName, Errors: []FileFailure{}}
	if progress == nil {
		progress = func(Progress) {}
	}
	if _, err := in.Store.Create(kbName, embedModel); err != nil {
		return sum, err
	}
	kb, err := in.Store.KB(kbName)
	if err != nil {
		return sum, err
	}
	if embedModel != "" && kb.EmbedModel() != embedModel {
		if err := kb.SetEmbedModel(embedModel); err != nil {
			return sum, err
		}
	}

	abs := make([]string, 0, len(paths))
	for _, p := range paths {
		a, err := filepath.Abs(p)
		if err != nil {
			a = p
		}
		abs = append(abs, a)
	}
	files, ignored, errs := ingest.Collect(abs)
	ocr := in.OCR
	ocr.Lang = kb.Meta().OCRLang
	files = in.withPendingOCR(kb, &ocr, files)
	sum.Ignored, sum.IgnoredTypes = len(ignored), commonTypes(ignored, 5)
	for _, e := range errs {
		sum.Failed++
		sum.Errors = append(sum.Errors, FileFailure{File: e.Path, Reason: e.Reason})
	}
	roots := map[string]string{} // file -> folder root it came from
	for _, r := range abs {
		if st, err := os.Stat(r); err == nil && st.IsDir() {
			for _, f := range files {
				if strings.HasPrefix(f, r+string(filepath.Separator)) {
					roots[f] = r
				}
			}
		}
	}

	p := Progress{Job: job, KB: kbName, Files: len(files), Phase: "reading"}
	for _, f := range files {
		if st, err := os.Stat(f); err == nil {
			p.Bytes += st.Size()
		}
	}
	tick := newTicker(progress, in.ProgressEvery)
	tick.send(p, true)

	for _, f := range files {
		if ctx.Err() != nil {
			sum.Cancelled = true
			break
		}
		p.Current = f
		p.FilePage, p.FilePages = 0, 0
		tick.send(p, false)
		before, pagesBefore := p.BytesDone, p.Pages
		var fileSize int64
		if st, err := os.Stat(f); err == nil {
			fileSize = st.Size()
		}
		rate := func() {
			if el := time.Since(start).Seconds(); el > 0 {
				p.Rate = float64(p.BytesDone) / el
				if p.Rate > 0 {
					p.ETASeconds = float64(p.Bytes-p.BytesDone) / p.Rate
				}
			}
		}
		onPage := func(done, total int) {
			// Bytes move with the pages, so the bar and the time left do too.
			p.FilePage, p.FilePages = done, total
			p.Pages = pagesBefore + done
			p.BytesDone = before + fileSize*int64(done)/int64(max(total, 1))
			rate()
			tick.send(p, false)
		}
		o := ocr
		o.OnPage = func(page, total int) {
			p.Phase, p.OCRPage, p.OCRPages = "ocr", page, total
			tick.send(p, true)
		}
		readPage := func(done, total int) {
			p.Phase = "reading"
			onPage(done, total)
		}
		root, ok := roots[f]
		if !ok {
			root = pendingRoot(kb, f)
		}
		size, chunks, skipped, ferr := in.one(ctx, kb, f, root, readPage, &o)
		p.Phase, p.OCRPage, p.OCRPages = "reading", 0, 0
		p.FilesDone++
		p.BytesDone = before + size
		p.Chunks += chunks
		rate()
		switch {
		case ferr != nil && errors.Is(ferr, context.Canceled):
			sum.Cancelled = true
		case ferr != nil:
			sum.Failed++
			sum.Errors = append(sum.Errors, FileFailure{File: f, Reason: reason(ferr)})
		case skipped:
			sum.Skipped++
		default:
			sum.OK++
			sum.Chunks += chunks
		}
		tick.send(p, false)
	}

	// Folder sources: files that were there before and are gone now are removed.
	if !sum.Cancelled {
		present := map[string]bool{}
		for _, f := range files {
			present[f] = true
		}
		for _, d := range kb.Docs() {
			if d.Root == "" || present[d.Path] {
				continue
			}
			for _, r := range abs {
				if d.Root == r {
					if kb.Remove(d.Path) == nil {
						sum.Removed++
					}
				}
			}
		}
	}

	if !sum.Cancelled {
		p.Phase = "embedding"
		p.Current = ""
		why, err := in.EmbedPending(ctx, kb, func(done, total int) {
			p.Embedded, p.ToEmbed = done, total
			tick.send(p, false)
		})
		if errors.Is(err, context.Canceled) {
			sum.Cancelled = true
		}
		sum.PendingWhy = why
	}
	for _, d := range kb.Docs() {
		if len(d.OCRPending) > 0 {
			sum.OCRPending += len(d.OCRPending)
			if sum.OCRPendingWhy == "" {
				sum.OCRPendingWhy = ocrWhy(d)
			}
		}
	}
	sum.Pending = len(kb.Pending())
	if kb.Meta().EmbedModel == "" {
		sum.Pending = 0
	}
	// The index snapshot is a cache (the next open rebuilds without it), so
	// failing to write it is not the job's failure.
	_ = kb.MaybeCheckpoint()
	tick.send(p, true)
	sum.Seconds = time.Since(start).Seconds()
	return sum, nil
}

// one ingests a single file. It returns the bytes read, the chunk count, and
// whether the file was unchanged since the last run.
func (in *Ingester) one(ctx context.Context, kb *store.KB, path, root string, onPage func(done, total int), ocr *ingest.OCR) (size int64, chunks int, skipped bool, err error) {
	hash, size, err := hashFile(path, in.Limits.MaxFileBytes)
	if err != nil {
		return size, 0, false, err
	}
	if old, ok := kb.Doc(path); ok && old.Hash == hash && old.Status == store.StatusOK && (len(old.OCRPending) == 0 || !ocrCanRun(ocr)) {
		return size, len(old.Chunks), true, nil
	}
	doc := store.Doc{Path: path, Name: filepath.Base(path), Hash: hash, Size: size, Root: root, Ingested: time.Now().UTC()}
	d, xerr := ingest.ExtractWith(ctx, path, in.Limits, ingest.ExtractOptions{OnPage: onPage, OCR: ocr})
	if xerr != nil {
		if errors.Is(xerr, context.Canceled) || ctx.Err() != nil {
			return size, 0, false, context.Canceled
		}
		doc.Status = store.StatusFailed
		doc.Error = reason(xerr)
		if perr := kb.Put(doc); perr != nil {
			return size, 0, false, perr
		}
		return size, 0, false, xerr
	}
	doc.Format = d.Format
	doc.Pages = d.Pages
	doc.Warnings = d.Warnings
	doc.Status = store.StatusOK
	doc.OCRPending = d.PendingOCR()
	for _, c := range ingest.Split(d, in.Chunking) {
		doc.Chunks = append(doc.Chunks, store.Chunk{Page: c.Page, Headings: c.Headings, Start: c.Start, End: c.End, Text: c.Text,
			Boxes: lineBoxes(d.OCRBoxes(c.Start, c.End))})
	}
	if len(doc.Chunks) == 0 && len(doc.OCRPending) > 0 {
		// Nothing to search yet, but not a failure: the pages wait for
		// OCR as chunks wait for embeddings.
		if err := kb.Put(doc); err != nil {
			return size, 0, false, err
		}
		return size, 0, false, nil
	}
	if len(doc.Chunks) == 0 {
		doc.Status = store.StatusFailed
		doc.Error = "has no text to index (it may be a scan or an image-only file)"
		_ = kb.Put(doc)
		return size, 0, false, &ingest.FileError{Path: path, Reason: doc.Error}
	}
	if err := kb.Put(doc); err != nil {
		return size, 0, false, err
	}
	return size, len(doc.Chunks), false, nil
}

// EmbedPending embeds every chunk that lacks a vector, in batches, storing
// each batch as it arrives so a cancel or crash keeps the work done. When the
// model cannot be reached it returns the reason as a sentence and no error:
// the chunks stay pending and lexical search keeps working.
func (in *Ingester) EmbedPending(ctx context.Context, kb *store.KB, progress func(done, total int)) (string, error) {
	model := kb.EmbedModel()
	if model == "" {
		return "", nil
	}
	pending := kb.Pending()
	if len(pending) == 0 {
		return "", nil
	}
	if in.Embedder == nil {
		return "no embedding server is configured", nil
	}
	step := in.EmbedBatch * in.EmbedConcurrency * 4
	if step <= 0 {
		step = 256
	}
	done := 0
	for i := 0; i < len(pending); i += step {
		j := min(i+step, len(pending))
		part := pending[i:j]
		texts := make([]string, len(part))
		keys := make([]string, len(part))
		for k, c := range part {
			texts[k], keys[k] = embedText(c), c.Key
		}
		vecs, err := in.Embedder.EmbedBatched(ctx, model, texts, in.EmbedBatch, in.EmbedConcurrency, func(n int) {
			if progress != nil {
				progress(done+n, len(pending))
			}
		})
		if err != nil {
			if ctx.Err() != nil {
				return "", context.Canceled
			}
			if in.Explain != nil {
				return in.Explain(err), nil
			}
			return err.Error(), nil
		}
		if err := kb.AddVectors(ctx, keys, vecs); err != nil {
			return "", err
		}
		done = j
		if progress != nil {
			progress(done, len(pending))
		}
	}
	_ = kb.MaybeCheckpoint() // a cache: see Run
	return "", nil
}

// embedText puts the heading trail before the passage: "Prices > Cakes: ..."
// gives the vector the context a bare paragraph lacks.
func embedText(c store.Chunk) string {
	if len(c.Headings) == 0 {
		return c.Text
	}
	return strings.Join(c.Headings, " > ") + "\n" + c.Text
}

func hashFile(path string, limit int64) (string, int64, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", 0, &ingest.FileError{Path: path, Reason: "cannot be opened (" + plainOSError(err) + ")", Err: err}
	}
	defer f.Close()
	h := sha256.New()
	n, err := io.Copy(h, f)
	if err != nil {
		return "", n, &ingest.FileError{Path: path, Reason: "cannot be read (" + plainOSError(err) + ")", Err: err}
	}
	return hex.EncodeToString(h.Sum(nil)), n, nil
}

func plainOSError(err error) string {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err.Error()
	}
	return err.Error()
}

// reason is the sentence to show for a failed file (without the path, which
// the caller shows beside it).
func reason(err error) string {
	var fe *ingest.FileError
	if errors.As(err, &fe) {
		return fe.Reason
	}
	return err.Error()
}

// ticker throttles progress callbacks to a few per second.
type ticker struct {
	mu    sync.Mutex
	fn    func(Progress)
	every time.Duration
	last  time.Time
}

func newTicker(fn func(Progress), every time.Duration) *ticker {
	if every == 0 {
		every = 100 * time.Millisecond
	}
	return &ticker{fn: fn, every: every}
}

func (t *ticker) send(p Progress, force bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if !force && time.Since(t.last) < t.every {
		return
	}
	t.last = time.Now()
	t.fn(p)
}

// withPendingOCR adds to files the knowledge base's documents still waiting
// for OCR, when OCR can run now: installing Tesseract and ingesting again
// (any files) completes them, as a later run completes embeddings.
func (in *Ingester) withPendingOCR(kb *store.KB, ocr *ingest.OCR, files []string) []string {
	var pending []string
	for _, d := range kb.Docs() {
		if len(d.OCRPending) > 0 {
			pending = append(pending, d.Path)
		}
	}
	if len(pending) == 0 || !ocrCanRun(ocr) {
		return files
	}
	have := make(map[string]bool, len(files))
	for _, f := range files {
		have[f] = true
	}
	for _, p := range pending {
		if st, err := os.Stat(p); err == nil && st.Mode().IsRegular() && !have[p] {
			files = append(files, p)
		}
	}
	return files
}

// pendingRoot keeps the folder a document was found under when it is read
// again only to complete its OCR.
func pendingRoot(kb *store.KB, path string) string {
	if d, ok := kb.Doc(path); ok {
		return d.Root
	}
	return ""
}

// ocrCanRun: OCR is on and Tesseract answers.
func ocrCanRun(o *ingest.OCR) bool {
	if o == nil || o.Off {
		return false
	}
	_, ok := ingest.OCRAvailable(o)
	return ok
}

// ocrWhy is the sentence saying why a document's pages wait for OCR (the
// extractor's warning).
func ocrWhy(d store.Doc) string {
	for _, w := range d.Warnings {
		if strings.Contains(w, "waiting for OCR") {
			return w
		}
	}
	return "pages are waiting for OCR"
}

// lineBoxes joins the word boxes of one line into one box, so a chunk
// stores a few boxes per line of the scan instead of one per word.
// Coordinates are kept to 1/10000 of the page, as the store keeps them.
func lineBoxes(words []ingest.OCRBox) []rag.Box {
	var out []rag.Box
	for _, w := range words {
		if n := len(out); n > 0 {
			last := &out[n-1]
			h := min(last.Y1-last.Y0, w.Y1-w.Y0)
			overlap := min(last.Y1, w.Y1) - max(last.Y0, w.Y0)
			if last.Page == w.Page && h > 0 && overlap > h/2 && w.X0 >= last.X0 && w.X0-last.X1 < 0.05 {
				last.X1, last.Y0, last.Y1 = max(last.X1, w.X1), min(last.Y0, w.Y0), max(last.Y1, w.Y1)
				continue
			}
		}
		out = append(out, rag.Box{Page: w.Page, X0: w.X0, Y0: w.Y0, X1: w.X1, Y1: w.Y1})
	}
	for i := range out {
		b := &out[i]
		b.X0, b.Y0, b.X1, b.Y1 = round4(b.X0), round4(b.Y0), round4(b.X1), round4(b.Y1)
	}
	return out
}

func round4(x float64) float64 { return math.Round(x*10000) / 10000 }
