package hub

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"time"

	"atoll/agent"
	"atoll/hubstore"
	"atoll/knowledge"
	"atoll/rag"
	"atoll/store"
)

// The cache is one replica's view of what is published. The database holds
// every version and its bundle; a replica materialises a bundle into
// cache/<sha256>/ (an Atoll data folder: its store and agents) on first use
// and keeps it open. Which version of an agent is served comes from the
// database and is forgotten the moment the change feed says the agent
// changed, here or on any other replica; bundles no served agent uses any
// more are closed and deleted once no answer holds them.

// served is an agent as served now.
type served struct {
	agent hubstore.Agent
	ver   hubstore.Version
	def   agent.Definition
	at    time.Time
}

// loaded is a bundle materialised and open.
type loaded struct {
	hash   string
	dir    string
	st     *store.Store
	search *knowledge.Searcher
	refs   int
}

// agentTTL bounds how long an entry lives without a change-feed event: a
// safety net only (the feed delivers changes within a second).
const agentTTL = 30 * time.Second

type cache struct {
	dir      string
	st       hubstore.Storage
	imp      func(context.Context, string, *store.Store, *agent.Repo) (string, error)
	embedder knowledge.QueryEmbedder
	log      *slog.Logger

	mu      sync.Mutex
	agents  map[string]served
	bundles map[string]*loaded
	gen     uint64                   // bumped on every invalidation, so a lookup racing a change is not cached
	loading map[string]chan struct{} // bundles being materialised
}

func newCache(dir string, st hubstore.Storage, imp func(context.Context, string, *store.Store, *agent.Repo) (string, error), emb knowledge.QueryEmbedder, log *slog.Logger) (*cache, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("couldn't create the bundle cache %s: %w", dir, err)
	}
	// Staging folders of an import that was cut short are never used; a
	// recent one may be another process's on the same folder (a CLI
	// command beside the running hub).
	old, _ := filepath.Glob(filepath.Join(dir, "*.staging-*"))
	for _, o := range old {
		if fi, err := os.Stat(o); err == nil && time.Since(fi.ModTime()) > time.Hour {
			_ = os.RemoveAll(o)
		}
	}
	return &cache{dir: dir, st: st, imp: imp, embedder: emb, log: log,
		agents: map[string]served{}, bundles: map[string]*loaded{}, loading: map[string]chan struct{}{}}, nil
}

// watch follows the change feed until ctx ends, forgetting agents that
// changed. A feed that ends early (the database went away) is reopened,
// forgetting everything, since changes may have been missed meanwhile.
func (c *cache) watch(ctx context.Context) {
	ready := make(chan struct{})
	go func() {
		first := true
		for ctx.Err() == nil {
			ch := c.st.Watch(ctx)
			if first {
				close(ready)
				first = false
			} else {
				c.forget("")
			}
			for ch := range ch {
				switch ch.Kind {
				case hubstore.ChangePublished, hubstore.ChangeRolledBack, hubstore.ChangeUnpublished, hubstore.ChangeAgentUpdated:
					c.forget(ch.Agent)
				}
			}
			select {
			case <-ctx.Done():
			case <-time.After(time.Second):
			}
		}
	}()
	<-ready
}

// forget drops an agent's entry ("" drops all) and releases bundles no
// longer served.
func (c *cache) forget(name string) {
	c.mu.Lock()
	c.gen++
	if name == "" {
		c.agents = map[string]served{}
	} else {
		delete(c.agents, name)
	}
	c.gcLocked()
	c.mu.Unlock()
}

// gcLocked closes and deletes bundles that no cached agent serves and no
// answer holds. A bundle still needed is materialised again on next use.
func (c *cache) gcLocked() {
	used := map[string]bool{}
	for _, s := range c.agents {
		used[s.ver.Bundle] = true
	}
	for h, b := range c.bundles {
		if b.refs == 0 && !used[h] {
			delete(c.bundles, h)
			b.st.Close()
			_ = os.RemoveAll(b.dir)
		}
	}
}

// agent is the served version of a published agent.
func (c *cache) agent(ctx context.Context, name string) (served, error) {
	c.mu.Lock()
	s, ok := c.agents[name]
	gen := c.gen
	c.mu.Unlock()
	if ok && time.Since(s.at) < agentTTL {
		return s, nil
	}
	a, err := c.st.ResolveAgent(ctx, name)
	if err != nil {
		return served{}, err
	}
	v, err := c.st.Version(ctx, a.Workspace, a.Name, a.Current)
	if err != nil {
		return served{}, err
	}
	var def agent.Definition
	if err := json.Unmarshal(v.Definition, &def); err != nil {
		return served{}, fmt.Errorf("the stored definition of %q is damaged: %w", name, err)
	}
	// The public name is the published one (it may differ from the
	// bundle's, with --as), and the version is the hub's.
	def.Name, def.Version = a.Name, v.Number
	s = served{agent: a, ver: v, def: def, at: time.Now()}
	c.mu.Lock()
	if c.gen == gen {
		c.agents[name] = s
	}
	c.mu.Unlock()
	return s, nil
}

// acquire opens the bundle of a version (materialising it when this
// replica has not yet), holding it until release.
func (c *cache) acquire(ctx context.Context, ws, hash string) (*loaded, error) {
	for {
		c.mu.Lock()
		if b, ok := c.bundles[hash]; ok {
			b.refs++
			c.mu.Unlock()
			return b, nil
		}
		if wait, ok := c.loading[hash]; ok {
			c.mu.Unlock()
			select {
			case <-wait:
				continue
			case <-ctx.Done():
				return nil, ctx.Err()
			}
		}
		done := make(chan struct{})
		c.loading[hash] = done
		c.mu.Unlock()
		b, err := c.open(ctx, ws, hash)
		c.mu.Lock()
		delete(c.loading, hash)
		close(done)
		if err == nil {
			b.refs = 1
			c.bundles[hash] = b
		}
		c.mu.Unlock()
		return b, err
	}
}

func (c *cache) release(b *loaded) {
	c.mu.Lock()
	b.refs--
	if b.refs == 0 {
		c.gcLocked()
	}
	c.mu.Unlock()
}

// open materialises a bundle from the store unless its folder exists.
func (c *cache) open(ctx context.Context, ws, hash string) (*loaded, error) {
	dir := filepath.Join(c.dir, hash)
	if _, err := os.Stat(dir); err != nil {
		rc, size, err := c.st.OpenBundle(ctx, ws, hash)
		if err != nil {
			return nil, err
		}
		tmp, err := os.CreateTemp(c.dir, "bundle-*.atoll")
		if err != nil {
			rc.Close()
			return nil, err
		}
		defer os.Remove(tmp.Name())
		n, err := io.Copy(tmp, rc)
		rc.Close()
		tmp.Close()
		if err != nil || n != size {
			return nil, fmt.Errorf("couldn't read bundle %s from the hub database (%d of %d bytes): %v", hash, n, size, err)
		}
		if _, err := c.materialise(ctx, tmp.Name(), hash); err != nil {
			return nil, err
		}
	}
	st, err := store.Open(dir)
	if err != nil {
		return nil, fmt.Errorf("couldn't open the cached bundle %s: %w", dir, err)
	}
	st.SetLockHolder("the Atoll hub")
	return &loaded{hash: hash, dir: dir, st: st, search: &knowledge.Searcher{Store: st, Embedder: c.embedder}}, nil
}

// materialise validates and installs the bundle at path into
// cache/<hash>/ (a staging folder renamed into place, so a cut import
// never leaves a half folder), returning the installed agent's definition.
func (c *cache) materialise(ctx context.Context, path, hash string) (agent.Definition, error) {
	staging, err := os.MkdirTemp(c.dir, hash+".staging-*")
	if err != nil {
		return agent.Definition{}, err
	}
	defer os.RemoveAll(staging)
	st, err := store.Open(staging)
	if err != nil {
		return agent.Definition{}, err
	}
	repo := agent.NewRepo(filepath.Join(staging, "agents"))
	name, err := c.imp(ctx, path, st, repo)
	st.Close()
	if err != nil {
		return agent.Definition{}, err
	}
	def, err := repo.Get(name)
	if err != nil {
		return agent.Definition{}, err
	}
	dst := filepath.Join(c.dir, hash)
	if err := os.Rename(staging, dst); err != nil {
		// Another request of this replica put the same bundle first: the
		// same bytes, so the same folder.
		if _, serr := os.Stat(dst); serr != nil {
			return agent.Definition{}, err
		}
	}
	return def, nil
}

func (c *cache) close() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for h, b := range c.bundles {
		b.st.Close()
		delete(c.bundles, h)
	}
}

// hashFile is the SHA-256 (hex) of a file's bytes and its size.
func hashFile(path string) (string, int64, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", 0, err
	}
	defer f.Close()
	hs := sha256.New()
	n, err := io.Copy(hs, f)
	return hex.EncodeToString(hs.Sum(nil)), n, err
}

// retriever searches the knowledge of the bundle the request holds: each
// answer runs against its own version's folder, so an answer that started
// before a publish finishes on the version it started with.
type retriever struct{}

func (retriever) Retrieve(ctx context.Context, kbs []string, query string, k int) ([]rag.Hit, error) {
	s, ok := ctx.Value(searchKey).(*knowledge.Searcher)
	if !ok {
		return nil, errors.New("no published knowledge is open for this answer")
	}
	return s.Retrieve(ctx, kbs, query, k)
}
