package main

import (
	"errors"
	"fmt"
	"text/tabwriter"
	"time"

	"atoll/store"
)

// validKB checks a knowledge base name before anything is opened: a name
// that can never exist is a usage error (exit 2), not a failure.
func validKB(name string) error {
	if err := store.ValidName(name); err != nil {
		return errUsage{"knowledge base " + safe(err.Error())}
	}
	return nil
}

func (e *env) kbList(args []string) error {
	fs := e.flags("kb list", "")
	asJSON := fs.Bool("json", false, "print JSON")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return errUsage{"kb list takes no arguments; atoll kb docs NAME lists one knowledge base's documents"}
	}
	st, err := e.openStore()
	if err != nil {
		return err
	}
	defer st.Close()
	type row struct {
		Name       string `json:"name"`
		EmbedModel string `json:"embedModel"`
		Docs       int    `json:"docs"`
		Failed     int    `json:"failed"`
		Chunks     int    `json:"chunks"`
		Pending    int    `json:"pending"`
		Bytes      int64  `json:"bytes"`
	}
	metas, err := st.List()
	if err != nil {
		return err
	}
	rows := []row{}
	for _, m := range metas {
		kb, err := st.KB(m.Name)
		if err != nil {
			continue
		}
		r := row{Name: m.Name, EmbedModel: m.EmbedModel, Chunks: kb.ChunkCount(), Pending: len(kb.Pending())}
		for _, d := range kb.Docs() {
			r.Docs++
			r.Bytes += d.Size
			if d.Status != store.StatusOK {
				r.Failed++
			}
		}
		rows = append(rows, r)
	}
	if *asJSON {
		return writeJSON(e, rows)
	}
	if len(rows) == 0 {
		fmt.Fprintln(e.stdout, "No knowledge bases yet. Create one with: atoll ingest --kb NAME PATH...")
		return nil
	}
	tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tDOCS\tFAILED\tCHUNKS\tPENDING\tSIZE\tEMBEDDING MODEL")
	for _, r := range rows {
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%d\t%.1f MB\t%s\n", safe(r.Name), r.Docs, r.Failed, r.Chunks, r.Pending, float64(r.Bytes)/1e6, safe(r.EmbedModel))
	}
	return tw.Flush()
}

// docRow is the contract of `atoll kb docs --json`.
type docRow struct {
	Path     string    `json:"path"`
	Format   string    `json:"format"`
	Status   string    `json:"status"` // "ok" or "failed"
	Error    string    `json:"error,omitempty"`
	Pages    int       `json:"pages"`
	Passages int       `json:"passages"`
	Pending  int       `json:"pending"` // passages still waiting for their embedding
	Bytes    int64     `json:"bytes"`
	Ingested time.Time `json:"ingested"`
}

// openNamedKB opens the store for a command that takes one knowledge base
// NAME, and the base, with a sentence when there is none by that name.
func (e *env) openNamedKB(cmd string, pos []string) (*store.Store, *store.KB, error) {
	if len(pos) != 1 {
		return nil, nil, errUsage{cmd + " needs one knowledge base NAME"}
	}
	if err := validKB(pos[0]); err != nil {
		return nil, nil, err
	}
	st, err := e.openStore()
	if err != nil {
		return nil, nil, err
	}
	kb, err := st.KB(pos[0])
	if err != nil {
		st.Close()
		if errors.Is(err, store.ErrNotFound) {
			err = fmt.Errorf("knowledge base %q does not exist: `atoll kb list` shows the ones there are", pos[0])
		}
		return nil, nil, err
	}
	return st, kb, nil
}

func (e *env) kbDocs(args []string) error {
	fs := e.flags("kb docs", "")
	asJSON := fs.Bool("json", false, "print a JSON array")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	st, kb, err := e.openNamedKB("kb docs", pos)
	if err != nil {
		return err
	}
	defer st.Close()
	pending := map[string]bool{}
	for _, c := range kb.Pending() {
		pending[c.Key] = true
	}
	rows := []docRow{}
	for _, d := range kb.Docs() {
		r := docRow{Path: d.Path, Format: d.Format, Status: d.Status, Error: d.Error, Pages: d.Pages, Bytes: d.Size, Ingested: d.Ingested}
		if full, ok := kb.Doc(d.Path); ok {
			r.Passages = len(full.Chunks)
			for _, c := range full.Chunks {
				if pending[c.Key] {
					r.Pending++
				}
			}
		}
		rows = append(rows, r)
	}
	if *asJSON {
		return writeJSON(e, rows)
	}
	if len(rows) == 0 {
		fmt.Fprintf(e.stdout, "%s has no documents yet. Add some with: atoll ingest --kb %s PATH...\n", safe(pos[0]), safe(pos[0]))
		return nil
	}
	tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "STATUS\tPAGES\tPASSAGES\tPENDING\tSIZE\tPATH")
	for _, r := range rows {
		pages := "-"
		if r.Pages > 0 {
			pages = fmt.Sprint(r.Pages)
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%.1f KB\t%s\n", r.Status, pages, r.Passages, r.Pending, float64(r.Bytes)/1e3, safe(r.Path))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	for _, r := range rows {
		if r.Error != "" {
			fmt.Fprintf(e.stdout, "failed: %s: %s\n", safe(r.Path), safeText(r.Error))
		}
	}
	return nil
}

func (e *env) kbRm(args []string) error {
	fs := e.flags("kb rm", "")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return errUsage{"kb rm needs one knowledge base NAME"}
	}
	if err := validKB(pos[0]); err != nil {
		return err
	}
	st, err := e.openStore()
	if err != nil {
		return err
	}
	defer st.Close()
	if err := st.Remove(pos[0]); err != nil {
		return err
	}
	fmt.Fprintf(e.stderr, "Removed knowledge base %q.\n", pos[0])
	return nil
}
