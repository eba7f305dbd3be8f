package publish

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"strings"
	"time"

	"atoll/agent"
	"atoll/llm"
	"atoll/store"
)

// ModelLister lists the models installed on this machine (llm.Client.List).
type ModelLister interface {
	List(ctx context.Context) ([]llm.ModelInfo, error)
}

// Target is the data folder a bundle is installed into.
type Target struct {
	Store  *store.Store
	Agents *agent.Repo
	Models ModelLister // nil: nothing can be checked, so embedded knowledge bases need Reembed
}

// ImportOptions are the choices of one import.
type ImportOptions struct {
	As      string // agent name to use instead of the bundle's
	Reembed bool   // drop the bundle's vectors; chunks wait to be embedded on this machine
	// EmbedModel, with Reembed, is the model to embed with instead of the
	// bundle's.
	EmbedModel string
	// NextVersion saves the agent as the next version of an agent of the
	// same name that exists here (the hub's republish), instead of refusing.
	NextVersion bool
}

// Report says what an import did.
type Report struct {
	Agent          string            `json:"agent"`
	KnowledgeBases map[string]string `json:"knowledgeBases"` // bundle name -> name in this data folder
	Pending        map[string]int    `json:"pending"`        // local knowledge base -> chunks waiting for vectors
	Warnings       []string          `json:"warnings"`
}

// ImportedSuffix is added to a knowledge base whose name is taken here:
// "manuals" becomes "manuals-imported", then "manuals-imported-2", ...
const ImportedSuffix = "-imported"

// Install writes a validated bundle into the data folder, all or nothing:
// the knowledge bases are built in a staging folder inside the data folder
// (DATA/.staging/, never listed), renamed into place, and the agent is saved
// last. A journal in the staging folder lets the next import undo the
// renames of one killed between them and the agent's save, so after a crash
// the data folder holds the whole import or none of it.
func (b *Bundle) Install(ctx context.Context, t Target, opt ImportOptions) (rep Report, err error) {
	m := &b.Manifest
	rep = Report{KnowledgeBases: map[string]string{}, Pending: map[string]int{}, Warnings: []string{}}
	def := m.Agent
	if opt.As != "" {
		def.Name = opt.As
	}
	if err := def.Validate(); err != nil {
		return rep, err
	}
	if _, err := t.Agents.Get(def.Name); err == nil && !opt.NextVersion {
		return rep, fmt.Errorf("an agent named %q already exists here: import with --as NEW-NAME", def.Name)
	}
	warns, err := b.CheckModels(ctx, t.Models, opt)
	if err != nil {
		return rep, err
	}
	rep.Warnings = append(rep.Warnings, warns...)
	data := t.Store.Dir()
	cleanStaging(data, t.Agents)

	taken := map[string]bool{}
	for _, kb := range m.KnowledgeBases {
		local, err := freeName(t.Store, kb.Name, taken)
		if err != nil {
			return rep, err
		}
		rep.KnowledgeBases[kb.Name] = local
	}
	stage, err := newStaging(data)
	if err != nil {
		return rep, fmt.Errorf("couldn't prepare the import in %s: %w", data, err)
	}
	var moved []string
	defer func() {
		if err != nil {
			for _, name := range moved {
				if rerr := os.RemoveAll(filepath.Join(data, "kb", name)); rerr != nil {
					err = fmt.Errorf("%w (and the half-imported knowledge base %q could not be removed: %v)", err, name, rerr)
				}
			}
			rep.KnowledgeBases = map[string]string{}
			rep.Pending = map[string]int{}
		}
		stage.remove()
	}()

	sst, err := store.Open(stage.dir)
	if err != nil {
		return rep, err
	}
	for _, kb := range m.KnowledgeBases {
		local := rep.KnowledgeBases[kb.Name]
		model := kb.EmbedModel.Name
		if opt.Reembed && opt.EmbedModel != "" {
			model = opt.EmbedModel
		}
		if _, err = sst.Create(local, model); err != nil {
			sst.Close()
			return rep, fmt.Errorf("couldn't create knowledge base %q: %w", local, err)
		}
		var pending int
		if pending, err = b.installKB(ctx, sst, kb, local, filepath.Join(data, "kb", local), opt); err != nil {
			sst.Close()
			return rep, fmt.Errorf("couldn't import knowledge base %q: %w", kb.Name, err)
		}
		if pending > 0 {
			rep.Pending[local] = pending
		}
	}
	sst.Close()
	if err = ctx.Err(); err != nil {
		return rep, err
	}

	def.KBs = make([]string, 0, len(m.Agent.KBs))
	for _, name := range m.Agent.KBs {
		def.KBs = append(def.KBs, rep.KnowledgeBases[name])
	}
	def.Version = 0
	locals := make([]string, 0, len(rep.KnowledgeBases))
	for _, kb := range m.KnowledgeBases {
		locals = append(locals, rep.KnowledgeBases[kb.Name])
	}
	if err = stage.journal(journal{Agent: def.Name, KBs: locals}); err != nil {
		return rep, err
	}
	for _, local := range locals {
		if err = os.Rename(filepath.Join(stage.dir, "kb", local), filepath.Join(data, "kb", local)); err != nil {
			return rep, fmt.Errorf("couldn't move knowledge base %q into place: %w", local, err)
		}
		moved = append(moved, local)
	}
	saved, err := t.Agents.Save(def)
	if err != nil {
		return rep, fmt.Errorf("couldn't save agent %q: %w", def.Name, err)
	}
	rep.Agent = saved.Name
	return rep, nil
}

// CheckModels refuses a bundle whose vectors this machine could not extend
// or query: the embedding model must be installed, unless Reembed. Install
// calls it too; calling it first lets a caller refuse before even creating
// the data folder. The warnings are about models that are merely missing
// or different builds.
func (b *Bundle) CheckModels(ctx context.Context, lister ModelLister, opt ImportOptions) ([]string, error) {
	var warnings []string
	needs := false
	for _, kb := range b.Manifest.KnowledgeBases {
		needs = needs || (kb.Vectors > 0 && !opt.Reembed)
	}
	var installed []llm.ModelInfo
	var listErr error
	if lister == nil {
		listErr = errors.New("no Ollama server is configured")
	} else {
		installed, listErr = lister.List(ctx)
	}
	if listErr != nil {
		if needs {
			why := listErr.Error()
			if errors.Is(listErr, llm.ErrUnavailable) {
				why = llm.Sentence(listErr)
			}
			return nil, fmt.Errorf("Atoll cannot check that this machine has the bundle's embedding model, because Ollama did not answer (%s). Start Ollama and import again, or import with --reembed to embed the documents on this machine later.", strings.TrimSuffix(why, "."))
		}
		return []string{"Ollama did not answer, so the chat model " + b.Manifest.ChatModel.Name + " was not checked"}, nil
	}
	find := func(name string) (llm.ModelInfo, bool) {
		for _, mi := range installed {
			if strings.TrimSuffix(mi.Name, ":latest") == strings.TrimSuffix(name, ":latest") {
				return mi, true
			}
		}
		return llm.ModelInfo{}, false
	}
	for _, kb := range b.Manifest.KnowledgeBases {
		if kb.Vectors == 0 || opt.Reembed {
			continue
		}
		mi, ok := find(kb.EmbedModel.Name)
		if !ok {
			return nil, fmt.Errorf("knowledge base %q was embedded with %s, which this machine does not have: run `ollama pull %s` and import again, or import with --reembed to embed it here with another model", kb.Name, kb.EmbedModel.Name, kb.EmbedModel.Name)
		}
		if mi.EmbeddingLength > 0 && mi.EmbeddingLength != kb.Dims {
			return nil, fmt.Errorf("knowledge base %q has %d-dimension vectors, but %s here makes %d: it is a different model under the same name; import with --reembed", kb.Name, kb.Dims, kb.EmbedModel.Name, mi.EmbeddingLength)
		}
		if kb.EmbedModel.Digest != "" && mi.Digest != "" && mi.Digest != kb.EmbedModel.Digest {
			warnings = append(warnings, fmt.Sprintf("the %s installed here is not the exact build that embedded %q (digest differs); if searches look wrong, import again with --reembed", kb.EmbedModel.Name, kb.Name))
		}
	}
	if _, ok := find(b.Manifest.ChatModel.Name); !ok {
		warnings = append(warnings, fmt.Sprintf("the agent answers with %s, which this machine does not have: run `ollama pull %s` or choose another model for it", b.Manifest.ChatModel.Name, b.Manifest.ChatModel.Name))
	}
	return warnings, nil
}

// freeName applies the renaming rule: the bundle's name if no folder of that
// name exists, else name-imported, name-imported-2, ...
func freeName(st *store.Store, name string, taken map[string]bool) (string, error) {
	free := func(n string) bool {
		if taken[strings.ToLower(n)] || store.ValidName(n) != nil {
			return false
		}
		_, err := os.Lstat(filepath.Join(st.Dir(), "kb", n))
		return errors.Is(err, os.ErrNotExist)
	}
	try := name
	for i := 1; !free(try); i++ {
		if i > 1000 {
			return "", fmt.Errorf("no free name for knowledge base %q", name)
		}
		suffix := ImportedSuffix
		if i > 1 {
			suffix = fmt.Sprintf("%s-%d", ImportedSuffix, i)
		}
		base := name
		if len(base)+len(suffix) > 64 {
			base = strings.TrimRight(truncate(base, 64-len(suffix)), " .")
		}
		try = base + suffix
	}
	taken[strings.ToLower(try)] = true
	return try, nil
}

func truncate(s string, n int) string {
	for len(s) > n {
		_, size := lastRune(s)
		s = s[:len(s)-size]
	}
	return s
}

func lastRune(s string) (rune, int) {
	for i := len(s) - 1; i >= 0; i-- {
		if s[i]&0xC0 != 0x80 {
			return rune(s[i]), len(s) - i
		}
	}
	return 0, len(s)
}

// installKB streams a knowledge base's documents and vectors from the
// bundle into st (the staging store), checking them again as it goes: the
// bundle file may have changed since Read. finalDir is where the knowledge
// base will live, so source paths point there after the rename.
func (b *Bundle) installKB(ctx context.Context, st *store.Store, kb KnowledgeBase, local, finalDir string, opt ImportOptions) (int, error) {
	k, err := st.KB(local)
	if err != nil {
		return 0, err
	}
	now := time.Now().UTC()
	srcDir := filepath.Join(st.Dir(), "kb", local, "sources")
	_, err = b.eachDoc(&kb, map[string]bool{}, func(d *Document) error {
		if err := ctx.Err(); err != nil {
			return err
		}
		path := d.Path
		if p, ok := b.rel[kb.Name][d.Path]; ok {
			path = p
		}
		doc := store.Doc{Path: path, Name: d.Name, Format: d.Format, Hash: d.Hash, Size: d.Size,
			Pages: d.Pages, Status: store.StatusOK, Ingested: now, Chunks: make([]store.Chunk, 0, len(d.Chunks))}
		if d.Source != "" {
			name, err := b.extract(d.Source, srcDir)
			if err != nil {
				return err
			}
			doc.Path = filepath.Join(finalDir, "sources", name)
		}
		for _, c := range d.Chunks {
			doc.Chunks = append(doc.Chunks, store.Chunk{ID: c.ID, Key: c.Key, Page: c.Page, Headings: c.Headings, Start: c.Start, End: c.End, Text: c.Text})
		}
		return k.Put(doc)
	})
	if err != nil {
		return 0, err
	}
	if !opt.Reembed && kb.Vectors > 0 {
		const batch = 4096
		keys := make([]string, 0, batch)
		vecs := make([][]float32, 0, batch)
		flush := func() error {
			if len(keys) == 0 {
				return nil
			}
			err := k.AddVectors(ctx, keys, vecs)
			keys, vecs = keys[:0], vecs[:0]
			return err
		}
		err = b.eachVector(&kb, func(key string, v []float32) error {
			keys, vecs = append(keys, key), append(vecs, v)
			if len(keys) == batch {
				return flush()
			}
			return nil
		})
		if err == nil {
			err = flush()
		}
		if err != nil {
			return 0, err
		}
	}
	if k.Meta().EmbedModel == "" {
		return 0, nil
	}
	return len(k.Pending()), nil
}

// extract writes a source entry into dir (inside the knowledge base's own
// folder, so removing the knowledge base removes it), checking it again
// while writing: the bundle file may have changed since Read. It returns
// the file's name in dir.
func (b *Bundle) extract(entry, dir string) (string, error) {
	name := sourceName(path.Base(entry))
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", err
	}
	dst := filepath.Join(dir, name)
	tmp := dst + ".part"
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return "", fmt.Errorf("couldn't write %s: %w", dst, err)
	}
	err = b.verify(entry, f)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, dst)
	}
	if err != nil {
		os.Remove(tmp)
		return "", err
	}
	return name, nil
}
