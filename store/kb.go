package store

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"hash/crc32"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"time"

	"atoll/rag"
)

// Chunk is one stored passage of a document.
type Chunk struct {
	ID       string   `json:"id"`
	Key      string   `json:"key"` // hash of Text: vectors are keyed by it, so unchanged text is never re-embedded
	Page     int      `json:"page"`
	Headings []string `json:"headings,omitempty"`
	Start    int      `json:"start"`
	End      int      `json:"end"`
	Text     string   `json:"text"`
	// Boxes place OCR'd text on its page image (see rag.Box).
	Boxes []rag.Box `json:"boxes,omitempty"`
}

// Doc is one ingested (or failed) file.
type Doc struct {
	Path     string    `json:"path"`
	Name     string    `json:"name"`
	Format   string    `json:"format"`
	Hash     string    `json:"hash"`
	Size     int64     `json:"size"`
	Pages    int       `json:"pages"`
	Status   string    `json:"status"` // "ok" or "failed"
	Error    string    `json:"error,omitempty"`
	Warnings []string  `json:"warnings,omitempty"`
	Root     string    `json:"root,omitempty"` // the folder it was found under, to notice deletions
	Ingested time.Time `json:"ingested"`
	Chunks   []Chunk   `json:"chunks,omitempty"`
	// OCRPending lists the pages (1 for an image) still waiting for OCR;
	// a later ingest reads them once OCR can run.
	OCRPending []int `json:"ocrPending,omitempty"`
}

// Status values of a Doc.
const (
	StatusOK     = "ok"
	StatusFailed = "failed"
)

// KB is one open knowledge base: its documents, their chunks, vectors and
// the in-memory search index.
type KB struct {
	dir string
	lk  *kbLock // the writer lock, shared with this process's Store

	metaInfo os.FileInfo // kb.json as last read: another process may rewrite it

	mu      sync.RWMutex
	meta    Meta
	docs    map[string]*Doc
	log     *recordLog
	live    int64 // bytes of the newest record per document: the rest is garbage
	index   *rag.Index
	vectors *vectorSet // for meta.EmbedModel; nil until a model is set
	next    *vectorSet // for meta.NextEmbedModel while a model switch runs

	// Text repeated across files (licence headers, navigation, disclaimers)
	// is indexed once: rep holds the chunk that stands for a text key in the
	// index, refs how many stored chunks carry that text.
	rep  map[string]string
	refs map[string]int

	// dirty: the index has changed since index.snap was written.
	dirty    bool
	changed  int  // chunks added, removed or given vectors since then
	restored bool // the index came from the snapshot (for tests)
	closed   bool
	bg       sync.WaitGroup
	snapMu   sync.Mutex // one snapshot write at a time // a checkpoint running in the background
}

// TextKey is the vector key of a chunk's text.
func TextKey(text string) string {
	h := sha256.Sum256([]byte(text))
	return hex.EncodeToString(h[:12])
}

// openKB opens a knowledge base for reading and, through lk, writing. If no
// other process is writing at that moment, it also does the upkeep that
// needs the writer lock: cutting a crash's torn tail, compacting the log,
// finishing a model switch and writing the index snapshot.
func openKB(dir string, m Meta, lk *kbLock) (*KB, error) {
	release, maintain := lk.tryAcquire()
	kb, err := loadKB(dir, m, maintain)
	if maintain {
		release()
	}
	if err != nil {
		return nil, err
	}
	kb.lk = lk
	kb.metaInfo, _ = os.Stat(filepath.Join(dir, "kb.json"))
	if maintain && kb.dirty && len(kb.docs) > 0 {
		kb.bg.Add(1)
		go func() {
			defer kb.bg.Done()
			_ = kb.Checkpoint()
		}()
	}
	return kb, nil
}

// loadKB reads a knowledge base's files into memory. maintain: the caller
// holds the writer lock, so the files may be repaired and compacted.
func loadKB(dir string, m Meta, maintain bool) (*KB, error) {
	kb := &KB{dir: dir, meta: m, docs: map[string]*Doc{}}
	snap, snapIndex, haveSnap := readSnapshot(dir)
	if haveSnap && snap.model != m.EmbedModel {
		haveSnap = false
	}
	reached := haveSnap && snap.docsEnd == 0
	var tail []docRecord // records written after the snapshot was taken
	sizes := map[string]int64{}
	lg, err := openLog(filepath.Join(dir, "docs.log"), maintain, func(p []byte, end int64) error {
		r, err := decodeRecord(p)
		if err != nil {
			return nil // a record we cannot read is skipped, never fatal
		}
		switch {
		case r.Op == "put" && r.Doc != nil:
			sizes[r.Doc.Path] = int64(len(p)) + frameHeader
		case r.Op == "del":
			delete(sizes, r.Path)
		}
		if haveSnap && reached {
			tail = append(tail, r)
			return nil
		}
		kb.apply(r)
		if haveSnap && end >= snap.docsEnd {
			reached = end == snap.docsEnd && crc32.Checksum(p, crcTable) == snap.docsLast
			haveSnap = reached
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	kb.log = lg
	for _, s := range sizes {
		kb.live += s
	}
	if m.EmbedModel != "" {
		vs, err := openVectors(dir, m.EmbedModel, maintain)
		if err != nil {
			lg.close()
			return nil, err
		}
		kb.vectors = vs
	}
	kb.restored = haveSnap && reached && kb.restoreIndex(snapIndex) == nil
	if !kb.restored {
		kb.rebuildIndex()
	}
	for _, r := range tail {
		kb.applyIndexed(r)
	}
	kb.applyMissingVectors()
	kb.restoreFusion()
	if m.NextEmbedModel != "" {
		vs, err := openVectors(dir, m.NextEmbedModel, maintain)
		if err != nil {
			kb.closeFiles()
			return nil, err
		}
		kb.next = vs
		if maintain {
			kb.promoteIfComplete()
		}
	}
	if maintain && lg.size > 4<<20 && lg.size > 2*kb.live {
		if err := kb.compact(); err != nil {
			kb.closeFiles()
			return nil, err
		}
	}
	return kb, nil
}

// applyIndexed applies a record read after the index was built: the index
// follows the document map.
func (kb *KB) applyIndexed(r docRecord) {
	kb.touch(1)
	if r.Op == "put" && r.Doc != nil {
		if old, ok := kb.docs[r.Doc.Path]; ok {
			kb.unindexDoc(old)
		}
		kb.docs[r.Doc.Path] = r.Doc
		kb.indexDocs(r.Doc)
	} else if old, ok := kb.docs[r.Path]; ok && r.Op == "del" {
		kb.unindexDoc(old)
		delete(kb.docs, r.Path)
	}
}

// apply replays one docs.log record into the document map.
func (kb *KB) apply(r docRecord) {
	switch r.Op {
	case "put":
		if r.Doc != nil {
			kb.docs[r.Doc.Path] = r.Doc
		}
	case "del":
		delete(kb.docs, r.Path)
	}
}

type chunkRef struct {
	d *Doc
	i int
}

// restoreIndex loads the index from a snapshot of the current documents,
// checking that it indexes exactly one chunk per distinct text.
func (kb *KB) restoreIndex(data []byte) error {
	n := 0
	for _, d := range kb.docs {
		n += len(d.Chunks)
	}
	byID := make(map[string]chunkRef, n)
	for _, d := range kb.docs {
		for i := range d.Chunks {
			byID[d.Chunks[i].ID] = chunkRef{d, i}
		}
	}
	rep, refs := make(map[string]string, n), make(map[string]int, n)
	dup := false
	ix, err := rag.RestoreIndex(data, func(id string) (rag.Passage, []float32, bool) {
		r, ok := byID[id]
		if !ok {
			return rag.Passage{}, nil, false
		}
		c := r.d.Chunks[r.i]
		if _, seen := rep[c.Key]; seen {
			dup = true
		}
		rep[c.Key] = c.ID
		var vec []float32
		if kb.vectors != nil {
			vec, _ = kb.vectors.get(c.Key)
		}
		return passage(kb.meta.Name, r.d, c), vec, true
	})
	if err != nil {
		return err
	}
	for _, d := range kb.docs {
		for _, c := range d.Chunks {
			refs[c.Key]++
		}
	}
	if dup || len(rep) != len(refs) || len(rep) != ix.Len() {
		return rag.ErrSnapshot
	}
	kb.index, kb.rep, kb.refs = ix, rep, refs
	return nil
}

// applyMissingVectors gives the index the vectors stored since its snapshot.
func (kb *KB) applyMissingVectors() {
	if kb.vectors == nil {
		return
	}
	missing := map[string]bool{}
	for _, id := range kb.index.WithoutVectors() {
		missing[id] = true
	}
	if len(missing) == 0 {
		return
	}
	var ids []string
	var vecs [][]float32
	for _, d := range kb.sortedDocs() {
		for _, c := range d.Chunks {
			if !missing[c.ID] {
				continue
			}
			if v, ok := kb.vectors.get(c.Key); ok {
				ids = append(ids, c.ID)
				vecs = append(vecs, v)
			}
		}
	}
	if len(ids) > 0 {
		kb.index.SetVectors(ids, vecs)
		kb.touch(len(ids))
	}
}

func (kb *KB) touch(n int) {
	kb.dirty = true
	kb.changed += max(n, 1)
}

// Checkpoint writes the index snapshot if the index changed since the last
// one, so the next open restores instead of rebuilding. Closing does it.
func (kb *KB) Checkpoint() error {
	return kb.checkpoint(false)
}

// checkpoint writes the snapshot (if big, only when enough has changed). It
// needs the writer lock, so that the snapshot names the current state of a
// log no one else is replacing; when another writer has it, the snapshot is
// left to that writer.
func (kb *KB) checkpoint(ifBig bool) error {
	release, ok := kb.lk.tryAcquire()
	if !ok {
		return nil
	}
	defer release()
	kb.snapMu.Lock()
	defer kb.snapMu.Unlock()
	kb.mu.Lock()
	if kb.closed {
		kb.mu.Unlock()
		return nil
	}
	err := kb.refresh(true)
	kb.mu.Unlock()
	if err != nil {
		return err
	}
	kb.mu.RLock() // searches go on while it writes
	defer kb.mu.RUnlock()
	if ifBig {
		total := 0
		for _, d := range kb.docs {
			total += len(d.Chunks)
		}
		if kb.changed < 5000 && kb.changed*20 < total {
			return nil
		}
	}
	return kb.checkpointLocked()
}

// MaybeCheckpoint writes the snapshot once enough has changed since the last
// one (5% of the chunks, or 5000) that replaying it on the next open would
// be noticeable: writing the whole snapshot (about 0.2 s and 110 MB at 100k
// chunks) after every small ingest would cost more than it saves. The
// ingester calls it after each job; after a crash, open replays at most
// that much.
func (kb *KB) MaybeCheckpoint() error {
	return kb.checkpoint(true)
}

// checkpointLocked runs under snapMu and kb.mu (read or write): the fields it
// resets are otherwise only changed under kb.mu's write lock.
func (kb *KB) checkpointLocked() error {
	if !kb.dirty || kb.closed {
		return nil
	}
	model := ""
	if kb.vectors != nil {
		model = kb.meta.EmbedModel
	}
	h := snapHeader{docsEnd: kb.log.size, docsLast: kb.log.last, model: model}
	if err := writeSnapshot(kb.dir, h, kb.index.WriteSnapshot); err != nil {
		return fmt.Errorf("couldn't write the index snapshot of %q: %w", kb.meta.Name, err)
	}
	kb.dirty, kb.changed = false, 0
	return nil
}

// sortedDocs lists documents by path, so which copy of a repeated text is
// indexed does not depend on map order.
func (kb *KB) sortedDocs() []*Doc {
	out := make([]*Doc, 0, len(kb.docs))
	for _, d := range kb.docs {
		out = append(out, d)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Path < out[j].Path })
	return out
}

// indexDocs adds documents' chunks to the index, skipping texts another
// chunk already stands for.
func (kb *KB) indexDocs(docs ...*Doc) {
	if kb.rep == nil {
		kb.rep, kb.refs = map[string]string{}, map[string]int{}
	}
	var ps []rag.Passage
	var fresh []Chunk
	for _, d := range docs {
		for _, c := range d.Chunks {
			kb.refs[c.Key]++
			if _, ok := kb.rep[c.Key]; ok {
				continue
			}
			kb.rep[c.Key] = c.ID
			ps = append(ps, passage(kb.meta.Name, d, c))
			fresh = append(fresh, c)
		}
	}
	kb.index.Add(ps...)
	if kb.vectors != nil {
		kb.applyVectors(fresh)
	}
}

// unindexDoc takes a document's chunks out of the index; a text it stood
// for that other documents still hold gets one of their chunks instead.
func (kb *KB) unindexDoc(d *Doc) {
	var gone []string
	orphan := map[string]bool{}
	for _, c := range d.Chunks {
		kb.refs[c.Key]--
		if kb.rep[c.Key] == c.ID {
			gone = append(gone, c.ID)
			delete(kb.rep, c.Key)
			if kb.refs[c.Key] > 0 {
				orphan[c.Key] = true
			}
		}
		if kb.refs[c.Key] <= 0 {
			delete(kb.refs, c.Key)
		}
	}
	kb.index.Remove(gone...)
	if len(orphan) == 0 {
		return
	}
	var ps []rag.Passage
	var fresh []Chunk
	for _, o := range kb.sortedDocs() {
		if o == d {
			continue
		}
		for _, c := range o.Chunks {
			if orphan[c.Key] {
				delete(orphan, c.Key)
				kb.rep[c.Key] = c.ID
				ps = append(ps, passage(kb.meta.Name, o, c))
				fresh = append(fresh, c)
			}
		}
	}
	kb.index.Add(ps...)
	if kb.vectors != nil {
		kb.applyVectors(fresh)
	}
}

func passage(kb string, d *Doc, c Chunk) rag.Passage {
	return rag.Passage{ID: c.ID, KB: kb, Source: d.Path, Page: c.Page, Headings: c.Headings, Start: c.Start, End: c.End, Text: c.Text, Boxes: c.Boxes}
}

// compact rewrites the log with only the newest record per document.
func (kb *KB) compact() error {
	path := filepath.Join(kb.dir, "docs.log")
	paths := make([]string, 0, len(kb.docs))
	for p := range kb.docs {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	// The snapshot names a state of the old log; it goes first, so a crash
	// never pairs it with the new one.
	if err := removeSnapshot(kb.dir); err != nil {
		return err
	}
	kb.touch(1 << 30)
	if err := kb.log.close(); err != nil {
		return err
	}
	err := writeLogAtomically(path, func(emit func([]byte) error) error {
		for _, p := range paths {
			if err := emit(encodePut(kb.docs[p])); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	lg, err := openLog(path, true, func([]byte, int64) error { return nil })
	if err != nil {
		return err
	}
	kb.log = lg
	kb.live = lg.size
	return nil
}

// Meta returns the knowledge base's metadata.
func (kb *KB) Meta() Meta {
	kb.follow()
	kb.mu.RLock()
	defer kb.mu.RUnlock()
	return kb.meta
}

// restoreFusion hands the index the fusion figures kept for the serving
// model. Under kb.mu (write) or before the knowledge base is shared.
func (kb *KB) restoreFusion() {
	if f := kb.meta.Fusion; f != nil && f.Model == kb.meta.EmbedModel && kb.index.Fusion() != *f {
		kb.index.SetFusion(*f)
	}
}

// SetFusion keeps fusion figures measured for the serving model in kb.json
// and gives them to the index. The write is skipped, not waited for, while
// another process holds the writer lock (an ingest may hold it for minutes
// and a search must not wait): the figures then serve from memory and a
// later open measures again.
func (kb *KB) SetFusion(w rag.FusionWeights) error {
	release, ok := kb.lk.tryAcquire()
	if !ok {
		kb.mu.RLock()
		if w.Model == kb.meta.EmbedModel {
			kb.index.SetFusion(w)
		}
		kb.mu.RUnlock()
		return nil
	}
	defer release()
	kb.mu.Lock()
	defer kb.mu.Unlock()
	if kb.closed {
		return nil
	}
	if err := kb.refresh(true); err != nil {
		return err
	}
	if w.Model != kb.meta.EmbedModel {
		return nil // the model changed while measuring
	}
	m := kb.meta
	m.Fusion = &w
	if err := writeMeta(kb.dir, m); err != nil {
		return err
	}
	kb.meta = m
	kb.restoreFusion()
	return nil
}

// Copies returns the paths of other documents holding the exact text of the
// chunk id of document path (the index holds only one of them), at most max.
func (kb *KB) Copies(path, id string, max int) []string {
	kb.mu.RLock()
	defer kb.mu.RUnlock()
	d, ok := kb.docs[path]
	if !ok {
		return nil
	}
	key := ""
	for _, c := range d.Chunks {
		if c.ID == id {
			key = c.Key
			break
		}
	}
	if key == "" || kb.refs[key] < 2 {
		return nil
	}
	var out []string
	for _, o := range kb.sortedDocs() {
		if o == d {
			continue
		}
		for _, c := range o.Chunks {
			if c.Key == key {
				out = append(out, o.Path)
				break
			}
		}
		if len(out) == max {
			break
		}
	}
	return out
}

// Index is the in-memory search index.
func (kb *KB) Index() *rag.Index { return kb.index }

// Docs returns every document, sorted by path, without chunk texts.
func (kb *KB) Docs() []Doc {
	kb.follow()
	kb.mu.RLock()
	defer kb.mu.RUnlock()
	out := make([]Doc, 0, len(kb.docs))
	for _, d := range kb.docs {
		c := *d
		c.Chunks = nil
		out = append(out, c)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Path < out[j].Path })
	return out
}

// Doc returns one document with its chunks.
func (kb *KB) Doc(path string) (Doc, bool) {
	kb.follow()
	kb.mu.RLock()
	defer kb.mu.RUnlock()
	d, ok := kb.docs[path]
	if !ok {
		return Doc{}, false
	}
	return *d, true
}

// ChunkCount is the number of stored chunks.
func (kb *KB) ChunkCount() int {
	kb.follow()
	kb.mu.RLock()
	defer kb.mu.RUnlock()
	n := 0
	for _, d := range kb.docs {
		n += len(d.Chunks)
	}
	return n
}

// Put stores a document (replacing any earlier version of the same path).
// The record is durable when Put returns.
func (kb *KB) Put(d Doc) error {
	for i := range d.Chunks {
		c := &d.Chunks[i]
		if c.Key == "" {
			c.Key = TextKey(c.Text)
		}
		if c.ID == "" {
			c.ID = chunkID(d.Path, d.Hash, i)
		}
	}
	b := encodePut(&d)
	return kb.change(func() error {
		if err := kb.log.append(b); err != nil {
			return fmt.Errorf("couldn't store %s: %w", d.Path, err)
		}
		if old, ok := kb.docs[d.Path]; ok {
			kb.unindexDoc(old)
			delete(kb.docs, d.Path)
		}
		kb.live += int64(len(b)) + frameHeader
		kb.docs[d.Path] = &d
		kb.indexDocs(&d)
		kb.touch(len(d.Chunks))
		return nil
	})
}

// Remove forgets a document.
func (kb *KB) Remove(path string) error {
	return kb.change(func() error {
		old, ok := kb.docs[path]
		if !ok {
			return fmt.Errorf("%s is not in this knowledge base", path)
		}
		if err := kb.log.append(encodeDel(path)); err != nil {
			return err
		}
		kb.unindexDoc(old)
		delete(kb.docs, path)
		kb.touch(len(old.Chunks))
		return nil
	})
}

// change runs fn as the knowledge base's one writer: under the writer lock
// (waiting for another process if need be), after catching up with what
// other processes wrote, under kb.mu.
func (kb *KB) change(fn func() error) error {
	release, err := kb.lk.acquire()
	if err != nil {
		return err
	}
	defer release()
	kb.mu.Lock()
	defer kb.mu.Unlock()
	if kb.closed {
		return fmt.Errorf("knowledge base %q is closed", kb.meta.Name)
	}
	if err := kb.refresh(true); err != nil {
		return err
	}
	return fn()
}

func chunkID(path, hash string, i int) string {
	h := sha256.Sum256([]byte(fmt.Sprintf("%s\x00%s\x00%d", path, hash, i)))
	return hex.EncodeToString(h[:10])
}

func (kb *KB) allChunks() []Chunk {
	var out []Chunk
	for _, d := range kb.docs {
		out = append(out, d.Chunks...)
	}
	return out
}

// applyVectors hands the index the vectors it has for these chunks.
func (kb *KB) applyVectors(chunks []Chunk) {
	ids := make([]string, 0, len(chunks))
	vecs := make([][]float32, 0, len(chunks))
	for _, c := range chunks {
		if v, ok := kb.vectors.get(c.Key); ok {
			ids = append(ids, c.ID)
			vecs = append(vecs, v)
		}
	}
	kb.index.SetVectors(ids, vecs)
}

// SetOCRLang sets the Tesseract language for the scans of this knowledge
// base ("" picks it per page). Pages already read keep their text: the
// setting applies to what is read next.
func (kb *KB) SetOCRLang(lang string) error {
	return kb.change(func() error {
		m := kb.meta
		m.OCRLang = lang
		if err := writeMeta(kb.dir, m); err != nil {
			return err
		}
		kb.meta = m
		return nil
	})
}

// SetEmbedModel changes the embedding model. When vectors of the current
// model are serving, they keep serving: the new model's vectors are built
// beside them (Pending and AddVectors work on the new set) and take over only
// when every chunk has one. With nothing serving yet, the switch is at once.
// Vectors of an earlier model stay on disk; switching back reuses them.
func (kb *KB) SetEmbedModel(model string) error {
	return kb.change(func() error { return kb.setEmbedModel(model) })
}

func (kb *KB) setEmbedModel(model string) error {
	if model == kb.meta.EmbedModel && kb.vectors != nil {
		if kb.next != nil { // a switch back: drop the half-built set
			kb.next.close()
			kb.next = nil
			kb.meta.NextEmbedModel = ""
			return writeMeta(kb.dir, kb.meta)
		}
		return nil
	}
	if kb.next != nil && kb.next.model == model {
		return nil
	}
	vs, err := openVectors(kb.dir, model, true)
	if err != nil {
		return err
	}
	serving := kb.vectors != nil && kb.index.HasVectors()
	m := kb.meta
	if serving {
		m.NextEmbedModel = model
	} else {
		m.EmbedModel, m.NextEmbedModel, m.Dims = model, "", vs.dims
	}
	if err := writeMeta(kb.dir, m); err != nil {
		vs.close()
		return err
	}
	kb.meta = m
	if serving {
		if kb.next != nil {
			kb.next.close()
		}
		kb.next = vs
		kb.promoteIfComplete()
		return nil
	}
	if kb.vectors != nil {
		kb.vectors.close()
	}
	kb.vectors = vs
	kb.switchVectors()
	return nil
}

// switchVectors gives the index the serving model's vectors in place of the
// previous model's; the lexical part does not depend on the model and stays.
func (kb *KB) switchVectors() {
	kb.index.ClearVectors()
	if kb.vectors != nil {
		var reps []Chunk
		for _, d := range kb.sortedDocs() {
			for _, c := range d.Chunks {
				if kb.rep[c.Key] == c.ID {
					reps = append(reps, c)
				}
			}
		}
		kb.applyVectors(reps)
	}
	kb.touch(1 << 30)
}

// rebuildIndex makes a fresh index from the documents and the serving vectors.
func (kb *KB) rebuildIndex() {
	kb.index = rag.NewIndex()
	kb.rep, kb.refs = nil, nil
	kb.indexDocs(kb.sortedDocs()...)
	kb.touch(1 << 30)
}

// promoteIfComplete lets the model being built take over once it covers
// every chunk.
func (kb *KB) promoteIfComplete() {
	if kb.next == nil {
		return
	}
	for _, d := range kb.docs {
		for _, c := range d.Chunks {
			if _, ok := kb.next.get(c.Key); !ok {
				return
			}
		}
	}
	m := kb.meta
	m.EmbedModel, m.NextEmbedModel, m.Dims = kb.next.model, "", kb.next.dims
	if writeMeta(kb.dir, m) != nil {
		return // try again after the next batch
	}
	if kb.vectors != nil {
		kb.vectors.close()
	}
	kb.meta, kb.vectors, kb.next = m, kb.next, nil
	kb.switchVectors()
}

// target is the vector set being filled: the next model's while a switch
// runs, else the serving one.
func (kb *KB) target() *vectorSet {
	if kb.next != nil {
		return kb.next
	}
	return kb.vectors
}

// EmbedModel is the model whose vectors are being filled in (the new one
// during a switch), or "" when none is set.
func (kb *KB) EmbedModel() string {
	kb.follow()
	kb.mu.RLock()
	defer kb.mu.RUnlock()
	if t := kb.target(); t != nil {
		return t.model
	}
	return kb.meta.EmbedModel
}

// Pending returns the chunks (one per distinct text) that have no vector for
// the model being filled in, in a stable order.
func (kb *KB) Pending() []Chunk {
	kb.follow()
	kb.mu.RLock()
	defer kb.mu.RUnlock()
	t := kb.target()
	seen := map[string]bool{}
	var out []Chunk
	paths := make([]string, 0, len(kb.docs))
	for p := range kb.docs {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	for _, p := range paths {
		for _, c := range kb.docs[p].Chunks {
			if seen[c.Key] {
				continue
			}
			seen[c.Key] = true
			if t == nil {
				out = append(out, c)
				continue
			}
			if _, ok := t.get(c.Key); !ok {
				out = append(out, c)
			}
		}
	}
	return out
}

// AddVectors stores vectors (durably) for chunk texts and makes them
// searchable — at once for the serving model, or when a model switch
// completes.
func (kb *KB) AddVectors(ctx context.Context, keys []string, vecs [][]float32) error {
	return kb.change(func() error {
		t := kb.target()
		if t == nil {
			return fmt.Errorf("knowledge base %q has no embedding model", kb.meta.Name)
		}
		if err := t.add(ctx, keys, vecs); err != nil {
			return err
		}
		if t == kb.next {
			kb.promoteIfComplete()
			return nil
		}
		if kb.meta.Dims == 0 && len(vecs) > 0 {
			kb.meta.Dims = len(vecs[0])
			_ = writeMeta(kb.dir, kb.meta)
		}
		kb.vectorsArrived(keys)
		return nil
	})
}

// vectorsArrived gives the index the serving model's new vectors for these
// text keys.
func (kb *KB) vectorsArrived(keys []string) {
	want := map[string]bool{}
	for _, k := range keys {
		want[k] = true
	}
	var chunks []Chunk
	for _, d := range kb.docs {
		for _, c := range d.Chunks {
			if want[c.Key] {
				chunks = append(chunks, c)
			}
		}
	}
	kb.applyVectors(chunks)
	kb.touch(len(chunks))
}

// Vector returns the stored vector of a chunk text key for the current
// embedding model.
func (kb *KB) Vector(key string) ([]float32, bool) {
	kb.follow()
	kb.mu.RLock()
	defer kb.mu.RUnlock()
	if kb.vectors == nil {
		return nil, false
	}
	return kb.vectors.get(key)
}

// Search runs a query against this knowledge base.
func (kb *KB) Search(q rag.Query) []rag.Hit {
	kb.follow()
	kb.mu.RLock()
	ix := kb.index
	kb.mu.RUnlock()
	return ix.Search(q)
}

// Close writes the index snapshot if it changed and releases the files.
func (kb *KB) Close() {
	kb.bg.Wait()
	_ = kb.checkpoint(false) // only a cache: the next open rebuilds without it
	kb.snapMu.Lock()
	defer kb.snapMu.Unlock()
	kb.mu.Lock()
	defer kb.mu.Unlock()
	if !kb.closed {
		kb.closeFiles()
	}
	kb.closed = true
}
