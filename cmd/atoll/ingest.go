package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"time"

	"atoll/app"
	"atoll/knowledge"
	"atoll/llm"
)

func (e *env) ingest(args []string) error {
	fs := e.flags("ingest", "--kb NAME [--embed-model MODEL] PATH...")
	kb := fs.String("kb", "", "knowledge base name (created if missing)")
	embed := fs.String("embed-model", "", "embedding model (default: the knowledge base's, else "+app.DefaultEmbedModel+")")
	paths, err := parse(fs, args)
	if err != nil {
		return err
	}
	if *kb == "" || len(paths) == 0 {
		fs.Usage()
		return errUsage{"ingest needs --kb NAME and at least one PATH"}
	}
	st, c, err := e.open()
	if err != nil {
		return err
	}
	defer st.Close()
	model := *embed
	if model == "" {
		if k, err := st.KB(*kb); err == nil && k.Meta().EmbedModel != "" {
			model = k.Meta().EmbedModel
		} else {
			model = app.DefaultEmbedModel
		}
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	in := knowledge.New(st, c)
	in.Explain = llm.Sentence
	bar := newBar(e.stderr)
	sum, err := in.Run(ctx, "cli", *kb, model, paths, bar.update)
	bar.done()
	if err != nil {
		return err
	}
	for _, f := range sum.Errors {
		fmt.Fprintf(e.stderr, "failed: %s: %s\n", f.File, f.Reason)
	}
	fmt.Fprintf(e.stderr, "%s: %d ok, %d failed, %d unchanged, %d removed; %d chunks in %.1fs\n",
		*kb, sum.OK, sum.Failed, sum.Skipped, sum.Removed, sum.Chunks, sum.Seconds)
	if sum.Ignored > 0 {
		fmt.Fprintf(e.stderr, "%d other files in the folders were left out: not a type Atoll reads (%s). Name a file explicitly to try it anyway.\n", sum.Ignored, typeList(sum.IgnoredTypes, sum.Ignored))
	}
	if sum.Pending > 0 {
		fmt.Fprintf(e.stderr, "Embeddings pending for %d chunks (searchable by keyword now; vectors are added on the next run): %s\n", sum.Pending, strings.TrimSpace(sum.PendingWhy))
	}
	if sum.Cancelled {
		fmt.Fprintln(e.stderr, "Stopped. Run the same command again to resume; finished files are kept.")
		return errSomeFailed
	}
	if sum.Failed > 0 {
		return errSomeFailed
	}
	return nil
}

// bar draws a one-line progress bar on a terminal, and nothing otherwise.
type bar struct {
	w    *os.File
	tty  bool
	last time.Time
	drew bool
}

func newBar(w any) *bar {
	f, ok := w.(*os.File)
	b := &bar{}
	if ok {
		b.w = f
		if st, err := f.Stat(); err == nil && st.Mode()&os.ModeCharDevice != 0 {
			b.tty = true
		}
	}
	return b
}

func (b *bar) update(p knowledge.Progress) {
	if !b.tty {
		return
	}
	frac := 0.0
	label := ""
	if p.Phase == "embedding" && p.ToEmbed > 0 {
		frac = float64(p.Embedded) / float64(p.ToEmbed)
		label = fmt.Sprintf("embedding %d/%d chunks", p.Embedded, p.ToEmbed)
	} else {
		if p.Bytes > 0 {
			frac = float64(p.BytesDone) / float64(p.Bytes)
		}
		name := filepath.Base(p.Current)
		if p.FilePages > 0 { // before the name, which the line may cut
			name = fmt.Sprintf("p. %d/%d of %s", p.FilePage, p.FilePages, name)
		}
		label = fmt.Sprintf("%d/%d files, %d chunks, %.1f MB/s, %s left  %s", p.FilesDone, p.Files, p.Chunks, p.Rate/1e6, eta(p.ETASeconds), name)
	}
	n := int(frac * 24)
	n = max(0, min(24, n))
	line := fmt.Sprintf("\r[%s%s] %3.0f%% %s", strings.Repeat("#", n), strings.Repeat(".", 24-n), frac*100, label)
	if len(line) > 110 {
		line = line[:110]
	}
	fmt.Fprintf(b.w, "%-110s", line)
	b.drew = true
}

func (b *bar) done() {
	if b.drew {
		fmt.Fprint(b.w, "\r"+strings.Repeat(" ", 110)+"\r")
	}
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
