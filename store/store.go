// Package store keeps Atoll's knowledge bases on disk under the data folder.
//
//	DATA/kb/<name>/kb.json          name, embedding model, dimensions
//	DATA/kb/<name>/docs.log         one framed binary record per ingested or removed file (chunks inline; record.go)
//	DATA/kb/<name>/vectors-<m>.log  framed float32 vectors for model m, keyed by chunk text hash
//	DATA/kb/<name>/index.snap       the search index as of a named state of docs.log (a cache; snapshot.go)
//
// Each log is append-only with checksummed frames (see log.go), so a crash
// leaves every knowledge base readable and an interrupted ingest resumable.
// Opening restores the index from index.snap and replays only the records
// written after it (100k chunks: about 0.35 s instead of 5 s to rebuild).
// Vectors are held in memory by chromem-go (the only importer of it) and in
// the rag index's quantised form for fast search.
package store

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"sync"
	"time"

	"atoll/rag"
)

// ErrNotFound is returned for a knowledge base that does not exist.
var ErrNotFound = errors.New("not found")

// Meta describes one knowledge base.
type Meta struct {
	Name       string `json:"name"`
	EmbedModel string `json:"embedModel"`
	// NextEmbedModel is being built while EmbedModel keeps serving.
	NextEmbedModel string    `json:"nextEmbedModel,omitempty"`
	Dims           int       `json:"dims"`
	Created        time.Time `json:"created"`
	// Fusion is how far hybrid search trusts each side for EmbedModel,
	// measured once (rag.Index.MeasureFusion) and kept so a reopen need not
	// embed the pseudo-queries again.
	Fusion *rag.FusionWeights `json:"fusion,omitempty"`
	// OCRLang is the Tesseract language for this knowledge base's scans
	// ("eng", "chi_sim", "eng+chi_sim"); "" picks it per page.
	OCRLang string `json:"ocrLang,omitempty"`
}

// Store is the data folder. It hands out one open KB per name.
type Store struct {
	dir    string
	mu     sync.Mutex
	open   map[string]*KB
	closed bool // after Close nothing is opened again: a late goroutine would write after its owner left

	cfg   sync.Mutex // guards what follows
	locks map[string]*kbLock

	holder   string        // this process, as a waiting one names it
	onWait   func(string)  // told when a write waits for another process
	lockWait time.Duration // how long a write waits before giving up
}

// Open prepares the data folder, creating it if missing.
func Open(dir string) (*Store, error) {
	if err := os.MkdirAll(filepath.Join(dir, "kb"), 0o700); err != nil {
		return nil, fmt.Errorf("couldn't create the data folder %s: %w", dir, err)
	}
	return &Store{dir: dir, open: map[string]*KB{}, locks: map[string]*kbLock{}, lockWait: LockWait}, nil
}

// Dir is the data folder.
func (s *Store) Dir() string { return s.dir }

var kbName = regexp.MustCompile(`^[\p{L}\p{N}][\p{L}\p{N} _.\-]{0,63}$`)

// ValidName reports whether name can be a knowledge base (and folder) name.
func ValidName(name string) error {
	if !kbName.MatchString(name) || name[len(name)-1] == '.' || name[len(name)-1] == ' ' {
		return fmt.Errorf("%q is not a valid name: use letters, digits, spaces, '-', '_' or '.', up to 64 characters", name)
	}
	return nil
}

func (s *Store) kbDir(name string) string { return filepath.Join(s.dir, "kb", name) }

// List returns every knowledge base's metadata, sorted by name.
func (s *Store) List() ([]Meta, error) {
	entries, err := os.ReadDir(filepath.Join(s.dir, "kb"))
	if err != nil {
		return nil, err
	}
	var out []Meta
	for _, e := range entries {
		if !e.IsDir() {
			continue
		}
		m, err := readMeta(s.kbDir(e.Name()))
		if err != nil {
			continue // a folder that is not a knowledge base (or a half-created one)
		}
		out = append(out, m)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// Create makes a new, empty knowledge base. Creating one that exists returns
// its metadata unchanged (and updates the embedding model only if it was unset).
func (s *Store) Create(name, embedModel string) (Meta, error) {
	if err := ValidName(name); err != nil {
		return Meta{}, err
	}
	// Under the writer lock: two processes creating one knowledge base at
	// once both end with it, neither with an error.
	release, err := s.lockFor(name).acquire()
	if err != nil {
		return Meta{}, err
	}
	defer release()
	dir := s.kbDir(name)
	if m, err := readMeta(dir); err == nil {
		if m.EmbedModel == "" && embedModel != "" {
			m.EmbedModel = embedModel
			return m, writeMeta(dir, m)
		}
		return m, nil
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return Meta{}, fmt.Errorf("couldn't create knowledge base %q: %w", name, err)
	}
	m := Meta{Name: name, EmbedModel: embedModel, Created: time.Now().UTC()}
	return m, writeMeta(dir, m)
}

// Remove deletes a knowledge base and everything in it.
func (s *Store) Remove(name string) error {
	if err := ValidName(name); err != nil {
		return err
	}
	release, err := s.lockFor(name).acquire()
	if err != nil {
		return err
	}
	defer release()
	s.mu.Lock()
	if kb, ok := s.open[name]; ok {
		kb.Close()
		delete(s.open, name)
	}
	s.mu.Unlock()
	dir := s.kbDir(name)
	if _, err := readMeta(dir); err != nil {
		return fmt.Errorf("knowledge base %q: %w", name, ErrNotFound)
	}
	// Rename first so a crash mid-delete never leaves a half knowledge base listed.
	trash := dir + ".deleting"
	if err := os.Rename(dir, trash); err != nil {
		return err
	}
	return os.RemoveAll(trash)
}

// KB opens (once) and returns the named knowledge base.
func (s *Store) KB(name string) (*KB, error) {
	if err := ValidName(name); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if kb, ok := s.open[name]; ok {
		return kb, nil
	}
	if s.closed {
		return nil, fmt.Errorf("knowledge base %q: the data folder %s is closed", name, s.dir)
	}
	dir := s.kbDir(name)
	m, err := readMeta(dir)
	if err != nil {
		return nil, fmt.Errorf("knowledge base %q: %w", name, ErrNotFound)
	}
	kb, err := openKB(dir, m, s.lockFor(name))
	if err != nil {
		return nil, fmt.Errorf("couldn't open knowledge base %q: %w", name, err)
	}
	s.open[name] = kb
	return kb, nil
}

// Close closes every open knowledge base.
func (s *Store) Close() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closed = true
	for n, kb := range s.open {
		kb.Close()
		delete(s.open, n)
	}
}

func readMeta(dir string) (Meta, error) {
	b, err := os.ReadFile(filepath.Join(dir, "kb.json"))
	if err != nil {
		return Meta{}, err
	}
	var m Meta
	if err := json.Unmarshal(b, &m); err != nil {
		return Meta{}, err
	}
	return m, nil
}

func writeMeta(dir string, m Meta) error {
	b, _ := json.MarshalIndent(m, "", "  ")
	return WriteFileAtomic(filepath.Join(dir, "kb.json"), b, 0o600)
}

// WriteFileAtomic writes through a temporary file, fsync and rename. On
// failure (a full disk, say) the temporary file is removed.
func WriteFileAtomic(path string, data []byte, perm os.FileMode) error {
	return writeAtomically(path, perm, func(w io.Writer) error {
		_, err := w.Write(data)
		return err
	})
}

// WriteFileNew writes a file that must not exist yet, whole or not at all:
// through a temporary file, fsync and a hard link, which fails with
// fs.ErrExist if another process made path first. Numbered versions use it
// so two processes saving at once never take the same number.
func WriteFileNew(path string, data []byte, perm os.FileMode) error {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*.tmp")
	if err != nil {
		return err
	}
	tmp := f.Name()
	defer os.Remove(tmp)
	_, err = f.Write(data)
	if err == nil {
		err = f.Chmod(perm)
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	return os.Link(tmp, path)
}
