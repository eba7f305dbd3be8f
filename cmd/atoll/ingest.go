package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"time"

	"atoll/app"
	"atoll/knowledge"
	"atoll/llm"
	"atoll/web"
)

func (e *env) ingest(args []string) error {
	fs := e.flags("ingest", "")
	kb := fs.String("kb", "", "knowledge base name (created if missing)")
	embed := fs.String("embed-model", "", "embedding model (default: the knowledge base's, else "+app.DefaultEmbedModel+")")
	reembed := fs.Bool("reembed", false, "confirm that --embed-model replaces the knowledge base's embedding model: every passage is embedded again")
	ocrLang := fs.String("ocr-lang", "", "language of the knowledge base's scans and photos: eng, chi_sim, eng+chi_sim, or auto (picked per page; the default)")
	crawl := fs.Int("crawl", 0, "for a URL: follow links on the same site this many clicks deep")
	maxPages := fs.Int("max-pages", 0, fmt.Sprintf("for a URL: read at most this many pages (default %d)", knowledge.DefaultMaxPages))
	delay := fs.Duration("delay", web.DefaultDelay, "for a URL: wait between two requests to one site")
	watch := fs.Bool("watch", false, "keep watching the folders and files: changes are ingested within seconds, until Ctrl-C")
	schedule := fs.String("schedule", "", "for a URL: sync again hourly, daily or weekly (while the app is open, or by `atoll sync --due`)")
	args, err := parse(fs, args)
	if err != nil {
		return err
	}
	if *kb == "" || len(args) == 0 {
		return errUsage{"ingest needs --kb NAME and at least one PATH or URL"}
	}
	var paths, urls []string
	for _, a := range args {
		if isURL(a) {
			urls = append(urls, a)
		} else {
			paths = append(paths, a)
		}
	}
	if (*crawl != 0 || *maxPages != 0 || *schedule != "") && len(urls) == 0 {
		return errUsage{"--crawl, --max-pages and --schedule apply to web addresses (http:// or https://)"}
	}
	if *watch && len(paths) == 0 {
		return errUsage{"--watch applies to folders and files; web addresses are kept fresh by `atoll sync`"}
	}
	if *crawl < 0 || *maxPages < 0 {
		return errUsage{"--crawl and --max-pages take a number of 0 or more"}
	}
	if _, ok := knowledge.Schedules[*schedule]; !ok && *schedule != "" {
		return errUsage{"--schedule takes off, hourly, daily or weekly"}
	}
	f := e.fetcher(*delay)
	for _, u := range urls {
		if _, err := f.Name(u); err != nil {
			return errUsage{safe(u) + " is not a web address Atoll can read"}
		}
	}
	if err := validKB(*kb); err != nil {
		return err
	}
	if *reembed && *embed == "" {
		return errUsage{"--reembed needs --embed-model MODEL, the model to embed every passage with"}
	}
	switch *ocrLang {
	case "", "auto", "eng", "chi_sim", "eng+chi_sim", "chi_sim+eng":
	default:
		return errUsage{fmt.Sprintf("--ocr-lang %s is not one Atoll reads: use eng, chi_sim, eng+chi_sim or auto", safe(*ocrLang))}
	}
	st, c, err := e.open()
	if err != nil {
		return err
	}
	defer st.Close()
	if *ocrLang != "" {
		if err := app.SetKBOCRLang(st, *kb, *ocrLang); err != nil {
			return err
		}
	}
	model := *embed
	if k, err := st.KB(*kb); err == nil && k.Meta().EmbedModel != "" {
		old := k.Meta().EmbedModel
		switch {
		case model == "":
			model = old
		case model != old && !*reembed:
			// An hour of embedding must not start from a typo.
			return errUsage{fmt.Sprintf("knowledge base %q is embedded with %s: --embed-model %s would embed all its %d passages again; add --reembed to do that, or leave out --embed-model to keep %s",
				*kb, safe(old), safe(model), k.ChunkCount(), safe(old))}
		case model != old:
			fmt.Fprintf(e.stderr, "Switching %q from %s to %s: all %d passages are embedded again; searches keep using %s until that is done.\n", *kb, safe(old), safe(model), k.ChunkCount(), safe(old))
		}
	}
	if model == "" {
		model = app.DefaultEmbedModel
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if _, err := c.Show(ctx, model); errors.Is(err, llm.ErrModelNotFound) {
		fmt.Fprintf(e.stderr, "warning: the embedding model %s is not installed: passages are stored and searchable by keyword, and embedded on the next run after `atoll pull %s`.\n", safe(model), safe(model))
	}
	in := knowledge.New(st, c)
	in.Explain = llm.Sentence
	in.ProgressEvery = -1 // every change: the bar and the timer throttle
	webFailed := false
	if len(urls) > 0 {
		webFailed, err = e.syncWeb(ctx, in, *kb, model, urls, knowledge.WebOptions{Depth: *crawl, MaxPages: *maxPages, Schedule: *schedule}, f)
		if err != nil {
			return err
		}
		if len(paths) == 0 {
			if webFailed {
				return errSomeFailed
			}
			return nil
		}
	}
	bar := e.startProgress()
	embedded := 0
	sum, err := in.Run(ctx, "cli", *kb, model, paths, func(p knowledge.Progress) {
		if p.Phase == "embedding" {
			if p.ToEmbed == 0 {
				return
			}
			embedded = p.Embedded
			bar.set("embedding", float64(p.Embedded)/float64(p.ToEmbed),
				fmt.Sprintf("%s: embedding %d/%d passages with %s", safe(*kb), p.Embedded, p.ToEmbed, safe(model)))
			return
		}
		frac := 0.0
		if p.Bytes > 0 {
			frac = float64(p.BytesDone) / float64(p.Bytes)
		}
		name := ""
		if p.Current != "" {
			name = safe(filepath.Base(p.Current))
		}
		if p.FilePages > 0 {
			name = fmt.Sprintf("p. %d/%d of %s", p.FilePage, p.FilePages, name)
		}
		if p.Phase == "ocr" {
			name = fmt.Sprintf("OCR page %d of %d of %s — slow, seconds a page", p.OCRPage, p.OCRPages, safe(filepath.Base(p.Current)))
		}
		if bar.tty {
			bar.set("reading", frac, fmt.Sprintf("%d/%d files, %d chunks, %.1f MB/s, %s left  %s", p.FilesDone, p.Files, p.Chunks, p.Rate/1e6, eta(p.ETASeconds), name))
			return
		}
		line := fmt.Sprintf("%s: read %d/%d files (%.0f%% of %.1f MB), %d passages, %s left", safe(*kb), p.FilesDone, p.Files, frac*100, float64(p.Bytes)/1e6, p.Chunks, eta(p.ETASeconds))
		if name != "" {
			line += "; now " + name
		}
		bar.set("reading", frac, line)
	})
	bar.finish()
	if err != nil {
		return err
	}
	_ = knowledge.RecordPaths(st, *kb, paths, sum) // the sources list is a record, not the ingest's outcome
	for _, f := range sum.Errors {
		fmt.Fprintf(e.stderr, "failed: %s: %s\n", safe(f.File), safeText(f.Reason))
	}
	fmt.Fprintf(e.stderr, "%s: %d ok, %d failed, %d unchanged, %d removed; %d passages read, %d passages embedded with %s; %.1fs\n",
		safe(*kb), sum.OK, sum.Failed, sum.Skipped, sum.Removed, sum.Chunks, embedded, safe(model), sum.Seconds)
	if sum.Ignored > 0 {
		fmt.Fprintf(e.stderr, "%d other files in the folders were left out: not a type Atoll reads (%s). Name a file explicitly to try it anyway.\n", sum.Ignored, safe(typeList(sum.IgnoredTypes, sum.Ignored)))
	}
	if sum.Pending > 0 {
		fmt.Fprintf(e.stderr, "Embeddings pending for %d chunks (searchable by keyword now; vectors are added on the next run): %s\n", sum.Pending, strings.TrimSpace(sum.PendingWhy))
	}
	if sum.OCRPending > 0 {
		fmt.Fprintf(e.stderr, "OCR pending for %d scanned pages or images (read on the next run once OCR can run): %s\n", sum.OCRPending, safeText(sum.OCRPendingWhy))
	}
	if sum.Cancelled {
		fmt.Fprintln(e.stderr, "Stopped. Run the same command again to resume; finished files are kept.")
		return errSomeFailed
	}
	if *watch {
		return e.watch(ctx, in, *kb, model, paths)
	}
	if sum.Failed > 0 || webFailed {
		return errSomeFailed
	}
	return nil
}

func eta(s float64) string {
	if s <= 0 {
		return "0s"
	}
	return (time.Duration(s) * time.Second).Round(time.Second).String()
}

// typeList reads ".gz ×3900, .png ×200, 12 others".
func typeList(types []knowledge.TypeCount, total int) string {
	var parts []string
	shown := 0
	for _, t := range types {
		ext := t.Ext
		if ext == "" {
			ext = "no extension"
		}
		parts = append(parts, fmt.Sprintf("%s ×%d", ext, t.Files))
		shown += t.Files
	}
	if rest := total - shown; rest > 0 {
		parts = append(parts, fmt.Sprintf("%d others", rest))
	}
	return strings.Join(parts, ", ")
}
