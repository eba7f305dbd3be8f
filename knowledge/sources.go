package knowledge

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"atoll/ingest"
	"atoll/store"
	"atoll/web"

	"github.com/gofrs/flock"
)

// Source kinds.
const (
	SourcePage    = "page"    // one web page
	SourceSitemap = "sitemap" // the pages a sitemap (or sitemap index) lists
	SourceCrawl   = "crawl"   // pages reached by links from a start page, same site
	SourceFolder  = "folder"  // a folder of files
	SourceFile    = "file"    // one file
)

// Schedules: how often a source is synced while the app is open (and what
// NextSync says for `atoll sync` in cron).
var Schedules = map[string]time.Duration{"off": 0, "hourly": time.Hour, "daily": 24 * time.Hour, "weekly": 7 * 24 * time.Hour}

// maxSourceErrors bounds the errors kept per source (the count is exact).
const maxSourceErrors = 20

// Source is where a knowledge base's documents come from: a folder, a file
// or a website. Its documents are those whose Root is the source's ID (a
// file's is its path).
type Source struct {
	ID       string    `json:"id"` // the URL or absolute path
	Kind     string    `json:"kind"`
	Depth    int       `json:"depth,omitempty"`    // crawl: links followed from the start page
	MaxPages int       `json:"maxPages,omitempty"` // web: pages at most
	Schedule string    `json:"schedule,omitempty"` // off (""), hourly, daily, weekly
	Watch    bool      `json:"watch,omitempty"`    // a folder kept in sync while the app runs
	Added    time.Time `json:"added"`
	LastSync time.Time `json:"lastSync,omitzero"`
	NextSync time.Time `json:"nextSync,omitzero"`
	Docs     int       `json:"docs"`
	Chunks   int       `json:"chunks"`
	// What the last sync did.
	Changed     int           `json:"changed"`
	Unchanged   int           `json:"unchanged"`
	Removed     int           `json:"removed"`
	Failed      int           `json:"failed"`
	Requests    int           `json:"requests,omitempty"`
	NotModified int           `json:"notModified,omitempty"`
	Errors      []FileFailure `json:"errors,omitempty"`
	// Web state kept between syncs, so a refresh is conditional.
	Pages    map[string]PageState       `json:"pages,omitempty"`
	Sitemaps map[string]PageState       `json:"sitemaps,omitempty"`
	Robots   map[string]*web.RobotsFile `json:"robots,omitempty"`
}

// PageState is what a refresh needs of a page (or a sitemap) without
// fetching it again: its validators and, for a crawl, its links (a sitemap:
// what it lists).
type PageState struct {
	web.Validators
	Links []string `json:"links,omitempty"`
}

// IsWeb reports whether the source is on the web.
func (s *Source) IsWeb() bool {
	return s.Kind == SourcePage || s.Kind == SourceSitemap || s.Kind == SourceCrawl
}

func (s *Source) schedule(now time.Time) {
	s.LastSync = now.UTC()
	s.NextSync = time.Time{}
	if d := Schedules[s.Schedule]; d > 0 {
		s.NextSync = s.LastSync.Add(d)
	}
}

// owns reports whether the document belongs to the source.
func (s *Source) owns(d store.Doc) bool {
	if s.Kind == SourceFile {
		return d.Path == s.ID
	}
	return d.Root == s.ID
}

// sourcesFile is DATA/kb/<name>/sources.json. It is small and rewritten
// whole (a temporary file and a rename) under its own lock file, so two
// processes syncing at once never lose each other's sources.
func sourcesFile(st *store.Store, kb string) string {
	return filepath.Join(st.Dir(), "kb", kb, "sources.json")
}

// Sources lists a knowledge base's sources, sorted by ID, with each one's
// documents counted from the knowledge base as it is now.
func Sources(st *store.Store, kbName string) ([]Source, error) {
	list, err := readSources(sourcesFile(st, kbName))
	if err != nil {
		return nil, err
	}
	if kb, err := st.KB(kbName); err == nil && len(list) > 0 {
		// Counted by root and by path in one pass: a browser upload of
		// thousands of files makes as many file sources.
		type count struct{ docs, chunks int }
		byRoot, byPath := map[string]*count{}, map[string]*count{}
		for _, d := range kb.Docs() {
			if d.Status != store.StatusOK {
				continue
			}
			n := 0
			if full, ok := kb.Doc(d.Path); ok {
				n = len(full.Chunks)
			}
			byPath[d.Path] = &count{1, n}
			if d.Root != "" {
				c := byRoot[d.Root]
				if c == nil {
					c = &count{}
					byRoot[d.Root] = c
				}
				c.docs++
				c.chunks += n
			}
		}
		for i := range list {
			c := byRoot[list[i].ID]
			if list[i].Kind == SourceFile {
				c = byPath[list[i].ID]
			}
			list[i].Docs, list[i].Chunks = 0, 0
			if c != nil {
				list[i].Docs, list[i].Chunks = c.docs, c.chunks
			}
		}
	}
	return list, nil
}

func readSources(path string) ([]Source, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("couldn't read %s: %w", path, err)
	}
	var list []Source
	if err := json.Unmarshal(b, &list); err != nil {
		return nil, fmt.Errorf("%s is damaged (%v); delete it and add the sources again", path, err)
	}
	return list, nil
}

// updateSources changes the sources file under its lock.
func updateSources(st *store.Store, kbName string, fn func(list []Source) []Source) error {
	path := sourcesFile(st, kbName)
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return err
	}
	lk := flock.New(path+".lock", flock.SetPermissions(0o600))
	ctx, cancel := context.WithTimeout(context.Background(), store.LockWait)
	defer cancel()
	if ok, err := lk.TryLockContext(ctx, 20*time.Millisecond); err != nil || !ok {
		return fmt.Errorf("couldn't lock the sources of %q: another Atoll is changing them; try again", kbName)
	}
	defer lk.Unlock()
	list, err := readSources(path)
	if err != nil {
		return err
	}
	list = fn(list)
	sort.Slice(list, func(i, j int) bool { return list[i].ID < list[j].ID })
	b, err := json.MarshalIndent(list, "", "  ")
	if err != nil {
		return err
	}
	return store.WriteFileAtomic(path, append(b, '\n'), 0o600)
}

// SaveSource adds or replaces one source (matched by ID).
func SaveSource(st *store.Store, kbName string, src Source) error {
	return updateSources(st, kbName, func(list []Source) []Source {
		for i := range list {
			if list[i].ID == src.ID {
				list[i] = src
				return list
			}
		}
		return append(list, src)
	})
}

// FindSource returns the source with id, if any.
func FindSource(st *store.Store, kbName, id string) (Source, bool) {
	list, _ := readSources(sourcesFile(st, kbName))
	for _, s := range list {
		if s.ID == id {
			return s, true
		}
	}
	return Source{}, false
}

// RemoveSource forgets a source and removes its documents.
func RemoveSource(st *store.Store, kbName, id string) (removed int, err error) {
	var src *Source
	err = updateSources(st, kbName, func(list []Source) []Source {
		out := list[:0]
		for _, s := range list {
			if s.ID == id {
				src = &s
				continue
			}
			out = append(out, s)
		}
		return out
	})
	if err != nil {
		return 0, err
	}
	if src == nil {
		return 0, fmt.Errorf("%q is not a source of %q; `atoll kb sources %s` lists them", id, kbName, kbName)
	}
	kb, err := st.KB(kbName)
	if err != nil {
		return 0, err
	}
	for _, d := range kb.Docs() {
		if src.owns(d) {
			if kb.Remove(d.Path) == nil {
				removed++
			}
		}
	}
	return removed, nil
}

// RecordPaths notes the files and folders of an ingest as sources, with
// the outcome of the run that ingested them.
func RecordPaths(st *store.Store, kbName string, paths []string, sum Summary) error {
	now := time.Now()
	return updateSources(st, kbName, func(list []Source) []Source {
		for _, p := range paths {
			abs, err := filepath.Abs(p)
			if err != nil {
				continue
			}
			fi, err := os.Stat(abs)
			if err != nil {
				continue
			}
			kind := SourceFile
			if fi.IsDir() {
				kind = SourceFolder
			}
			i := indexOf(list, abs)
			if i < 0 {
				list = append(list, Source{ID: abs, Kind: kind, Added: now.UTC()})
				i = len(list) - 1
			}
			s := &list[i]
			s.Kind = kind
			s.schedule(now)
			s.Errors = nil
			s.Failed = 0
			for _, e := range sum.Errors {
				if e.File == abs || strings.HasPrefix(e.File, abs+string(filepath.Separator)) {
					s.Failed++
					if len(s.Errors) < maxSourceErrors {
						s.Errors = append(s.Errors, e)
					}
				}
			}
		}
		return list
	})
}

func indexOf(list []Source, id string) int {
	for i := range list {
		if list[i].ID == id {
			return i
		}
	}
	return -1
}

// SyncResult is a web sync's outcome.
type SyncResult struct {
	Summary
	Source      Source `json:"source"`
	Requests    int    `json:"requests"`
	NotModified int    `json:"notModified"`
}

// WebOptions set up a web source the first time it is synced.
type WebOptions struct {
	Depth    int // > 0: crawl that many links deep
	MaxPages int // 0: DefaultMaxPages
	Schedule string
	Job      string // names the job in progress reports ("sync" if empty)
}

// maxKeptLinks bounds the links kept per crawled page.
const maxKeptLinks = 500

// DefaultMaxPages bounds a site when the user gave no --max-pages.
const DefaultMaxPages = 1000

// SyncWeb fetches a web source into the knowledge base: the page, the
// sitemap's pages or the crawl. A source synced before is refreshed: every
// page it had is asked for conditionally (ETag / Last-Modified), so an
// unchanged page costs one 304 and no extraction or embedding; a changed
// page is replaced; a page that is gone (404, 410, or no longer listed or
// linked) is removed. The Fetcher must have been told the URL (Name).
func (in *Ingester) SyncWeb(ctx context.Context, kbName, embedModel, rawURL string, opt WebOptions, f *web.Fetcher, progress func(Progress)) (SyncResult, error) {
	start := time.Now()
	job := opt.Job
	if job == "" {
		job = "sync"
	}
	res := SyncResult{Summary: Summary{Job: job, KB: kbName, Errors: []FileFailure{}}}
	if progress == nil {
		progress = func(Progress) {}
	}
	u, err := f.Name(rawURL)
	if err != nil {
		return res, err
	}
	id := u.String()
	kb, err := in.openKB(kbName, embedModel)
	if err != nil {
		return res, err
	}
	src, ok := FindSource(in.Store, kbName, id)
	if !ok {
		src = Source{ID: id, Added: time.Now().UTC(), Depth: opt.Depth, MaxPages: opt.MaxPages, Schedule: opt.Schedule}
		if opt.Depth > 0 {
			src.Kind = SourceCrawl
		}
	} else {
		if opt.Depth > 0 {
			src.Depth, src.Kind = opt.Depth, SourceCrawl
		}
		if opt.MaxPages > 0 {
			src.MaxPages = opt.MaxPages
		}
		if opt.Schedule != "" {
			src.Schedule = opt.Schedule
		}
	}
	if src.MaxPages <= 0 {
		src.MaxPages = DefaultMaxPages
	}
	if src.Robots == nil {
		src.Robots = map[string]*web.RobotsFile{}
	}
	f.Robots = src.Robots
	requests, notModified := 0, 0
	prevOnRequest := f.OnRequest
	f.OnRequest = func(method, u string, conditional bool) {
		requests++
		if prevOnRequest != nil {
			prevOnRequest(method, u, conditional)
		}
	}
	defer func() { f.OnRequest = prevOnRequest }()

	s := &webSync{in: in, kb: kb, f: f, src: &src, ctx: ctx, res: &res,
		pages: map[string]PageState{}, sitemaps: map[string]PageState{}, seen: map[string]bool{}, keep: true}
	p := Progress{Job: job, KB: kbName, Phase: "reading"}
	tick := newTicker(progress, in.ProgressEvery)
	s.onPage = func(current string, done, total int) {
		p.Current, p.FilesDone, p.Files = current, done, total
		tick.send(p, false)
	}
	s.run()
	notModified = s.notModified
	for host, n := range s.otherHosts {
		pages := fmt.Sprintf("%d pages", n)
		if n == 1 {
			pages = "1 page"
		}
		res.Errors = append(res.Errors, FileFailure{File: id, Reason: fmt.Sprintf("lists %s on %s, a site you did not name: not read; add a URL on %s itself to read them", pages, host, host)})
	}

	if s.keep && ctx.Err() == nil {
		for _, d := range kb.Docs() {
			if d.Root == id && !s.seen[d.Path] {
				if kb.Remove(d.Path) == nil {
					res.Removed++
				}
			}
		}
	}
	if ctx.Err() != nil {
		res.Cancelled = true
		// Keep what the last complete sync knew of pages not reached.
		for k, v := range src.Pages {
			if _, ok := s.pages[k]; !ok {
				s.pages[k] = v
			}
		}
	} else {
		p.Phase = "embedding"
		why, err := in.EmbedPending(ctx, kb, func(done, total int) {
			p.Embedded, p.ToEmbed = done, total
			tick.send(p, false)
		})
		if errors.Is(err, context.Canceled) {
			res.Cancelled = true
		}
		res.PendingWhy = why
	}
	res.Pending = len(kb.Pending())
	if kb.Meta().EmbedModel == "" {
		res.Pending = 0
	}
	_ = kb.MaybeCheckpoint()
	tick.send(p, true)

	src.Pages, src.Sitemaps = s.pages, s.sitemaps
	src.Changed, src.Unchanged, src.Removed, src.Failed = res.OK, res.Skipped, res.Removed, res.Failed
	src.Requests, src.NotModified = requests, notModified
	src.Errors = nil
	for _, e := range res.Errors {
		if len(src.Errors) < maxSourceErrors {
			src.Errors = append(src.Errors, e)
		}
	}
	src.schedule(time.Now())
	if err := SaveSource(in.Store, kbName, src); err != nil {
		return res, err
	}
	res.Requests, res.NotModified = requests, notModified
	res.Source = src
	res.Seconds = time.Since(start).Seconds()
	return res, nil
}

// openKB creates the knowledge base if need be and sets its model, as Run.
func (in *Ingester) openKB(kbName, embedModel string) (*store.KB, error) {
	if _, err := in.Store.Create(kbName, embedModel); err != nil {
		return nil, err
	}
	kb, err := in.Store.KB(kbName)
	if err != nil {
		return nil, err
	}
	if embedModel != "" && kb.EmbedModel() != embedModel {
		if err := kb.SetEmbedModel(embedModel); err != nil {
			return nil, err
		}
	}
	return kb, nil
}

// webSync is one sync of one web source.
type webSync struct {
	in       *Ingester
	kb       *store.KB
	f        *web.Fetcher
	src      *Source
	ctx      context.Context
	res      *SyncResult
	pages    map[string]PageState // this sync's page states
	sitemaps map[string]PageState
	seen     map[string]bool // pages that still exist (unchanged, changed, or failed for now)
	// keep: the sync got far enough to tell which pages vanished (the
	// start page or sitemap answered).
	keep        bool
	notModified int
	onPage      func(current string, done, total int)
	otherHosts  map[string]int // pages a sitemap lists on sites not named
}

func (s *webSync) fail(u string, err error) {
	s.res.Failed++
	reason := err.Error()
	var we *web.Error
	if errors.As(err, &we) {
		reason = we.Reason
	} else if r := errReason(err); r != "" {
		reason = r
	}
	s.res.Errors = append(s.res.Errors, FileFailure{File: u, Reason: reason})
}

func errReason(err error) string {
	var fe *ingest.FileError
	if errors.As(err, &fe) {
		return fe.Reason
	}
	return ""
}

func (s *webSync) run() {
	start := s.src.ID
	var queue []string
	depth := map[string]int{}
	if s.src.Kind == "" || s.src.Kind == SourceSitemap {
		// A new source is a sitemap when what the address serves is one.
		urls, isSitemap, ok := s.sitemap(start, 0)
		switch {
		case !ok:
			s.keep = false
			return
		case isSitemap:
			s.src.Kind = SourceSitemap
			queue = urls
		default:
			s.src.Kind = SourcePage
			return // sitemap() stored the page
		}
	} else {
		queue = []string{start}
	}
	for _, u := range queue {
		depth[u] = 0
	}
	done := 0
	if s.src.Kind == SourcePage {
		s.page(start, true)
		return
	}
	for i := 0; i < len(queue) && s.ctx.Err() == nil; i++ {
		u := queue[i]
		s.onPage(u, done, len(queue))
		links, ok := s.page(u, i == 0 && s.src.Kind == SourceCrawl)
		done++
		if i == 0 && s.src.Kind == SourceCrawl && !ok {
			s.keep = false
			return
		}
		if s.src.Kind != SourceCrawl || depth[u] >= s.src.Depth {
			continue
		}
		for _, l := range links {
			lu, err := url.Parse(l)
			if err != nil || !s.f.Allowed(lu) || !sameSite(lu, start) {
				continue
			}
			if _, ok := depth[l]; ok || len(queue) >= s.src.MaxPages {
				continue
			}
			depth[l] = depth[u] + 1
			queue = append(queue, l)
		}
	}
}

// sameSite: a crawl stays on its start page's scheme, host and port.
func sameSite(u *url.URL, start string) bool {
	su, err := url.Parse(start)
	return err == nil && strings.EqualFold(u.Host, su.Host) && u.Scheme == su.Scheme
}

// sitemap reads a sitemap (recursively for an index) and returns the pages
// it lists. ok is false when the start address could not be read at all.
// When the start address is a page, not a sitemap, it is stored as one.
func (s *webSync) sitemap(u string, level int) (urls []string, isSitemap, ok bool) {
	old, had := s.src.Sitemaps[u]
	var val web.Validators
	if had {
		val = old.Validators
	}
	if level == 0 && s.src.Kind == "" {
		val = web.Validators{}
	}
	resp, err := s.f.Get(s.ctx, u, val)
	if err != nil {
		s.fail(u, err)
		if had && level > 0 {
			s.sitemaps[u] = old // a sitemap that failed for now keeps its pages
			return old.Links, true, true
		}
		return nil, false, false
	}
	if resp.NotModified {
		s.notModified++
		s.sitemaps[u] = old
		return s.expand(old.Links, level)
	}
	if !web.LooksLikeSitemap(resp.Body) {
		if level > 0 || s.src.Kind == SourceSitemap {
			s.fail(u, fmt.Errorf("is not a sitemap"))
			return nil, false, level > 0
		}
		s.store(u, resp)
		return nil, false, true
	}
	sm, err := web.ParseSitemap(resp.Body)
	if err != nil {
		s.fail(u, fmt.Errorf("is not a readable sitemap (%v)", err))
		return nil, false, false
	}
	st := PageState{Validators: resp.Validators}
	for _, c := range sm.Sitemaps {
		st.Links = append(st.Links, "sitemap:"+c)
	}
	st.Links = append(st.Links, sm.Pages...)
	s.sitemaps[u] = st
	return s.expand(st.Links, level)
}

// expand turns a sitemap's entries into pages, reading nested sitemaps
// (two levels: an index of sitemaps, as the protocol allows).
func (s *webSync) expand(entries []string, level int) ([]string, bool, bool) {
	var out []string
	seen := map[string]bool{}
	for _, e := range entries {
		if len(out) >= s.src.MaxPages {
			break
		}
		if child, ok := strings.CutPrefix(e, "sitemap:"); ok {
			cu, err := url.Parse(child)
			if err != nil || level >= 2 || !s.f.Allowed(cu) {
				continue
			}
			pages, _, _ := s.sitemap(child, level+1)
			for _, p := range pages {
				if !seen[p] && len(out) < s.src.MaxPages {
					seen[p] = true
					out = append(out, p)
				}
			}
			continue
		}
		pu, err := url.Parse(e)
		if err != nil {
			continue
		}
		if !s.f.Allowed(pu) {
			// A sitemap may list other sites: never followed, but said
			// (example.com's sitemap often lists www.example.com).
			if s.otherHosts == nil {
				s.otherHosts = map[string]int{}
			}
			s.otherHosts[pu.Host]++
			continue
		}
		if !seen[e] {
			seen[e] = true
			out = append(out, e)
		}
	}
	return out, true, true
}

// page fetches one page (conditionally if it is stored) and stores it if
// it changed. It returns the page's links and whether it answered.
func (s *webSync) page(u string, first bool) ([]string, bool) {
	old, had := s.src.Pages[u]
	var val web.Validators
	if doc, ok := s.kb.Doc(u); had && ok && doc.Status == store.StatusOK {
		val = old.Validators
	}
	resp, err := s.f.Get(s.ctx, u, val)
	var we *web.Error
	switch {
	case err != nil && errors.As(err, &we) && we.Status == -1:
		return nil, false // disallowed by robots.txt: never requested, removed if stored
	case err != nil && errors.As(err, &we) && we.Gone():
		if !first {
			return nil, false // removed below
		}
		s.fail(u, err)
		return nil, false
	case err != nil:
		s.fail(u, err)
		if had {
			s.seen[u] = true // kept until the site answers again
			s.pages[u] = old
		}
		return old.Links, false
	case resp.NotModified:
		s.notModified++
		s.res.Skipped++
		s.seen[u] = true
		s.pages[u] = old
		return old.Links, true
	}
	return s.store(u, resp), true
}

// store extracts a fetched page and stores it unless its readable text is
// what is stored already.
func (s *webSync) store(u string, resp *web.Response) []string {
	s.seen[u] = true
	st := PageState{Validators: resp.Validators}
	body, ext, name := resp.Body, web.Ext(resp.ContentType), ""
	if resp.IsHTML() {
		pg, err := web.Readable(resp.Body, resp.URL)
		if err != nil {
			s.fail(u, fmt.Errorf("is not a readable web page (%v)", err))
			return nil
		}
		body, ext, name = []byte(pg.HTML), ".html", pg.Title
		if s.src.Kind == SourceCrawl {
			// Kept for refreshes that get a 304; bounded so sources.json
			// stays small (a crawl reaches MaxPages pages at most anyway).
			st.Links = pg.Links[:min(len(pg.Links), maxKeptLinks)]
		}
	}
	if ext == "" {
		ext = strings.ToLower(filepath.Ext((&url.URL{Path: resp.URL}).Path))
	}
	s.pages[u] = st
	sum := sha256.Sum256(body)
	hash := hex.EncodeToString(sum[:])
	if old, ok := s.kb.Doc(u); ok && old.Hash == hash && old.Status == store.StatusOK {
		s.res.Skipped++
		return st.Links
	}
	if name == "" {
		name = u
	}
	doc := store.Doc{Path: u, Name: name, Hash: hash, Size: int64(len(resp.Body)), Root: s.src.ID, Ingested: time.Now().UTC()}
	d, err := extractBytes(s.ctx, body, ext, s.in.Limits)
	if err != nil {
		doc.Status, doc.Error = store.StatusFailed, errReason(err)
		_ = s.kb.Put(doc)
		s.fail(u, err)
		return st.Links
	}
	doc.Format, doc.Pages, doc.Warnings, doc.Status = d.Format, d.Pages, d.Warnings, store.StatusOK
	for _, c := range ingest.Split(d, s.in.Chunking) {
		doc.Chunks = append(doc.Chunks, store.Chunk{Page: c.Page, Headings: c.Headings, Start: c.Start, End: c.End, Text: c.Text})
	}
	if len(doc.Chunks) == 0 {
		doc.Status, doc.Error = store.StatusFailed, "has no text to index"
		_ = s.kb.Put(doc)
		s.fail(u, errors.New(doc.Error))
		return st.Links
	}
	if err := s.kb.Put(doc); err != nil {
		s.fail(u, err)
		return st.Links
	}
	s.res.OK++
	s.res.Chunks += len(doc.Chunks)
	return st.Links
}

// extractBytes reads a downloaded document through the same extraction as
// files, from a temporary file named with the format's extension.
func extractBytes(ctx context.Context, body []byte, ext string, lim ingest.Limits) (*ingest.Document, error) {
	tmp, err := os.CreateTemp("", "atoll-web-*"+ext)
	if err != nil {
		return nil, err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(body); err != nil {
		tmp.Close()
		return nil, err
	}
	if err := tmp.Close(); err != nil {
		return nil, err
	}
	return ingest.Extract(ctx, tmp.Name(), lim)
}

// UpdateSource changes one source in place (its schedule, keep-in-sync).
func UpdateSource(st *store.Store, kbName, id string, fn func(*Source)) error {
	found := false
	err := updateSources(st, kbName, func(list []Source) []Source {
		for i := range list {
			if list[i].ID == id {
				found = true
				fn(&list[i])
				if !list[i].LastSync.IsZero() {
					list[i].schedule(list[i].LastSync)
				}
			}
		}
		return list
	})
	if err == nil && !found {
		err = fmt.Errorf("%q is not a source of %q", id, kbName)
	}
	return err
}
