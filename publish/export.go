package publish

import (
	"archive/zip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"atoll/agent"
	"atoll/llm"
	"atoll/store"
)

// ModelShower tells what a model is (llm.Client.Show).
type ModelShower interface {
	Show(ctx context.Context, model string) (llm.ModelInfo, error)
}

// Exporter writes bundles from a data folder.
type Exporter struct {
	Store  *store.Store
	Agents *agent.Repo
	// Models identifies the chat and embedding models; nil, or an
	// unreachable Ollama, records model names only, with a note.
	Models    ModelShower
	Generator string           // e.g. "atoll 0.1.0"
	Now       func() time.Time // nil: time.Now
}

// ExportOptions are the choices of one export.
type ExportOptions struct {
	WithSources bool // include the original files under sources/<kb>/
}

// Summary is what publishing an agent sends, shown before it leaves the
// machine: the same documents and passages Export writes.
type Summary struct {
	Agent          string      `json:"agent"`
	KnowledgeBases []KBSummary `json:"knowledgeBases"`
	Documents      int         `json:"documents"`
	Passages       int         `json:"passages"`
	WithSources    bool        `json:"withSources"` // the original files go too
	Hub            string      `json:"hub,omitempty"`
}

// KBSummary is one knowledge base of a Summary.
type KBSummary struct {
	Name      string `json:"name"`
	Documents int    `json:"documents"`
	Passages  int    `json:"passages"`
}

// Summarize counts what Export would write for agent name, without
// writing it.
func (x *Exporter) Summarize(name string, opt ExportOptions) (Summary, error) {
	def, err := x.Agents.Get(name)
	if err != nil {
		return Summary{}, fmt.Errorf("agent %q does not exist: `atoll agent list` shows the agents", name)
	}
	s := Summary{Agent: def.Name, KnowledgeBases: []KBSummary{}, WithSources: opt.WithSources}
	for _, kbName := range def.KBs {
		kb, err := x.Store.KB(kbName)
		if err != nil {
			return s, fmt.Errorf("agent %q uses knowledge base %q, which cannot be opened: %w", name, kbName, err)
		}
		k := KBSummary{Name: kbName}
		for _, sum := range kb.Docs() {
			if d, ok := kb.Doc(sum.Path); ok && d.Status == store.StatusOK {
				k.Documents++
				k.Passages += len(d.Chunks)
			}
		}
		s.KnowledgeBases = append(s.KnowledgeBases, k)
		s.Documents += k.Documents
		s.Passages += k.Passages
	}
	return s, nil
}

// Export writes agent name and its knowledge bases as a bundle to w and
// returns the manifest it wrote. Warnings (a source file that could not be
// read, a model Ollama could not describe) are returned beside it.
func (x *Exporter) Export(ctx context.Context, w io.Writer, name string, opt ExportOptions) (*Manifest, []string, error) {
	def, err := x.Agents.Get(name)
	if err != nil {
		return nil, nil, fmt.Errorf("agent %q does not exist: `atoll agent list` shows the agents", name)
	}
	now := time.Now
	if x.Now != nil {
		now = x.Now
	}
	m := &Manifest{Format: Format, Version: Version, Created: now().UTC().Truncate(time.Second),
		Generator: x.Generator, Agent: def, Files: []File{}, KnowledgeBases: []KnowledgeBase{}}
	var warnings []string
	m.ChatModel, warnings = x.identify(ctx, def.Model, warnings)

	zw := zip.NewWriter(w)
	for _, kbName := range def.KBs {
		if err := ctx.Err(); err != nil {
			return nil, warnings, err
		}
		kb, err := x.Store.KB(kbName)
		if err != nil {
			return nil, warnings, fmt.Errorf("agent %q uses knowledge base %q, which cannot be opened: %w", name, kbName, err)
		}
		entry, warns, err := x.writeKB(ctx, zw, m, kb, opt)
		warnings = append(warnings, warns...)
		if err != nil {
			return nil, warnings, fmt.Errorf("couldn't export knowledge base %q: %w", kbName, err)
		}
		m.KnowledgeBases = append(m.KnowledgeBases, entry)
	}
	if err := m.check(); err != nil {
		return nil, warnings, fmt.Errorf("the bundle would not be valid: %w", err)
	}
	// A bundle no Atoll could import is refused here rather than there.
	var total int64
	for _, f := range m.Files {
		if f.Size > DefaultLimits.MaxEntry {
			return nil, warnings, fmt.Errorf("%s would be %d MB, more than a bundle entry may hold (%d MB)", f.Path, f.Size>>20, DefaultLimits.MaxEntry>>20)
		}
		total += f.Size
	}
	if total > DefaultLimits.MaxTotal || len(m.Files)+1 > DefaultLimits.MaxEntries {
		return nil, warnings, fmt.Errorf("the bundle would be larger than Atoll imports (%d GB or %d files): export without --with-sources, or split the knowledge", DefaultLimits.MaxTotal>>30, DefaultLimits.MaxEntries)
	}
	b, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return nil, warnings, err
	}
	fw, err := zw.CreateHeader(&zip.FileHeader{Name: ManifestName, Method: zip.Deflate, Modified: m.Created})
	if err != nil {
		return nil, warnings, err
	}
	if _, err := fw.Write(b); err != nil {
		return nil, warnings, err
	}
	if err := zw.Close(); err != nil {
		return nil, warnings, err
	}
	return m, warnings, nil
}

func (x *Exporter) identify(ctx context.Context, model string, warnings []string) (Model, []string) {
	if x.Models == nil {
		return Model{Name: model, Note: "model details were not looked up"}, warnings
	}
	info, err := x.Models.Show(ctx, model)
	if err != nil {
		why := err.Error()
		if errors.Is(err, llm.ErrUnavailable) || errors.Is(err, llm.ErrModelNotFound) {
			why = llm.Sentence(err)
		}
		warnings = append(warnings, fmt.Sprintf("model %s recorded by name only: %s", model, why))
		return Model{Name: model, Note: "Ollama could not describe this model when the bundle was made; only its name is known"}, warnings
	}
	got := modelFrom(info)
	got.Name = model
	return got, warnings
}

// entryWriter writes one zip entry and records it in the manifest.
type entryWriter struct {
	io.Writer
	h    hash.Hash
	n    int64
	path string
}

func (e *entryWriter) Write(p []byte) (int, error) {
	n, err := e.Writer.Write(p)
	e.h.Write(p[:n])
	e.n += int64(n)
	return n, err
}

func create(zw *zip.Writer, path string, modified time.Time) (*entryWriter, error) {
	fw, err := zw.CreateHeader(&zip.FileHeader{Name: path, Method: zip.Deflate, Modified: modified})
	if err != nil {
		return nil, err
	}
	return &entryWriter{Writer: fw, h: sha256.New(), path: path}, nil
}

func (e *entryWriter) done(m *Manifest) {
	m.Files = append(m.Files, File{Path: e.path, Size: e.n, SHA256: hex.EncodeToString(e.h.Sum(nil))})
}

func (x *Exporter) writeKB(ctx context.Context, zw *zip.Writer, m *Manifest, kb *store.KB, opt ExportOptions) (KnowledgeBase, []string, error) {
	meta := kb.Meta()
	out := KnowledgeBase{Name: meta.Name}
	var warnings []string
	if meta.EmbedModel != "" {
		out.EmbedModel, warnings = x.identify(ctx, meta.EmbedModel, warnings)
	}
	docs := kb.Docs() // sorted by path
	sources := map[string]string{}
	if opt.WithSources {
		taken := map[string]bool{}
		for _, d := range docs {
			if d.Status != store.StatusOK {
				continue
			}
			entry := "sources/" + meta.Name + "/" + uniqueName(sourceName(filepath.Base(d.Path)), taken)
			skip, err := copySource(zw, m, entry, d, m.Created)
			if err != nil {
				return out, warnings, fmt.Errorf("couldn't copy %s into the bundle: %w", d.Path, err)
			}
			if skip != "" {
				warnings = append(warnings, fmt.Sprintf("%s left out of the bundle: %s", d.Path, skip))
				continue
			}
			sources[d.Path] = entry
			out.Sources++
		}
	}

	cw, err := create(zw, kbEntry(meta.Name, chunksFile), m.Created)
	if err != nil {
		return out, warnings, err
	}
	enc := json.NewEncoder(cw)
	enc.SetEscapeHTML(false)
	var keys []string
	seen := map[string]bool{}
	var exported []docPath
	for _, d := range docs {
		if d.Status == store.StatusOK {
			exported = append(exported, docPath{path: d.Path, root: d.Root})
		}
	}
	rel := map[string]string{}
	for i, p := range relativePaths(exported, userHomes()...) {
		rel[exported[i].path] = p
	}
	for _, sum := range docs {
		if sum.Status != store.StatusOK {
			continue
		}
		d, ok := kb.Doc(sum.Path)
		if !ok {
			continue
		}
		line := Document{Path: rel[d.Path], Name: d.Name, Format: d.Format, Hash: d.Hash, Size: d.Size,
			Pages: d.Pages, Source: sources[d.Path], Chunks: make([]Chunk, 0, len(d.Chunks))}
		for _, c := range d.Chunks {
			line.Chunks = append(line.Chunks, Chunk{ID: c.ID, Key: c.Key, Page: c.Page, Headings: c.Headings, Start: c.Start, End: c.End, Text: c.Text})
			if !seen[c.Key] {
				seen[c.Key] = true
				keys = append(keys, c.Key)
			}
		}
		if err := enc.Encode(line); err != nil {
			return out, warnings, err
		}
		out.Documents++
		out.Chunks += len(d.Chunks)
	}
	cw.done(m)

	if meta.EmbedModel == "" {
		return out, warnings, nil
	}
	sort.Strings(keys)
	var buf []byte
	for _, k := range keys {
		v, ok := kb.Vector(k)
		if !ok {
			continue
		}
		if out.Dims == 0 {
			out.Dims = len(v)
		}
		if len(v) != out.Dims {
			continue // the store never mixes shapes; be as strict here
		}
		buf = appendVector(buf, k, v)
		out.Vectors++
	}
	if out.Vectors == 0 {
		return out, warnings, nil
	}
	vw, err := create(zw, kbEntry(meta.Name, vectorsFile), m.Created)
	if err != nil {
		return out, warnings, err
	}
	if _, err := vw.Write(buf); err != nil {
		return out, warnings, err
	}
	vw.done(m)
	return out, warnings, nil
}

// uniqueName returns name, or "name (2).ext", "name (3).ext"... when taken.
func uniqueName(name string, taken map[string]bool) string {
	try := name
	ext := filepath.Ext(name)
	stem := strings.TrimSuffix(name, ext)
	for i := 2; taken[strings.ToLower(try)]; i++ {
		try = fmt.Sprintf("%s (%d)%s", stem, i, ext)
	}
	taken[strings.ToLower(try)] = true
	return try
}

// copySource adds the original file. A file that is gone, too large or
// changed since ingest is skipped with a reason (the bundle's chunks must come
// from the file it carries); an error once the entry is started is fatal,
// since a half-written entry would make the bundle invalid.
func copySource(zw *zip.Writer, m *Manifest, entry string, d store.Doc, modified time.Time) (skip string, err error) {
	f, err := os.Open(d.Path)
	if err != nil {
		return "the file is no longer there", nil
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil || !st.Mode().IsRegular() {
		return "not a regular file", nil
	}
	if st.Size() > DefaultLimits.MaxEntry {
		return fmt.Sprintf("larger than a bundle entry may be (%d MB)", DefaultLimits.MaxEntry>>20), nil
	}
	if d.Size != 0 && st.Size() != d.Size {
		return "it changed since it was ingested: run `atoll ingest` again first", nil
	}
	if d.Hash != "" {
		h := sha256.New()
		if _, err := io.Copy(h, f); err != nil {
			return "it cannot be read", nil
		}
		if hex.EncodeToString(h.Sum(nil)) != d.Hash {
			return "it changed since it was ingested: run `atoll ingest` again first", nil
		}
		if _, err := f.Seek(0, io.SeekStart); err != nil {
			return "it cannot be read", nil
		}
	}
	ew, err := create(zw, entry, modified)
	if err != nil {
		return "", err
	}
	n, err := io.Copy(ew, io.LimitReader(f, st.Size()))
	if err != nil {
		return "", err
	}
	if n != st.Size() {
		return "", fmt.Errorf("the file shrank while it was copied")
	}
	ew.done(m)
	return "", nil
}
