package app

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"atoll/knowledge"
	"atoll/store"
	"atoll/web"
)

// SourceInfo is one source of a knowledge base as the Knowledge screen
// lists it.
type SourceInfo struct {
	ID          string                  `json:"id"`
	Kind        string                  `json:"kind"` // page, sitemap, crawl, folder, file
	Schedule    string                  `json:"schedule"`
	Watch       bool                    `json:"watch"`
	LastSync    *time.Time              `json:"lastSync"`
	NextSync    *time.Time              `json:"nextSync"`
	Docs        int                     `json:"docs"`
	Chunks      int                     `json:"chunks"`
	Changed     int                     `json:"changed"`
	Unchanged   int                     `json:"unchanged"`
	Removed     int                     `json:"removed"`
	Failed      int                     `json:"failed"`
	Requests    int                     `json:"requests"`
	NotModified int                     `json:"notModified"`
	Errors      []knowledge.FileFailure `json:"errors"`
}

func timePtr(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}

// ListSources lists a knowledge base's sources.
func (a *App) ListSources(kbName string) ([]SourceInfo, error) {
	if err := store.ValidName(kbName); err != nil {
		return nil, err
	}
	list, err := knowledge.Sources(a.store, kbName)
	if err != nil {
		return nil, userError(err)
	}
	out := make([]SourceInfo, 0, len(list))
	for _, s := range list {
		sch := s.Schedule
		if sch == "" {
			sch = "off"
		}
		errs := s.Errors
		if errs == nil {
			errs = []knowledge.FileFailure{}
		}
		out = append(out, SourceInfo{ID: s.ID, Kind: s.Kind, Schedule: sch, Watch: s.Watch, LastSync: timePtr(s.LastSync), NextSync: timePtr(s.NextSync),
			Docs: s.Docs, Chunks: s.Chunks, Changed: s.Changed, Unchanged: s.Unchanged, Removed: s.Removed, Failed: s.Failed,
			Requests: s.Requests, NotModified: s.NotModified, Errors: errs})
	}
	return out, nil
}

// AddWebsite starts a job reading a page, a sitemap or (depth > 0) a site
// into kbName; progress and the summary arrive as ingest events.
func (a *App) AddWebsite(kbName, url string, depth, maxPages int, schedule string) (string, error) {
	if err := store.ValidName(kbName); err != nil {
		return "", err
	}
	if _, ok := knowledge.Schedules[schedule]; !ok && schedule != "" {
		return "", errors.New("choose how often to sync: off, hourly, daily or weekly")
	}
	if depth < 0 || depth > 10 || maxPages < 0 {
		return "", errors.New("the crawl depth is 0 to 10 links and the page limit 0 or more")
	}
	f := a.fetcher()
	if _, err := f.Name(url); err != nil {
		return "", errors.New(url + " is not a web address: it must start with http:// or https://")
	}
	return a.webJob(kbName, url, knowledge.WebOptions{Depth: depth, MaxPages: maxPages, Schedule: schedule}, f), nil
}

func (a *App) fetcher() *web.Fetcher {
	return &web.Fetcher{UserAgent: web.UserAgent(a.cfg.Version)}
}

func (a *App) webJob(kbName, url string, opt knowledge.WebOptions, f *web.Fetcher) string {
	job := newID()
	opt.Job = job
	ctx, cancel := context.WithCancel(context.Background())
	a.jobs.Store(job, cancel)
	embed := a.current().EmbedModel
	if kb, err := a.store.KB(kbName); err == nil && kb.Meta().EmbedModel != "" {
		embed = kb.Meta().EmbedModel
	}
	ing := a.ingesterNow()
	a.bg.Add(1) // Close waits for it
	go func() {
		defer a.bg.Done()
		defer a.jobs.Delete(job)
		defer cancel()
		res, err := ing.SyncWeb(ctx, kbName, embed, url, opt, f, func(p knowledge.Progress) { a.send(EventIngestProgress, p) })
		sum := res.Summary
		sum.Job, sum.KB = job, kbName
		if err != nil {
			var we *web.Error
			reason := err.Error()
			if errors.As(err, &we) {
				reason = we.Reason
			}
			sum.Failed++
			sum.Errors = append(sum.Errors, knowledge.FileFailure{File: url, Reason: reason})
		}
		if sum.OK > 0 || sum.Removed > 0 {
			a.knowledgeChanged(kbName, []string{url})
		}
		a.send(EventIngestDone, sum)
	}()
	return job
}

// SyncSource fetches or rescans one source now, as a job.
func (a *App) SyncSource(kbName, id string) (string, error) {
	if err := store.ValidName(kbName); err != nil {
		return "", err
	}
	src, ok := knowledge.FindSource(a.store, kbName, id)
	if !ok {
		return "", fmt.Errorf("%s is not a source of %s", id, kbName)
	}
	if src.IsWeb() {
		f := a.fetcher()
		if _, err := f.Name(id); err != nil {
			return "", err
		}
		return a.webJob(kbName, id, knowledge.WebOptions{}, f), nil
	}
	return a.ingestSource(kbName, []string{id}), nil
}

// ingestSource is Ingest for paths that are (or become) sources: their
// last sync, counts and errors are recorded when the job ends.
func (a *App) ingestSource(kbName string, paths []string) string {
	job := newID()
	ctx, cancel := context.WithCancel(context.Background())
	a.jobs.Store(job, cancel)
	embed := a.current().EmbedModel
	if kb, err := a.store.KB(kbName); err == nil && kb.Meta().EmbedModel != "" {
		embed = kb.Meta().EmbedModel
	}
	ing := a.ingesterNow()
	a.bg.Add(1) // Close waits for it
	go func() {
		defer a.bg.Done()
		defer a.jobs.Delete(job)
		defer cancel()
		started := time.Now().UTC()
		sum, err := ing.Run(ctx, job, kbName, embed, paths, func(p knowledge.Progress) { a.send(EventIngestProgress, p) })
		if err != nil {
			sum.Errors = append(sum.Errors, knowledge.FileFailure{File: "", Reason: err.Error()})
		} else if !sum.Cancelled {
			_ = knowledge.RecordPaths(a.store, kbName, paths, sum)
		}
		if sum.OK > 0 || sum.Removed > 0 {
			a.knowledgeChanged(kbName, a.changedDocs(kbName, started, paths))
		}
		a.send(EventIngestDone, sum)
	}()
	return job
}

// RemoveSource forgets a source and removes its documents; it returns how
// many were removed.
func (a *App) RemoveSource(kbName, id string) (int, error) {
	if err := store.ValidName(kbName); err != nil {
		return 0, err
	}
	a.stopWatch(kbName, id)
	n, err := knowledge.RemoveSource(a.store, kbName, id)
	if err != nil {
		return 0, userError(err)
	}
	return n, nil
}

// SetSourceSchedule sets how often a source is synced while the app runs.
func (a *App) SetSourceSchedule(kbName, id, schedule string) error {
	if err := store.ValidName(kbName); err != nil {
		return err
	}
	if _, ok := knowledge.Schedules[schedule]; !ok {
		return errors.New("choose how often to sync: off, hourly, daily or weekly")
	}
	return knowledge.UpdateSource(a.store, kbName, id, func(s *knowledge.Source) { s.Schedule = schedule })
}

// SetSourceWatch turns "Keep in sync" on or off for a folder or file
// source: while the app runs, its changes are ingested within seconds, and
// the next start rescans it.
func (a *App) SetSourceWatch(kbName, id string, on bool) error {
	if err := store.ValidName(kbName); err != nil {
		return err
	}
	src, ok := knowledge.FindSource(a.store, kbName, id)
	if !ok {
		return fmt.Errorf("%s is not a source of %s", id, kbName)
	}
	if src.IsWeb() {
		return errors.New("websites are kept fresh by their schedule; Keep in sync is for folders and files")
	}
	if err := knowledge.UpdateSource(a.store, kbName, id, func(s *knowledge.Source) { s.Watch = on }); err != nil {
		return err
	}
	if on {
		return a.startWatch(kbName, id, true) // the rescan catches what changed before the watch was set up
	}
	a.stopWatch(kbName, id)
	return nil
}

// watchers are the running folder watches, by knowledge base and source.
var watchers sync.Map // *App -> *sync.Map of kb+"\x00"+id -> context.CancelFunc

func (a *App) watchMap() *sync.Map {
	m, _ := watchers.LoadOrStore(a, &sync.Map{})
	return m.(*sync.Map)
}

func (a *App) startWatch(kbName, id string, rescan bool) error {
	key := kbName + "\x00" + id
	m := a.watchMap()
	if _, ok := m.Load(key); ok {
		return nil
	}
	ctx, cancel := context.WithCancel(context.Background())
	m.Store(key, cancel)
	embed := a.current().EmbedModel
	if kb, err := a.store.KB(kbName); err == nil && kb.Meta().EmbedModel != "" {
		embed = kb.Meta().EmbedModel
	}
	w := &knowledge.Watcher{In: a.ingesterNow(), KB: kbName, Model: embed, Roots: []string{id}, Rescan: rescan,
		OnBatch: func(b knowledge.Batch) {
			if changed := append(append([]string{}, b.Changed...), b.Removed...); len(changed) > 0 {
				a.knowledgeChanged(kbName, changed)
			}
			a.send(EventIngestDone, knowledge.Summary{Job: "watch", KB: kbName, OK: len(b.Changed), Removed: len(b.Removed), Failed: len(b.Failed), Errors: b.Failed, Pending: b.Pending})
		}}
	a.bg.Add(1) // Close waits for it
	go func() {
		defer a.bg.Done()
		defer m.Delete(key)
		if err := w.Run(ctx); err != nil {
			a.send(EventIngestDone, knowledge.Summary{Job: "watch", KB: kbName, Failed: 1, Errors: []knowledge.FileFailure{{File: id, Reason: err.Error()}}})
		}
	}()
	return nil
}

func (a *App) stopWatch(kbName, id string) {
	if c, ok := a.watchMap().LoadAndDelete(kbName + "\x00" + id); ok {
		c.(context.CancelFunc)()
	}
}

// runSources runs while the app is open: folders marked Keep in sync are
// watched (rescanned first, for what changed while the app was closed), and
// sources whose schedule is due are synced, checked every minute.
func (a *App) runSources(ctx context.Context, every time.Duration) {
	metas, _ := a.store.List()
	for _, m := range metas {
		srcs, _ := knowledge.Sources(a.store, m.Name)
		for _, s := range srcs {
			if s.Watch && !s.IsWeb() {
				_ = a.startWatch(m.Name, s.ID, true)
			}
		}
	}
	t := time.NewTicker(every)
	defer t.Stop()
	defer a.watchMap().Range(func(_, c any) bool { c.(context.CancelFunc)(); return true })
	running := map[string]string{} // source -> its sync job, so a long one is not started twice
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		metas, _ := a.store.List()
		now := time.Now()
		for _, m := range metas {
			srcs, _ := knowledge.Sources(a.store, m.Name)
			for _, s := range srcs {
				if s.NextSync.IsZero() || s.NextSync.After(now) {
					continue
				}
				key := m.Name + "\x00" + s.ID
				if job, ok := running[key]; ok {
					if _, still := a.jobs.Load(job); still {
						continue
					}
				}
				if job, err := a.SyncSource(m.Name, s.ID); err == nil {
					running[key] = job
				}
			}
		}
	}
}
