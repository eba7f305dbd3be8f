package publish

import (
	"archive/zip"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
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
}

// DefaultLimits are generous for documents and tight enough that a bomb
// stops long before the disk fills.
var DefaultLimits = Limits{MaxEntries: 100_000, MaxEntry: 1 << 30, MaxTotal: 4 << 30, MaxManifest: 16 << 20}

// ErrInvalid marks a bundle that Read refused; the message says why.
var ErrInvalid = errors.New("invalid bundle")

func invalid(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrInvalid, fmt.Sprintf(format, args...))
}

// Bundle is a bundle that passed every check of Read.
type Bundle struct {
	Manifest Manifest
	kbs      map[string]*kbData
	files    map[string]*zip.File
	want     map[string]File
}

type kbData struct {
	docs []Document
	keys []string
	vecs [][]float32
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
	b := &Bundle{kbs: map[string]*kbData{}, files: map[string]*zip.File{}, want: map[string]File{}}
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
	if mf.UncompressedSize64 > uint64(lim.MaxManifest) {
		return nil, invalid("%s declares %d bytes, more than the %d allowed", ManifestName, mf.UncompressedSize64, lim.MaxManifest)
	}
	raw, err := readAll(mf, int64(mf.UncompressedSize64), lim.MaxManifest)
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
		d, err := b.readKB(kb, lim, claimed)
		if err != nil {
			return nil, err
		}
		b.kbs[kb.Name] = d
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

func (b *Bundle) readKB(kb *KnowledgeBase, lim Limits, claimed map[string]bool) (*kbData, error) {
	d := &kbData{}
	name := kbEntry(kb.Name, chunksFile)
	claimed[name] = true
	raw, err := b.read(name, lim)
	if err != nil {
		return nil, err
	}
	paths := map[string]bool{}
	ids := map[string]bool{}
	keys := map[string]bool{}
	chunks, sources := 0, 0
	for n, line := range bytes.Split(raw, []byte("\n")) {
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		var doc Document
		if err := json.Unmarshal(line, &doc); err != nil {
			return nil, invalid("%s line %d is not a document: %v", name, n+1, err)
		}
		where := fmt.Sprintf("%s line %d", name, n+1)
		if doc.Path == "" || paths[doc.Path] {
			return nil, invalid("%s has an empty or repeated path", where)
		}
		paths[doc.Path] = true
		if doc.Pages < 0 || doc.Size < 0 {
			return nil, invalid("%s has a negative page count or size", where)
		}
		for i, c := range doc.Chunks {
			if c.ID == "" || ids[c.ID] {
				return nil, invalid("%s chunk %d has an empty or repeated id", where, i+1)
			}
			ids[c.ID] = true
			if c.Key != store.TextKey(c.Text) {
				return nil, invalid("%s chunk %d: its key is not the hash of its text", where, i+1)
			}
			if c.Start < 0 || c.End < c.Start || c.Page < 0 {
				return nil, invalid("%s chunk %d has a bad position", where, i+1)
			}
			keys[c.Key] = true
		}
		chunks += len(doc.Chunks)
		if doc.Source != "" {
			if !strings.HasPrefix(doc.Source, "sources/"+kb.Name+"/") || strings.Count(doc.Source, "/") != 2 {
				return nil, invalid("%s names source %q outside sources/%s/", where, doc.Source, kb.Name)
			}
			if _, ok := b.want[doc.Source]; !ok {
				return nil, invalid("%s names source %q, which the manifest does not list", where, doc.Source)
			}
			if claimed[doc.Source] {
				return nil, invalid("%s names source %q, which another document already uses", where, doc.Source)
			}
			if doc.Hash != "" && doc.Hash != b.want[doc.Source].SHA256 {
				return nil, invalid("%s: the source file %q is not the file the document was made from (its hash differs)", where, doc.Source)
			}
			claimed[doc.Source] = true
			sources++
		}
		d.docs = append(d.docs, doc)
	}
	// Older bundles carry absolute paths: they are made relative here, so
	// neither this machine nor a hub shows where the exporter kept them.
	relativeDocs(d.docs)
	if len(d.docs) != kb.Documents || chunks != kb.Chunks || sources != kb.Sources {
		return nil, invalid("knowledge base %q holds %d documents, %d chunks and %d sources where the manifest says %d, %d and %d",
			kb.Name, len(d.docs), chunks, sources, kb.Documents, kb.Chunks, kb.Sources)
	}
	if kb.Vectors == 0 {
		return d, nil
	}
	name = kbEntry(kb.Name, vectorsFile)
	claimed[name] = true
	raw, err = b.read(name, lim)
	if err != nil {
		return nil, err
	}
	seen := map[string]bool{}
	err = readVectors(raw, kb.Dims, func(key string, v []float32) error {
		if !keys[key] {
			return fmt.Errorf("a vector for a chunk the bundle does not have")
		}
		if seen[key] {
			return fmt.Errorf("two vectors for one chunk")
		}
		seen[key] = true
		d.keys = append(d.keys, key)
		d.vecs = append(d.vecs, v)
		return nil
	})
	if err != nil {
		return nil, invalid("%s: %v", name, err)
	}
	if len(d.keys) != kb.Vectors {
		return nil, invalid("%s holds %d vectors where the manifest says %d", name, len(d.keys), kb.Vectors)
	}
	return d, nil
}

// read returns an entry's bytes after checking its size and checksum.
func (b *Bundle) read(name string, lim Limits) ([]byte, error) {
	var buf bytes.Buffer
	if err := b.verify(name, &buf); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// verify copies an entry to w, refusing it as soon as it inflates past the
// size the manifest gives it, and checks its SHA-256 at the end. Nothing is
// trusted from the zip's own headers here.
func (b *Bundle) verify(name string, w io.Writer) error {
	want := b.want[name]
	rc, err := b.files[name].Open()
	if err != nil {
		return invalid("entry %q cannot be read: %v", name, err)
	}
	defer rc.Close()
	h := sha256.New()
	cr := &countingReader{r: rc, limit: want.Size}
	if _, err := io.Copy(io.MultiWriter(w, h), cr); err != nil {
		if errors.Is(err, errTooLong) {
			return invalid("entry %q inflates past the %d bytes the manifest gives it", name, want.Size)
		}
		if errors.Is(err, zip.ErrFormat) || errors.Is(err, zip.ErrChecksum) {
			// archive/zip stops an entry that inflates past its declared
			// size with ErrFormat before our own counter sees the excess.
			return invalid("entry %q is damaged or inflates past its declared size (%v)", name, err)
		}
		return invalid("entry %q cannot be read: %v", name, err)
	}
	if cr.n != want.Size {
		return invalid("entry %q holds %d bytes where the manifest says %d", name, cr.n, want.Size)
	}
	if hex.EncodeToString(h.Sum(nil)) != want.SHA256 {
		return invalid("entry %q does not match its checksum in the manifest", name)
	}
	return nil
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
