package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"text/tabwriter"
	"time"

	"atoll/knowledge"
	"atoll/llm"
	"atoll/web"
)

// isURL tells web addresses from paths among ingest's arguments.
func isURL(a string) bool {
	l := strings.ToLower(a)
	return strings.HasPrefix(l, "http://") || strings.HasPrefix(l, "https://")
}

func (e *env) fetcher(delay time.Duration) *web.Fetcher {
	return &web.Fetcher{UserAgent: web.UserAgent(version), Delay: delay}
}

// syncWeb fetches each URL as a source of kb and prints what each did. It
// reports whether any page failed.
func (e *env) syncWeb(ctx context.Context, in *knowledge.Ingester, kb, model string, urls []string, opt knowledge.WebOptions, f *web.Fetcher) (failed bool, err error) {
	for _, u := range urls {
		if ctx.Err() != nil {
			return true, nil
		}
		bar := e.startProgress()
		res, err := in.SyncWeb(ctx, kb, model, u, opt, f, func(p knowledge.Progress) {
			if p.Phase == "embedding" {
				if p.ToEmbed > 0 {
					bar.set("embedding", float64(p.Embedded)/float64(p.ToEmbed), fmt.Sprintf("%s: embedding %d/%d passages with %s", safe(kb), p.Embedded, p.ToEmbed, safe(model)))
				}
				return
			}
			frac := 0.0
			if p.Files > 0 {
				frac = float64(p.FilesDone) / float64(p.Files)
			}
			bar.set("reading", frac, fmt.Sprintf("%s: %d/%d pages  %s", safe(kb), p.FilesDone, p.Files, safe(p.Current)))
		})
		bar.finish()
		if err != nil {
			var we *web.Error
			if errors.As(err, &we) {
				return true, errUsage{safe(we.URL) + " " + we.Reason}
			}
			return true, err
		}
		for _, f := range res.Errors {
			fmt.Fprintf(e.stderr, "failed: %s: %s\n", safe(f.File), safeText(f.Reason))
		}
		fmt.Fprintf(e.stderr, "%s: %s (%s): %d new or changed, %d unchanged, %d removed, %d failed; %d requests (%d answered \"not modified\"); %.1fs\n",
			safe(kb), safe(res.Source.ID), res.Source.Kind, res.OK, res.Skipped, res.Removed, res.Failed, res.Requests, res.NotModified, res.Seconds)
		if res.Pending > 0 {
			fmt.Fprintf(e.stderr, "Embeddings pending for %d chunks (searchable by keyword now): %s\n", res.Pending, strings.TrimSpace(res.PendingWhy))
		}
		failed = failed || res.Failed > 0 || res.Cancelled
	}
	return failed, nil
}

// sync is `atoll sync`: every source of every knowledge base (or one),
// fetched again; for cron.
func (e *env) sync(args []string) error {
	fs := e.flags("sync", "")
	kbName := fs.String("kb", "", "only this knowledge base's sources")
	delay := fs.Duration("delay", web.DefaultDelay, "wait between two requests to one site")
	dueOnly := fs.Bool("due", false, "only sources whose schedule says they are due")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return errUsage{"sync takes no arguments: it syncs every source (--kb NAME: one knowledge base's)"}
	}
	if *kbName != "" {
		if err := validKB(*kbName); err != nil {
			return err
		}
	}
	st, c, err := e.open()
	if err != nil {
		return err
	}
	defer st.Close()
	var names []string
	if *kbName != "" {
		if _, err := st.KB(*kbName); err != nil {
			return fmt.Errorf("knowledge base %q does not exist; `atoll kb list` lists them", *kbName)
		}
		names = []string{*kbName}
	} else {
		metas, err := st.List()
		if err != nil {
			return err
		}
		for _, m := range metas {
			names = append(names, m.Name)
		}
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	in := knowledge.New(st, c)
	in.Explain = llm.Sentence
	in.ProgressEvery = -1
	failed, synced := false, 0
	now := time.Now()
	for _, name := range names {
		srcs, err := knowledge.Sources(st, name)
		if err != nil {
			return err
		}
		kb, err := st.KB(name)
		if err != nil {
			return err
		}
		model := kb.Meta().EmbedModel
		f := e.fetcher(*delay)
		for _, s := range srcs {
			if ctx.Err() != nil {
				break
			}
			if *dueOnly && (s.NextSync.IsZero() || s.NextSync.After(now)) {
				continue
			}
			synced++
			if s.IsWeb() {
				bad, err := e.syncWeb(ctx, in, name, model, []string{s.ID}, knowledge.WebOptions{}, f)
				if err != nil {
					fmt.Fprintf(e.stderr, "failed: %s\n", sentence(err))
					failed = true
				}
				failed = failed || bad
				continue
			}
			if _, err := os.Stat(s.ID); err != nil {
				fmt.Fprintf(e.stderr, "failed: %s: cannot be read now (%s); `atoll kb sources %s --remove PATH` forgets it\n", safe(s.ID), safeText(err.Error()), safe(name))
				failed = true
				continue
			}
			sum, err := in.Run(ctx, "sync", name, model, []string{s.ID}, nil)
			if err != nil {
				return err
			}
			_ = knowledge.RecordPaths(st, name, []string{s.ID}, sum)
			for _, f := range sum.Errors {
				fmt.Fprintf(e.stderr, "failed: %s: %s\n", safe(f.File), safeText(f.Reason))
			}
			fmt.Fprintf(e.stderr, "%s: %s (%s): %d new or changed, %d unchanged, %d removed, %d failed; %.1fs\n",
				safe(name), safe(s.ID), s.Kind, sum.OK, sum.Skipped, sum.Removed, sum.Failed, sum.Seconds)
			failed = failed || sum.Failed > 0 || sum.Cancelled
		}
	}
	if synced == 0 {
		fmt.Fprintln(e.stderr, "No sources to sync. Add one with: atoll ingest --kb NAME PATH-OR-URL...")
	}
	if failed {
		return errSomeFailed
	}
	return nil
}

// kbSources is `atoll kb sources NAME`: each source with its kind, last and
// next sync, counts and errors; --remove forgets one and its documents.
func (e *env) kbSources(args []string) error {
	fs := e.flags("kb sources", "")
	asJSON := fs.Bool("json", false, "print JSON")
	remove := fs.String("remove", "", "forget this source (its URL or path) and remove its documents")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	st, _, err := e.openNamedKB("kb sources", pos)
	if err != nil {
		return err
	}
	defer st.Close()
	if *remove != "" {
		n, err := knowledge.RemoveSource(st, pos[0], *remove)
		if err != nil {
			return err
		}
		fmt.Fprintf(e.stderr, "%s: removed the source %s and its %d documents\n", safe(pos[0]), safe(*remove), n)
		return nil
	}
	srcs, err := knowledge.Sources(st, pos[0])
	if err != nil {
		return err
	}
	if *asJSON {
		type row struct {
			ID        string                  `json:"id"`
			Kind      string                  `json:"kind"`
			Schedule  string                  `json:"schedule"`
			LastSync  time.Time               `json:"lastSync,omitzero"`
			NextSync  time.Time               `json:"nextSync,omitzero"`
			Docs      int                     `json:"docs"`
			Chunks    int                     `json:"chunks"`
			Changed   int                     `json:"changed"`
			Unchanged int                     `json:"unchanged"`
			Removed   int                     `json:"removed"`
			Failed    int                     `json:"failed"`
			Requests  int                     `json:"requests"`
			Errors    []knowledge.FileFailure `json:"errors"`
		}
		rows := []row{}
		for _, s := range srcs {
			sch := s.Schedule
			if sch == "" {
				sch = "off"
			}
			errs := s.Errors
			if errs == nil {
				errs = []knowledge.FileFailure{}
			}
			rows = append(rows, row{s.ID, s.Kind, sch, s.LastSync, s.NextSync, s.Docs, s.Chunks, s.Changed, s.Unchanged, s.Removed, s.Failed, s.Requests, errs})
		}
		return writeJSON(e, rows)
	}
	if len(srcs) == 0 {
		fmt.Fprintf(e.stdout, "%s has no recorded sources yet. Add one with: atoll ingest --kb %s PATH-OR-URL...\n", safe(pos[0]), safe(pos[0]))
		return nil
	}
	tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "SOURCE\tKIND\tDOCS\tPASSAGES\tLAST SYNC\tNEXT SYNC\tFAILED")
	for _, s := range srcs {
		next := "off"
		if !s.NextSync.IsZero() {
			next = s.NextSync.Local().Format("2006-01-02 15:04")
		}
		last := "never"
		if !s.LastSync.IsZero() {
			last = s.LastSync.Local().Format("2006-01-02 15:04")
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%s\t%s\t%d\n", safe(s.ID), s.Kind, s.Docs, s.Chunks, last, next, s.Failed)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	for _, s := range srcs {
		for _, f := range s.Errors {
			fmt.Fprintf(e.stdout, "  %s: %s\n", safe(f.File), safeText(f.Reason))
		}
	}
	return nil
}

// watch is `atoll ingest --watch`: the folders and files kept in step with
// the knowledge base until Ctrl-C.
func (e *env) watch(ctx context.Context, in *knowledge.Ingester, kb, model string, paths []string) error {
	fmt.Fprintf(e.stderr, "Watching %s for changes; Ctrl-C stops.\n", safe(strings.Join(paths, ", ")))
	w := &knowledge.Watcher{In: in, KB: kb, Model: model, Roots: paths, OnBatch: func(b knowledge.Batch) {
		stamp := time.Now().Format("15:04:05")
		for _, p := range b.Changed {
			fmt.Fprintf(e.stderr, "%s %s: stored %s\n", stamp, safe(kb), safe(p))
		}
		for _, p := range b.Removed {
			fmt.Fprintf(e.stderr, "%s %s: removed %s\n", stamp, safe(kb), safe(p))
		}
		for _, f := range b.Failed {
			fmt.Fprintf(e.stderr, "%s failed: %s: %s\n", stamp, safe(f.File), safeText(f.Reason))
		}
	}}
	if err := w.Run(ctx); err != nil {
		return err
	}
	fmt.Fprintln(e.stderr, "Stopped watching.")
	return nil
}
