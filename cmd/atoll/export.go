package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"sort"
	"strings"

	"atoll/agent"
	"atoll/knowledge"
	"atoll/llm"
	"atoll/publish"
	"atoll/store"
)

func (e *env) export(args []string) error {
	fs := e.flags("export", "")
	name := fs.String("agent", "", "agent to export")
	out := fs.String("o", "", "bundle or Modelfile to write (replaced if it exists), or the folder for --format dify")
	format := fs.String("format", "atoll", "atoll (a bundle for atoll import), dify (a Dify app DSL and the files to upload) or modelfile (an Ollama Modelfile)")
	withSources := fs.Bool("with-sources", false, "bundle: include the original files, not only their chunks")
	withoutKnowledge := fs.Bool("without-knowledge", false, "modelfile: export an agent that has knowledge bases anyway, without them")
	if pos, err := parse(fs, args); err != nil {
		return err
	} else if len(pos) > 0 {
		return errUsage{"export takes no arguments besides its flags (the file goes after -o)"}
	}
	if *name == "" || *out == "" {
		return errUsage{"export needs --agent NAME and -o FILE"}
	}
	if err := validAgent(*name); err != nil {
		return err
	}
	if *format != "atoll" && *format != "dify" && *format != "modelfile" {
		return errUsage{fmt.Sprintf("unknown --format %q: use atoll, dify or modelfile", *format)}
	}
	st, c, err := e.open()
	if err != nil {
		return err
	}
	defer st.Close()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	repo := agent.NewRepo(filepath.Join(e.data, "agents"))
	x := &publish.Exporter{Store: st, Agents: repo, Models: c, Generator: "atoll " + version}
	switch *format {
	case "dify":
		warnings, err := x.ExportDify(ctx, *out, *name)
		if err != nil {
			return err
		}
		for _, w := range warnings {
			fmt.Fprintln(e.stderr, "note:", w)
		}
		fmt.Fprintf(e.stderr, "Wrote the Dify app for agent %q to %s: import the .yml in Dify's Studio (Import DSL file).\n", *name, *out)
		return nil
	case "modelfile":
		def, err := repo.Get(*name)
		if err != nil {
			return fmt.Errorf("agent %q does not exist: `atoll agent list` shows the agents", *name)
		}
		text, warnings, err := publish.Modelfile(def, "atoll "+version, *withoutKnowledge)
		if err != nil {
			return err
		}
		if err := store.WriteFileAtomic(*out, []byte(text), 0o644); err != nil {
			return fmt.Errorf("couldn't write %s: %w", *out, err)
		}
		for _, w := range warnings {
			fmt.Fprintln(e.stderr, "note:", w)
		}
		fmt.Fprintf(e.stderr, "Wrote %s: build the model with `ollama create NAME -f %s`.\n", *out, *out)
		return nil
	}

	// Write beside the target and rename, so a failed or cancelled export
	// never leaves a truncated bundle under the requested name.
	tmp := *out + ".part"
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return fmt.Errorf("couldn't create %s: %w", *out, err)
	}
	m, warnings, err := x.Export(ctx, f, *name, publish.ExportOptions{WithSources: *withSources})
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, *out)
	}
	if err != nil {
		os.Remove(tmp)
		return err
	}
	for _, w := range warnings {
		fmt.Fprintln(e.stderr, "warning:", w)
	}
	st2, _ := os.Stat(*out)
	var size int64
	if st2 != nil {
		size = st2.Size()
	}
	fmt.Fprintf(e.stderr, "Exported agent %q to %s (%.1f MB): ", m.Agent.Name, *out, float64(size)/1e6)
	parts := make([]string, 0, len(m.KnowledgeBases))
	for _, kb := range m.KnowledgeBases {
		parts = append(parts, fmt.Sprintf("%s: %d documents, %d chunks, %d vectors, %d source files", kb.Name, kb.Documents, kb.Chunks, kb.Vectors, kb.Sources))
	}
	if len(parts) == 0 {
		parts = append(parts, "no knowledge bases")
	}
	fmt.Fprintln(e.stderr, strings.Join(parts, "; ")+".")
	return nil
}

func (e *env) importBundle(args []string) error {
	fs := e.flags("import", "FILE.atoll [--as NAME] [--reembed [--embed-model MODEL]] [--json]")
	as := fs.String("as", "", "name for the imported agent (default: the bundle's)")
	reembed := fs.Bool("reembed", false, "drop the bundle's vectors and embed the documents on this machine")
	embedModel := fs.String("embed-model", "", "with --reembed: embedding model to use (default: the bundle's)")
	asJSON := fs.Bool("json", false, "print what was imported as JSON")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		fs.Usage()
		return errUsage{"import needs one bundle FILE"}
	}
	if *embedModel != "" && !*reembed {
		return errUsage{"--embed-model only applies with --reembed"}
	}
	f, err := os.Open(pos[0])
	if err != nil {
		return fmt.Errorf("couldn't open the bundle: %w", err)
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		return err
	}
	// Validate before opening the data folder, so a bad bundle creates nothing.
	b, err := publish.Read(f, info.Size(), publish.DefaultLimits)
	if err != nil {
		return fmt.Errorf("%s was not imported: %w", pos[0], err)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	opt := publish.ImportOptions{As: *as, Reembed: *reembed, EmbedModel: *embedModel}
	if c, err := llm.New(e.ollama); err == nil {
		if _, err := b.CheckModels(ctx, c, opt); err != nil {
			return fmt.Errorf("%s was not imported: %w", pos[0], err)
		}
	}
	st, c, err := e.open()
	if err != nil {
		return err
	}
	defer st.Close()
	t := publish.Target{Store: st, Agents: agent.NewRepo(filepath.Join(e.data, "agents")), Models: c}
	rep, err := b.Install(ctx, t, opt)
	if err != nil {
		return fmt.Errorf("%s was not imported: %s", pos[0], sentence(err))
	}
	// Re-embedding starts right away when the model is here; whatever it
	// cannot do stays pending for the next ingest.
	if *reembed {
		in := knowledge.New(st, c)
		in.Explain = llm.Sentence
		for name := range rep.Pending {
			kb, err := st.KB(name)
			if err != nil {
				continue
			}
			why, err := in.EmbedPending(ctx, kb, nil)
			if err != nil {
				return err
			}
			if n := len(kb.Pending()); n > 0 {
				rep.Pending[name] = n
				rep.Warnings = append(rep.Warnings, fmt.Sprintf("%d chunks of %q wait for vectors (searchable by keyword now): %s They are embedded on the next `atoll ingest --kb %s PATH...`.", n, name, strings.TrimSpace(why), name))
			} else {
				delete(rep.Pending, name)
			}
		}
	}
	if *asJSON {
		return writeJSON(e, rep)
	}
	for _, w := range rep.Warnings {
		fmt.Fprintln(e.stderr, "warning:", w)
	}
	names := make([]string, 0, len(rep.KnowledgeBases))
	for from, to := range rep.KnowledgeBases {
		if from == to {
			names = append(names, to)
		} else {
			names = append(names, fmt.Sprintf("%s (as %s, the name was taken)", from, to))
		}
	}
	sort.Strings(names)
	kbs := "no knowledge bases"
	if len(names) > 0 {
		kbs = "knowledge bases " + strings.Join(names, ", ")
	}
	fmt.Fprintf(e.stderr, "Imported agent %q with %s.\n", rep.Agent, kbs)
	return nil
}
