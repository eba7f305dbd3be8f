package knowledge

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"time"

	"atoll/ingest"

	"github.com/fsnotify/fsnotify"
)

// Watcher keeps a knowledge base in step with folders (and files): a file
// created, changed, renamed or deleted there is reflected within seconds.
// Bursts of events are gathered (Debounce), and a file is read only once
// its size and modification time have held still for Stable, so a file
// still being written or copied is not read half-way.
type Watcher struct {
	In       *Ingester
	KB       string
	Model    string
	Roots    []string      // folders and files, as given
	Debounce time.Duration // quiet time that ends a burst (default 300 ms)
	Stable   time.Duration // how long a file must hold still (default 1 s)
	// Rescan runs a full ingest of the roots first, catching what changed
	// while nobody watched.
	Rescan bool
	// OnBatch is told what each batch did (files ingested, removed, failed).
	OnBatch    func(Batch)
	embedAfter time.Time // embeddings are not tried before (the server was down)
	// onObserve is told each file size the watcher sees (tests).
	onObserve func(path string, size int64)
}

// Batch is what one round of changes did.
type Batch struct {
	Changed []string      `json:"changed"`
	Removed []string      `json:"removed"`
	Failed  []FileFailure `json:"failed"`
	Pending int           `json:"pending"`
}

// pendingFile is a path with events not yet acted on.
type pendingFile struct {
	last  time.Time // of the last event
	size  int64
	mtime time.Time
	seen  bool // size and mtime observed at least once
}

// WatchLimitError says a folder could not be watched because of a system
// limit, in a sentence that names the limit and how to raise it.
func WatchLimitError(path string, err error) error {
	switch {
	case errors.Is(err, syscall.ENOSPC):
		n := readSysctl("/proc/sys/fs/inotify/max_user_watches")
		return fmt.Errorf("cannot watch %s: the system allows %s folder watches per user (fs.inotify.max_user_watches) and they are all in use; raise the limit with `sudo sysctl fs.inotify.max_user_watches=524288` or watch a smaller folder", path, n)
	case errors.Is(err, syscall.EMFILE):
		n := readSysctl("/proc/sys/fs/inotify/max_user_instances")
		return fmt.Errorf("cannot watch %s: the system allows %s file watchers per user (fs.inotify.max_user_instances) and they are all in use; close other watching programs or raise the limit with `sudo sysctl fs.inotify.max_user_instances=1024`", path, n)
	}
	return fmt.Errorf("cannot watch %s (%v)", path, err)
}

func readSysctl(p string) string {
	b, err := os.ReadFile(p)
	if err != nil {
		return "a limited number of"
	}
	return strings.TrimSpace(string(b))
}

// Run watches until ctx ends. A watch that cannot be set up (the system's
// limits) is an error; an event queue overflow triggers a full rescan.
func (w *Watcher) Run(ctx context.Context) error {
	if w.Debounce <= 0 {
		w.Debounce = 300 * time.Millisecond
	}
	if w.Stable <= 0 {
		w.Stable = time.Second
	}
	roots := make([]string, 0, len(w.Roots))
	for _, r := range w.Roots {
		a, err := filepath.Abs(r)
		if err != nil {
			return err
		}
		roots = append(roots, a)
	}
	fw, err := fsnotify.NewWatcher()
	if err != nil {
		return WatchLimitError(strings.Join(roots, ", "), err)
	}
	defer fw.Close()
	for _, r := range roots {
		fi, err := os.Stat(r)
		if err != nil {
			return fmt.Errorf("cannot watch %s: %v", r, err)
		}
		dir := r
		if !fi.IsDir() {
			dir = filepath.Dir(r) // a file is watched through its folder (editors replace files by renaming)
		}
		if err := addTree(fw, dir, fi.IsDir()); err != nil {
			return err
		}
	}
	if w.Rescan {
		w.rescan(ctx, roots)
	}
	pending := map[string]*pendingFile{}
	tick := time.NewTicker(w.Debounce / 3)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case err, ok := <-fw.Errors:
			if !ok {
				return nil
			}
			if errors.Is(err, fsnotify.ErrEventOverflow) {
				w.rescan(ctx, roots) // events were lost: compare everything
				continue
			}
			return WatchLimitError(strings.Join(roots, ", "), err)
		case ev, ok := <-fw.Events:
			if !ok {
				return nil
			}
			if !w.wanted(roots, ev.Name) {
				continue
			}
			if ev.Has(fsnotify.Create) {
				if fi, err := os.Stat(ev.Name); err == nil && fi.IsDir() {
					if err := addTree(fw, ev.Name, true); err != nil {
						return err
					}
					// Files moved in with the folder raise no events.
					_ = filepath.WalkDir(ev.Name, func(p string, d fs.DirEntry, err error) error {
						if err == nil && !d.IsDir() {
							pending[p] = &pendingFile{last: time.Now()}
						}
						return nil
					})
				}
			}
			p, ok := pending[ev.Name]
			if !ok {
				p = &pendingFile{}
				pending[ev.Name] = p
			}
			p.last = time.Now()
		case <-tick.C:
			if len(pending) == 0 {
				continue
			}
			ready := w.ready(pending)
			if len(ready) > 0 {
				w.apply(ctx, roots, ready)
			}
		}
	}
}

// wanted: inside a root (a watched file's folder holds other files too).
func (w *Watcher) wanted(roots []string, p string) bool {
	for _, r := range roots {
		if p == r || strings.HasPrefix(p, r+string(filepath.Separator)) {
			return true
		}
	}
	return false
}

// ready takes from pending the paths whose burst is over and whose files
// held still for Stable (or are gone).
func (w *Watcher) ready(pending map[string]*pendingFile) []string {
	now := time.Now()
	var out []string
	for path, p := range pending {
		if now.Sub(p.last) < w.Debounce {
			continue
		}
		fi, err := os.Stat(path)
		if err != nil || fi.IsDir() {
			out = append(out, path) // gone (deleted, renamed away) or a folder
			delete(pending, path)
			continue
		}
		if w.onObserve != nil {
			w.onObserve(path, fi.Size())
		}
		if !p.seen || fi.Size() != p.size || !fi.ModTime().Equal(p.mtime) {
			p.seen, p.size, p.mtime, p.last = true, fi.Size(), fi.ModTime(), now
			continue
		}
		if now.Sub(p.last) < w.Stable {
			continue
		}
		out = append(out, path)
		delete(pending, path)
	}
	sort.Strings(out)
	return out
}

// rootOf is the watched folder a file was found under ("" for a root that
// is a file itself: stored as a file named explicitly is).
func rootOf(roots []string, p string) string {
	best := ""
	for _, r := range roots {
		if strings.HasPrefix(p, r+string(filepath.Separator)) && len(r) > len(best) {
			best = r
		}
	}
	return best
}

// apply ingests changed files and removes what is gone.
func (w *Watcher) apply(ctx context.Context, roots []string, paths []string) {
	kb, err := w.In.openKB(w.KB, w.Model)
	if err != nil {
		w.report(Batch{Failed: []FileFailure{{File: w.KB, Reason: err.Error()}}})
		return
	}
	var b Batch
	isRoot := map[string]bool{}
	for _, r := range roots {
		isRoot[r] = true
	}
	for _, p := range paths {
		fi, err := os.Stat(p)
		if err != nil || fi.IsDir() {
			// Gone: the file, or a folder and everything stored under it.
			for _, d := range kb.Docs() {
				if d.Path == p || strings.HasPrefix(d.Path, p+string(filepath.Separator)) {
					if kb.Remove(d.Path) == nil {
						b.Removed = append(b.Removed, d.Path)
					}
				}
			}
			continue
		}
		if !isRoot[p] && (!ingest.Supported(p) || hiddenUnder(roots, p)) {
			continue
		}
		if !isRoot[p] && rootOf(roots, p) == "" {
			continue // a sibling of a watched file
		}
		ocr := w.In.OCR
		ocr.Lang = kb.Meta().OCRLang
		_, _, skipped, err := w.In.one(ctx, kb, p, rootOf(roots, p), nil, &ocr)
		switch {
		case err != nil:
			b.Failed = append(b.Failed, FileFailure{File: p, Reason: reason(err)})
		case !skipped:
			b.Changed = append(b.Changed, p)
		}
	}
	if len(b.Changed)+len(b.Removed)+len(b.Failed) == 0 {
		return
	}
	// With the embedding server down each attempt may take seconds of
	// retries: the next batches wait a minute before trying again, so
	// changes keep being reflected (searchable by keyword) meanwhile.
	if time.Now().After(w.embedAfter) {
		if why, _ := w.In.EmbedPending(ctx, kb, nil); why != "" {
			w.embedAfter = time.Now().Add(time.Minute)
		}
	}
	b.Pending = len(kb.Pending())
	if kb.Meta().EmbedModel == "" {
		b.Pending = 0
	}
	_ = kb.MaybeCheckpoint()
	w.report(b)
}

// hiddenUnder: some folder between the root and the file is hidden, as
// Collect skips it.
func hiddenUnder(roots []string, p string) bool {
	r := rootOf(roots, p)
	if r == "" {
		return false
	}
	rel, err := filepath.Rel(r, p)
	if err != nil {
		return true
	}
	for _, part := range strings.Split(rel, string(filepath.Separator)) {
		if strings.HasPrefix(part, ".") {
			return true
		}
	}
	return false
}

func (w *Watcher) rescan(ctx context.Context, roots []string) {
	sum, err := w.In.Run(ctx, "watch", w.KB, w.Model, roots, nil)
	if err != nil {
		w.report(Batch{Failed: []FileFailure{{File: w.KB, Reason: err.Error()}}})
		return
	}
	_ = RecordPaths(w.In.Store, w.KB, roots, sum)
	b := Batch{Failed: sum.Errors, Pending: sum.Pending}
	if sum.OK > 0 || sum.Removed > 0 || len(sum.Errors) > 0 {
		b.Changed = make([]string, 0, sum.OK)
		w.report(b)
	}
}

func (w *Watcher) report(b Batch) {
	if w.OnBatch != nil {
		w.OnBatch(b)
	}
}

// addTree watches dir and, if recursive, every folder under it (hidden
// ones left out, as Collect leaves them out).
func addTree(fw *fsnotify.Watcher, dir string, recursive bool) error {
	if !recursive {
		if err := fw.Add(dir); err != nil {
			return WatchLimitError(dir, err)
		}
		return nil
	}
	return filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if p == dir {
				return fmt.Errorf("cannot watch %s: %v", dir, err)
			}
			return nil // a folder that vanished or cannot be read is not a reason to stop
		}
		if !d.IsDir() {
			return nil
		}
		if p != dir && strings.HasPrefix(d.Name(), ".") {
			return filepath.SkipDir
		}
		if err := fw.Add(p); err != nil {
			return WatchLimitError(p, err)
		}
		return nil
	})
}
