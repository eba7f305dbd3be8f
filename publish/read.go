package publish

import (
	"archive/zip"
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"strings"

	"atoll/store"
)

// Limits bound what Read accepts, so a hostile bundle cannot exhaust memory
// or disk. Sizes are of inflated bytes, checked both as the zip declares
// them and as they are actually read.
type Limits struct {
	MaxEntries  int   // entries in the zip
	MaxEntry    int64 // bytes of any one entry
	MaxTotal    int64 // bytes of all entries together
	MaxManifest int64 // bytes of manifest.json
	// MaxLine bounds one line of chunks.jsonl (one document with all its
	// chunks): entries are read a line at a time, so memory is bounded by
	// this and by what is kept, never by an entry's size.
	MaxLine int64
}

// DefaultLimits are generous for documents and tight enough that a bomb
// stops long before the disk fills.
var DefaultLimits = Limits{MaxEntries: 100_000, MaxEntry: 1 << 30, MaxTotal: 4 << 30, MaxManifest: 16 << 20, MaxLine: 64 << 20}

// manifestAllowance bounds manifest.json by the number of entries it must
// describe (a path, a size and a checksum each), so a small zip cannot
// carry a huge manifest that decodes into many times its size.
func manifestAllowance(entries int) int64 { return 64<<10 + int64(entries)*2<<10 }

// ErrInvalid marks a bundle that Read refused; the message says why.
var ErrInvalid = errors.New("invalid bundle")

func invalid(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrInvalid, fmt.Sprintf(format, args...))
}

// Bundle is a bundle that passed every check of Read.
type Bundle struct {
	Manifest Manifest
	lim      Limits
	// rel maps, per knowledge base, a document path as the bundle stores it
	// to the relative path it is imported under (older bundles carry
	// absolute paths; see relpath.go). Paths that stay the same are absent.
	rel   map[string]map[string]string
	files map[string]*zip.File
	want  map[string]File
}

// Read validates a whole bundle without writing anything: entry names,
// declared and actual sizes, checksums, the manifest's schema, every
// document line and every vector. The returned Bundle still reads source
// files from r when installed, so r must stay open until then.
func Read(r io.ReaderAt, size int64, lim Limits) (*Bundle, error) {
	zr, err := zip.NewReader(r, size)
	if err != nil && !errors.Is(err, zip.ErrInsecurePath) {
		return nil, invalid("it is not a readable zip file (%v)", err)
	}
	insecure := err != nil
	if len(zr.File) > lim.MaxEntries {
		return nil, invalid("it has %d entries, more than the %d allowed", len(zr.File), lim.MaxEntries)
	}
	if lim.MaxLine <= 0 {
		lim.MaxLine = DefaultLimits.MaxLine
	}
	b := &Bundle{lim: lim, rel: map[string]map[string]string{}, files: map[string]*zip.File{}, want: map[string]File{}}
	var declared uint64
	for _, f := range zr.File {
		if err := safeName(f.Name); err != nil {
			return nil, fmt.Errorf("%w: %v", ErrInvalid, err)
		}
		if _, dup := b.files[f.Name]; dup {
			return nil, invalid("entry %q appears twice", f.Name)
		}
		if !f.Mode().IsRegular() {
			return nil, invalid("entry %q is not a regular file", f.Name)
		}
		if f.Method != zip.Store && f.Method != zip.Deflate {
			return nil, invalid("entry %q uses compression method %d; bundles use stored or deflated entries", f.Name, f.Method)
		}
		if f.UncompressedSize64 > uint64(lim.MaxEntry) {
			return nil, invalid("entry %q declares %d bytes, more than the %d allowed for one entry", f.Name, f.UncompressedSize64, lim.MaxEntry)
		}
		declared += f.UncompressedSize64
		if declared > uint64(lim.MaxTotal) {
			return nil, invalid("its entries declare more than the %d bytes allowed in all", lim.MaxTotal)
		}
		b.files[f.Name] = f
	}
	if insecure {
		// archive/zip saw a name it considers unsafe that safeName let through.
		return nil, invalid("it has an entry name that is unsafe on this system")
	}

	mf, ok := b.files[ManifestName]
	if !ok {
		return nil, invalid("it has no %s", ManifestName)
	}
	maxManifest := min(lim.MaxManifest, manifestAllowance(len(zr.File)))
	if mf.UncompressedSize64 > uint64(maxManifest) {
		return nil, invalid("%s declares %d bytes, more than the %d allowed for a bundle of %d entries", ManifestName, mf.UncompressedSize64, maxManifest, len(zr.File))
	}
	raw, err := readAll(mf, int64(mf.UncompressedSize64), maxManifest)
	if err != nil {
		return nil, err
	}
	if err := json.Unmarshal(raw, &b.Manifest); err != nil {
		return nil, invalid("%s is not valid: %v", ManifestName, err)
	}
	m := &b.Manifest
	if err := m.check(); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalid, err)
	}

	// The manifest and the zip must list exactly the same entries.
	var total int64
	for _, f := range m.Files {
		zf, ok := b.files[f.Path]
		if !ok {
			return nil, invalid("the manifest lists %q, which is not in the bundle", f.Path)
		}
		if zf.UncompressedSize64 != uint64(f.Size) {
			return nil, invalid("entry %q declares %d bytes where the manifest says %d", f.Path, zf.UncompressedSize64, f.Size)
		}
		total += f.Size
		b.want[f.Path] = f
	}
	if total > lim.MaxTotal {
		return nil, invalid("its entries hold more than the %d bytes allowed in all", lim.MaxTotal)
	}
	for name := range b.files {
		if _, ok := b.want[name]; !ok && name != ManifestName {
			return nil, invalid("entry %q is not in the manifest", name)
		}
	}

	// Which entry belongs to what: nothing may be left over.
	claimed := map[string]bool{}
	for i := range m.KnowledgeBases {
		kb := &m.KnowledgeBases[i]
		if err := b.readKB(kb, claimed); err != nil {
			return nil, err
		}
	}
	for _, f := range m.Files {
		if !claimed[f.Path] {
			return nil, invalid("entry %q belongs to no knowledge base or document", f.Path)
		}
	}
	// Source files are verified now too, so a bad one is refused before
	// anything is written; Install verifies them again as it extracts.
	for _, f := range m.Files {
		if strings.HasPrefix(f.Path, "sources/") {
			if err := b.verify(f.Path, io.Discard); err != nil {
				return nil, err
			}
		}
	}
	return b, nil
}

// kbCheck validates one knowledge base's chunks.jsonl a line at a time.
// What it keeps (paths, chunk ids and keys) is what the knowledge base will
// hold anyway; blank lines and everything else cost nothing.
type kbCheck struct {
	b                 *Bundle
	kb                *KnowledgeBase
	entry             string
	claimed           map[string]bool
	paths, ids, keys  map[string]struct{}
	order             []string // paths in the order of the file
	docs, chunks, src int
}

func (b *Bundle) newKBCheck(kb *KnowledgeBase, claimed map[string]bool) *kbCheck {
	return &kbCheck{b: b, kb: kb, entry: kbEntry(kb.Name, chunksFile), claimed: claimed,
		paths: map[string]struct{}{}, ids: map[string]struct{}{}, keys: map[string]struct{}{}}
}

// line checks one line; it returns nil for a blank one.
func (c *kbCheck) line(n int, line []byte) (*Document, error) {
	if len(bytes.TrimSpace(line)) == 0 {
		return nil, nil
	}
	var doc Document
	if err := json.Unmarshal(line, &doc); err != nil {
		return nil, invalid("%s line %d is not a document: %v", c.entry, n, err)
	}
	where := fmt.Sprintf("%s line %d", c.entry, n)
	if _, dup := c.paths[doc.Path]; doc.Path == "" || dup {
		return nil, invalid("%s has an empty or repeated path", where)
	}
	c.paths[doc.Path] = struct{}{}
	c.order = append(c.order, doc.Path)
	if doc.Pages < 0 || doc.Size < 0 {
		return nil, invalid("%s has a negative page count or size", where)
	}
	for i, ch := range doc.Chunks {
		if _, dup := c.ids[ch.ID]; ch.ID == "" || dup {
			return nil, invalid("%s chunk %d has an empty or repeated id", where, i+1)
		}
		c.ids[ch.ID] = struct{}{}
		if ch.Key != store.TextKey(ch.Text) {
			return nil, invalid("%s chunk %d: its key is not the hash of its text", where, i+1)
		}
		if ch.Start < 0 || ch.End < ch.Start || ch.Page < 0 {
			return nil, invalid("%s chunk %d has a bad position", where, i+1)
		}
		c.keys[ch.Key] = struct{}{}
	}
	c.chunks += len(doc.Chunks)
	if doc.Source != "" {
		kb := c.kb.Name
		if !strings.HasPrefix(doc.Source, "sources/"+kb+"/") || strings.Count(doc.Source, "/") != 2 {
			return nil, invalid("%s names source %q outside sources/%s/", where, doc.Source, kb)
		}
		if _, ok := c.b.want[doc.Source]; !ok {
			return nil, invalid("%s names source %q, which the manifest does not list", where, doc.Source)
		}
		if c.claimed[doc.Source] {
			return nil, invalid("%s names source %q, which another document already uses", where, doc.Source)
		}
		if doc.Hash != "" && doc.Hash != c.b.want[doc.Source].SHA256 {
			return nil, invalid("%s: the source file %q is not the file the document was made from (its hash differs)", where, doc.Source)
		}
		c.claimed[doc.Source] = true
		c.src++
	}
	c.docs++
	if c.docs > c.kb.Documents || c.chunks > c.kb.Chunks {
		return nil, invalid("%s: knowledge base %q holds more documents or chunks than the manifest says (%d and %d)", where, c.kb.Name, c.kb.Documents, c.kb.Chunks)
	}
	return &doc, nil
}

func (c *kbCheck) end() error {
	kb := c.kb
	if c.docs != kb.Documents || c.chunks != kb.Chunks || c.src != kb.Sources {
		return invalid("knowledge base %q holds %d documents, %d chunks and %d sources where the manifest says %d, %d and %d",
			kb.Name, c.docs, c.chunks, c.src, kb.Documents, kb.Chunks, kb.Sources)
	}
	return nil
}

// eachDoc streams a knowledge base's chunks.jsonl through the checks,
// calling fn for every document.
func (b *Bundle) eachDoc(kb *KnowledgeBase, claimed map[string]bool, fn func(*Document) error) (*kbCheck, error) {
	c := b.newKBCheck(kb, claimed)
	claimed[c.entry] = true
	err := b.stream(c.entry, func(r io.Reader) error {
		return eachLine(r, b.lim.MaxLine, c.entry, func(n int, line []byte) error {
			doc, err := c.line(n, line)
			if err != nil || doc == nil {
				return err
			}
			return fn(doc)
		})
	})
	if err != nil {
		return nil, err
	}
	return c, c.end()
}

// eachVector streams a knowledge base's vectors.bin.
func (b *Bundle) eachVector(kb *KnowledgeBase, fn func(key string, v []float32) error) error {
	name := kbEntry(kb.Name, vectorsFile)
	return b.stream(name, func(r io.Reader) error {
		if err := readVectorsFrom(r, kb.Dims, fn); err != nil {
			if errors.Is(err, ErrInvalid) {
				return err
			}
			return invalid("%s: %v", name, err)
		}
		return nil
	})
}

func (b *Bundle) readKB(kb *KnowledgeBase, claimed map[string]bool) error {
	c, err := b.eachDoc(kb, claimed, func(*Document) error { return nil })
	if err != nil {
		return err
	}
	// Older bundles carry absolute paths: they are made relative, so
	// neither this machine nor a hub shows where the exporter kept them.
	in := make([]docPath, len(c.order))
	for i, p := range c.order {
		in[i] = docPath{path: p}
	}
	rel := map[string]string{}
	for i, p := range relativePaths(in) {
		if p != c.order[i] {
			rel[c.order[i]] = p
		}
	}
	b.rel[kb.Name] = rel
	if kb.Vectors == 0 {
		return nil
	}
	name := kbEntry(kb.Name, vectorsFile)
	claimed[name] = true
	seen := map[string]struct{}{}
	err = b.eachVector(kb, func(key string, v []float32) error {
		if _, ok := c.keys[key]; !ok {
			return fmt.Errorf("a vector for a chunk the bundle does not have")
		}
		if _, dup := seen[key]; dup {
			return fmt.Errorf("two vectors for one chunk")
		}
		seen[key] = struct{}{}
		return nil
	})
	if err != nil {
		return err
	}
	if len(seen) != kb.Vectors {
		return invalid("%s holds %d vectors where the manifest says %d", name, len(seen), kb.Vectors)
	}
	return nil
}

// eachLine calls fn with every non-blank line of r (without holding more
// than one), refusing a line longer than max with a sentence naming the
// entry. Whitespace between lines is skipped in bulk: a run of millions of
// blank lines costs a scan, not a call per line.
func eachLine(r io.Reader, max int64, entry string, fn func(n int, line []byte) error) error {
	br := bufio.NewReaderSize(r, 64<<10)
	var buf []byte
	n := 1
	for {
		// Skip whitespace, counting the line ends it contains.
		if _, err := br.Peek(1); err != nil {
			if err == io.EOF {
				return nil
			}
			return err
		}
		ahead, _ := br.Peek(br.Buffered())
		k := 0
		for k < len(ahead) && (ahead[k] == '\n' || ahead[k] == '\r' || ahead[k] == ' ' || ahead[k] == '\t') {
			if ahead[k] == '\n' {
				n++
			}
			k++
		}
		br.Discard(k)
		if k == len(ahead) {
			continue
		}
		buf = buf[:0]
		var err error
		for {
			var frag []byte
			frag, err = br.ReadSlice('\n')
			if int64(len(buf)+len(frag)) > max {
				return invalid("%s line %d is longer than the %d bytes allowed for one document", entry, n, max)
			}
			buf = append(buf, frag...)
			if err != bufio.ErrBufferFull {
				break
			}
		}
		if err != nil && err != io.EOF {
			return err
		}
		if ferr := fn(n, buf); ferr != nil {
			return ferr
		}
		n++
		if err == io.EOF {
			return nil
		}
		if cap(buf) > 1<<20 {
			buf = nil // one long line must not pin its memory for the rest
		}
	}
}

// readVectorsFrom decodes vectors.bin (see vectors.go) from a stream, one
// record at a time. Every record must have dims dimensions and finite values.
func readVectorsFrom(r io.Reader, dims int, fn func(key string, v []float32) error) error {
	br := bufio.NewReaderSize(r, 64<<10)
	var hdr [2]byte
	raw := make([]byte, 4*dims)
	for n := 1; ; n++ {
		if _, err := io.ReadFull(br, hdr[:]); err == io.EOF {
			return nil
		} else if err != nil {
			return cutShort(n, err)
		}
		kl := int(binary.LittleEndian.Uint16(hdr[:]))
		if kl == 0 {
			return fmt.Errorf("record %d has a bad key", n)
		}
		key := make([]byte, kl)
		if _, err := io.ReadFull(br, key); err != nil {
			return cutShort(n, err)
		}
		if _, err := io.ReadFull(br, hdr[:]); err != nil {
			return cutShort(n, err)
		}
		if d := int(binary.LittleEndian.Uint16(hdr[:])); d != dims {
			return fmt.Errorf("record %d has %d dimensions where the manifest says %d", n, d, dims)
		}
		if _, err := io.ReadFull(br, raw); err != nil {
			return cutShort(n, err)
		}
		v := make([]float32, dims)
		for i := range v {
			f := math.Float32frombits(binary.LittleEndian.Uint32(raw[4*i:]))
			if math.IsNaN(float64(f)) || math.IsInf(float64(f), 0) {
				return fmt.Errorf("record %d holds a value that is not a finite number", n)
			}
			v[i] = f
		}
		if err := fn(string(key), v); err != nil {
			return err
		}
	}
}

func cutShort(n int, err error) error {
	if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
		return fmt.Errorf("record %d is cut short", n)
	}
	return err
}

// stream passes an entry's inflated bytes to fn, refusing it as soon as it
// inflates past the size the manifest gives it, and checks its size and
// SHA-256 once fn has read it to the end.
func (b *Bundle) stream(name string, fn func(io.Reader) error) error {
	want := b.want[name]
	rc, err := b.files[name].Open()
	if err != nil {
		return invalid("entry %q cannot be read: %v", name, err)
	}
	defer rc.Close()
	h := sha256.New()
	cr := &countingReader{r: rc, limit: want.Size}
	er := &errReader{r: io.TeeReader(cr, h)}
	ferr := fn(er)
	if ferr == nil {
		_, ferr = io.Copy(io.Discard, er)
	}
	if er.err != nil {
		return entryError(name, want.Size, er.err)
	}
	if ferr != nil {
		return ferr
	}
	if cr.n != want.Size {
		return invalid("entry %q holds %d bytes where the manifest says %d", name, cr.n, want.Size)
	}
	if hex.EncodeToString(h.Sum(nil)) != want.SHA256 {
		return invalid("entry %q does not match its checksum in the manifest", name)
	}
	return nil
}

// errReader remembers the first read error other than EOF, so stream can
// tell a damaged entry from a document its reader refused.
type errReader struct {
	r   io.Reader
	err error
}

func (e *errReader) Read(p []byte) (int, error) {
	n, err := e.r.Read(p)
	if err != nil && err != io.EOF && e.err == nil {
		e.err = err
	}
	return n, err
}

func entryError(name string, size int64, err error) error {
	if errors.Is(err, errTooLong) {
		return invalid("entry %q inflates past the %d bytes the manifest gives it", name, size)
	}
	if errors.Is(err, zip.ErrFormat) || errors.Is(err, zip.ErrChecksum) {
		// archive/zip stops an entry that inflates past its declared
		// size with ErrFormat before our own counter sees the excess.
		return invalid("entry %q is damaged or inflates past its declared size (%v)", name, err)
	}
	return invalid("entry %q cannot be read: %v", name, err)
}

// verify copies an entry to w, refusing it as soon as it inflates past the
// size the manifest gives it, and checks its SHA-256 at the end. Nothing is
// trusted from the zip's own headers here.
func (b *Bundle) verify(name string, w io.Writer) error {
	return b.stream(name, func(r io.Reader) error {
		_, err := io.Copy(w, r)
		return err
	})
}

// readAll reads a zip entry that is not (yet) checked against the manifest.
func readAll(f *zip.File, declared, limit int64) ([]byte, error) {
	rc, err := f.Open()
	if err != nil {
		return nil, invalid("entry %q cannot be read: %v", f.Name, err)
	}
	defer rc.Close()
	cr := &countingReader{r: rc, limit: min(declared, limit)}
	b, err := io.ReadAll(cr)
	if errors.Is(err, errTooLong) {
		return nil, invalid("entry %q inflates past its declared size", f.Name)
	}
	if err != nil {
		return nil, invalid("entry %q cannot be read: %v", f.Name, err)
	}
	return b, nil
}

var errTooLong = errors.New("entry longer than allowed")

// countingReader fails once more than limit bytes come through, whatever the
// zip headers claimed: a deflate bomb is stopped after limit+1 bytes.
type countingReader struct {
	r     io.Reader
	n     int64
	limit int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	if int64(len(p)) > c.limit-c.n+1 {
		p = p[:c.limit-c.n+1]
	}
	n, err := c.r.Read(p)
	c.n += int64(n)
	if c.n > c.limit {
		return n, errTooLong
	}
	return n, err
}
