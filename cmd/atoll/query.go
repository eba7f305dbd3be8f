package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"text/tabwriter"

	"atoll/agent"
	"atoll/rag"
	"atoll/store"
)

// searchHit is the JSON contract of `atoll search --json`.
type searchHit struct {
	Source string  `json:"source"`
	Page   int     `json:"page"`
	Text   string  `json:"text"`
	Score  float64 `json:"score"`
}

func (e *env) search(args []string) error {
	fs := e.flags("search", "--kb NAME[,NAME...] [--source FILE] [--k N] [--json] QUERY")
	kb := fs.String("kb", "", "knowledge base name, or several separated by commas")
	source := fs.String("source", "", "only passages from this file (its path, or a path suffix such as its name)")
	k := fs.Int("k", 5, "number of passages")
	asJSON := fs.Bool("json", false, "print a JSON array")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	query := strings.TrimSpace(strings.Join(pos, " "))
	if *kb == "" || query == "" || *k <= 0 {
		fs.Usage()
		return errUsage{"search needs --kb NAME, a QUERY and a positive --k"}
	}
	st, c, err := e.open()
	if err != nil {
		return err
	}
	defer st.Close()
	var kbs []string
	for _, name := range strings.Split(*kb, ",") {
		if name = strings.TrimSpace(name); name != "" {
			kbs = append(kbs, name)
		}
	}
	var sources []string
	if *source != "" {
		if sources, err = matchSources(st, kbs, *source); err != nil {
			return err
		}
	}
	hits, err := e.searcher(st, c).Search(context.Background(), kbs, query, *k, sources)
	if err != nil {
		return err
	}
	out := make([]searchHit, 0, len(hits))
	for _, h := range hits {
		out = append(out, searchHit{Source: h.Source, Page: h.Page, Text: h.Text, Score: h.Score})
	}
	if *asJSON {
		return writeJSON(e, out)
	}
	if len(out) == 0 {
		fmt.Fprintln(e.stdout, "No passage matches.")
	}
	for i, h := range out {
		page := ""
		if h.Page > 0 {
			page = fmt.Sprintf(" p.%d", h.Page)
		}
		fmt.Fprintf(e.stdout, "%d. %s%s  (score %.3f)\n   %s\n\n", i+1, h.Source, page, h.Score, preview(h.Text, 240))
	}
	return nil
}

// existingKBs splits a comma-separated --kb list and checks each exists.
func existingKBs(st *store.Store, csv string) ([]string, error) {
	var list []string
	for _, k := range strings.Split(csv, ",") {
		if k = strings.TrimSpace(k); k != "" {
			if _, err := st.KB(k); err != nil {
				return nil, fmt.Errorf("knowledge base %q does not exist: create it with atoll ingest --kb %s PATH", k, k)
			}
			list = append(list, k)
		}
	}
	return list, nil
}

// matchSources resolves --source to the stored paths it names.
func matchSources(st *store.Store, kbs []string, want string) ([]string, error) {
	var out []string
	for _, name := range kbs {
		kb, err := st.KB(name)
		if err != nil {
			return nil, err
		}
		for _, d := range kb.Docs() {
			if d.Path == want || strings.HasSuffix(d.Path, string(filepath.Separator)+want) {
				out = append(out, d.Path)
			}
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no document matches --source %q; `atoll kb list` shows the knowledge bases and the Knowledge screen their documents", want)
	}
	return out, nil
}

func preview(s string, n int) string {
	s = strings.Join(strings.Fields(s), " ")
	r := []rune(s)
	if len(r) > n {
		return string(r[:n]) + "…"
	}
	return s
}

func writeJSON(e *env, v any) error {
	enc := json.NewEncoder(e.stdout)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

func (e *env) kb(args []string) error {
	if len(args) == 0 {
		return errUsage{"kb needs a subcommand: list or rm"}
	}
	st, _, err := e.open()
	if err != nil {
		return err
	}
	defer st.Close()
	switch args[0] {
	case "list":
		fs := e.flags("kb list", "[--json]")
		asJSON := fs.Bool("json", false, "print JSON")
		if _, err := parse(fs, args[1:]); err != nil {
			return err
		}
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
				if d.Status != "ok" {
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
			fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%d\t%.1f MB\t%s\n", r.Name, r.Docs, r.Failed, r.Chunks, r.Pending, float64(r.Bytes)/1e6, r.EmbedModel)
		}
		return tw.Flush()
	case "rm":
		if len(args) != 2 {
			return errUsage{"usage: atoll kb rm NAME"}
		}
		if err := st.Remove(args[1]); err != nil {
			return err
		}
		fmt.Fprintf(e.stderr, "Removed knowledge base %q.\n", args[1])
		return nil
	}
	return errUsage{fmt.Sprintf("unknown kb subcommand %q (list, rm)", args[0])}
}

func (e *env) agentCmd(args []string) error {
	if len(args) == 0 {
		return errUsage{"agent needs a subcommand: new, create, list, versions, restore or test"}
	}
	if args[0] == "new" {
		return e.agentNew(args[1:])
	}
	repo := agent.NewRepo(filepath.Join(e.data, "agents"))
	switch args[0] {
	case "versions":
		if len(args) != 2 {
			return errUsage{"usage: atoll agent versions NAME"}
		}
		vs, err := repo.Versions(args[1])
		if err != nil {
			return err
		}
		for i := len(vs) - 1; i >= 0; i-- {
			if d, err := repo.GetVersion(args[1], vs[i]); err == nil {
				fmt.Fprintf(e.stdout, "v%d  %s  %s  %s\n", d.Version, d.Updated.Local().Format("2006-01-02 15:04"), d.Model, preview(d.System, 60))
			}
		}
		return nil
	case "restore":
		fs := e.flags("agent restore", "NAME --version N")
		v := fs.Int("version", 0, "the version to make current again")
		pos, err := parse(fs, args[1:])
		if err != nil {
			return err
		}
		if len(pos) != 1 || *v <= 0 {
			return errUsage{"usage: atoll agent restore NAME --version N"}
		}
		d, err := repo.GetVersion(pos[0], *v)
		if err != nil {
			return err
		}
		saved, err := repo.Save(d)
		if err != nil {
			return err
		}
		fmt.Fprintf(e.stderr, "Restored version %d of %q as version %d.\n", *v, pos[0], saved.Version)
		return nil
	case "create":
		fs := e.flags("agent create", "NAME --kb KB[,KB...] --model MODEL [--system TEXT] [--tools LIST] [--lead-form FILE.json]")
		kbs := fs.String("kb", "", "knowledge bases, comma-separated")
		model := fs.String("model", "", "chat model")
		system := fs.String("system", "", "system prompt")
		tools := fs.String("tools", "", "tools, comma-separated: "+strings.Join(agent.KnownTools, ", ")+` ("none" removes them)`)
		leadForm := fs.String("lead-form", "", `lead form, a JSON file {"fields": [{"name", "label", "type": text|phone|email|date|number, "required"}]} ("none" removes it)`)
		pos, err := parse(fs, args[1:])
		if err != nil {
			return err
		}
		if len(pos) != 1 || *model == "" {
			fs.Usage()
			return errUsage{"agent create needs NAME and --model MODEL"}
		}
		st, _, err := e.open()
		if err != nil {
			return err
		}
		defer st.Close()
		list, err := existingKBs(st, *kbs)
		if err != nil {
			return err
		}
		d := agent.Definition{Name: pos[0], System: *system, Model: *model, KBs: list, Temperature: 0.2, Followups: true}
		if old, err := repo.Get(pos[0]); err == nil {
			d = old
			d.Model, d.KBs = *model, list
			if *system != "" {
				d.System = *system
			}
		}
		switch *tools {
		case "":
		case "none":
			d.Tools = nil
		default:
			d.Tools = nil
			for _, t := range strings.Split(*tools, ",") {
				if t = strings.TrimSpace(t); t != "" {
					d.Tools = append(d.Tools, t)
				}
			}
		}
		switch *leadForm {
		case "":
		case "none":
			d.LeadForm = nil
		default:
			b, err := os.ReadFile(*leadForm)
			if err != nil {
				return err
			}
			var f agent.LeadForm
			if err := json.Unmarshal(b, &f); err != nil {
				return fmt.Errorf("the lead form %s is not valid JSON: %v", *leadForm, err)
			}
			d.LeadForm = &f
		}
		saved, err := repo.Save(d)
		if err != nil {
			return err
		}
		fmt.Fprintf(e.stderr, "Saved agent %q (version %d).\n", saved.Name, saved.Version)
		return nil
	case "list":
		fs := e.flags("agent list", "[--json]")
		asJSON := fs.Bool("json", false, "print JSON")
		if _, err := parse(fs, args[1:]); err != nil {
			return err
		}
		defs, err := repo.List()
		if err != nil {
			return err
		}
		if *asJSON {
			return writeJSON(e, defs)
		}
		if len(defs) == 0 {
			fmt.Fprintln(e.stdout, "No agents yet. Create one with: atoll agent create NAME --kb KB --model MODEL")
			return nil
		}
		tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "NAME\tMODEL\tKNOWLEDGE\tVERSION")
		for _, d := range defs {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%d\n", d.Name, d.Model, strings.Join(d.KBs, ","), d.Version)
		}
		return tw.Flush()
	case "test":
		return e.agentTest(repo, args[1:])
	}
	return errUsage{fmt.Sprintf("unknown agent subcommand %q (create, list, test)", args[0])}
}

func (e *env) agentTest(repo *agent.Repo, args []string) error {
	fs := e.flags("agent test", "NAME --questions FILE.jsonl [--json]")
	qfile := fs.String("questions", "", `test set, one JSON object a line: {"q", "source", "must": [..], "must_not": [..]}`)
	asJSON := fs.Bool("json", false, "print the run as JSON")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 || *qfile == "" {
		fs.Usage()
		return errUsage{"agent test needs NAME and --questions FILE"}
	}
	raw, err := os.ReadFile(*qfile)
	if err != nil {
		return err
	}
	qs, err := agent.ParseTestSet(bytes.NewReader(raw))
	if err != nil {
		return fmt.Errorf("%s: %w", *qfile, err)
	}
	def, err := repo.Get(pos[0])
	if err != nil {
		return fmt.Errorf("agent %q does not exist: create it with atoll agent create", pos[0])
	}
	// These questions become the agent's test set: publishing runs them first.
	if err := agent.SaveTestSet(filepath.Join(e.data, "agents"), def.Name, raw); err != nil {
		return err
	}
	st, c, err := e.open()
	if err != nil {
		return err
	}
	defer st.Close()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	runs := agent.NewTestRuns(filepath.Join(e.data, "agents"))
	run, err := runs.Run(ctx, e.runner(st, c), def, qs, func(done, total int) {
		if !*asJSON {
			fmt.Fprintf(e.stderr, "\r%d/%d questions", done, total)
		}
	})
	if !*asJSON {
		fmt.Fprintln(e.stderr)
	}
	if err != nil {
		return err
	}
	if *asJSON {
		return writeJSON(e, run)
	}
	for i, r := range run.Results {
		fmt.Fprintf(e.stdout, "%d. %s\n   retrieval %s  answer %s  %s\n", i+1, r.Q, orDash(r.Retrieval), orDash(r.AnswerOK), r.Change)
		if r.Error != "" {
			fmt.Fprintf(e.stdout, "   error: %s\n", r.Error)
		}
		if len(r.Missing) > 0 {
			fmt.Fprintf(e.stdout, "   missing: %s\n", strings.Join(r.Missing, "; "))
		}
		if len(r.Forbidden) > 0 {
			fmt.Fprintf(e.stdout, "   should not say: %s\n", strings.Join(r.Forbidden, "; "))
		}
		if r.Retrieval == "fail" {
			from := strings.Join(r.Sources, ", ")
			if from == "" {
				from = "(no passage)"
			}
			fmt.Fprintf(e.stdout, "   passages from: %s\n", from)
		}
	}
	fmt.Fprintf(e.stdout, "\n%s version %d: retrieval %d/%d, answers %d/%d", run.Agent, run.Version, run.RetrievalPassed, run.RetrievalTotal, run.AnswerPassed, run.AnswerTotal)
	if run.Previous != "" {
		fmt.Fprintf(e.stdout, "; since run %s: %d better, %d worse", run.Previous, run.Better, run.Worse)
	}
	fmt.Fprintln(e.stdout)
	return nil
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// askJSON is the contract of `atoll ask --json`.
type askJSON struct {
	Answer    string           `json:"answer"`
	Citations []agent.Citation `json:"citations"`
	Followups []string         `json:"followups"`
}

func (e *env) ask(args []string) error {
	fs := e.flags("ask", "--agent NAME [--json] QUESTION")
	name := fs.String("agent", "", "agent name")
	asJSON := fs.Bool("json", false, "print one JSON object at the end instead of streaming")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	q := strings.TrimSpace(strings.Join(pos, " "))
	if *name == "" || q == "" {
		fs.Usage()
		return errUsage{"ask needs --agent NAME and a QUESTION"}
	}
	st, c, err := e.open()
	if err != nil {
		return err
	}
	defer st.Close()
	def, err := agent.NewRepo(filepath.Join(e.data, "agents")).Get(*name)
	if err != nil {
		return fmt.Errorf("agent %q does not exist: create it with atoll agent create", *name)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	runner := e.runner(st, c)
	var onToken func(string) error
	if !*asJSON {
		onToken = func(s string) error { _, err := fmt.Fprint(e.stdout, s); return err }
	}
	ans, err := runner.Ask(ctx, def, "", q, onToken)
	if err != nil {
		if !*asJSON && ans.Answer != "" {
			fmt.Fprintln(e.stdout)
		}
		return err
	}
	if *asJSON {
		return writeJSON(e, askJSON{Answer: ans.Answer, Citations: ans.Citations, Followups: ans.Followups})
	}
	fmt.Fprintln(e.stdout)
	if ans.Dropped > 0 {
		fmt.Fprintf(e.stderr, "note: %d passages did not fit the model's context and were left out\n", ans.Dropped)
	}
	for _, ci := range ans.Citations {
		if !ci.Used {
			continue
		}
		page := ""
		if ci.Page > 0 {
			page = fmt.Sprintf(", page %d", ci.Page)
		}
		fmt.Fprintf(e.stdout, "[%d] %s%s\n", ci.N, ci.Source, page)
	}
	for _, f := range ans.Followups {
		fmt.Fprintf(e.stdout, "→ %s\n", f)
	}
	return nil
}

func (e *env) eval(args []string) error {
	fs := e.flags("eval", "--kb NAME --questions FILE.jsonl [--k 5] [--json]")
	kb := fs.String("kb", "", "knowledge base name")
	qfile := fs.String("questions", "", "questions, one JSON object a line: {\"q\",\"doc\",\"expect\"}")
	k := fs.Int("k", 5, "passages per question")
	asJSON := fs.Bool("json", false, "print JSON")
	if _, err := parse(fs, args); err != nil {
		return err
	}
	if *kb == "" || *qfile == "" || *k <= 0 {
		fs.Usage()
		return errUsage{"eval needs --kb NAME and --questions FILE"}
	}
	qs, err := rag.LoadQuestions(*qfile)
	if err != nil {
		return err
	}
	st, c, err := e.open()
	if err != nil {
		return err
	}
	defer st.Close()
	s := e.searcher(st, c)
	if _, err := st.KB(*kb); err != nil {
		return err
	}
	res := rag.Evaluate(qs, *k, func(q string, k int) []rag.Hit {
		hits, _ := s.Search(context.Background(), []string{*kb}, q, k, nil)
		return hits
	})
	if *asJSON {
		return writeJSON(e, res)
	}
	fmt.Fprintf(e.stdout, "questions %d  hit@1 %.3f  hit@%d %.3f  MRR@%d %.3f\n", res.N, res.HitAt1, res.K, res.HitAtK, res.K, res.MRR)
	for _, m := range res.Misses {
		b, _ := json.Marshal(m)
		fmt.Fprintf(e.stdout, "miss: %s\n", b)
	}
	return nil
}
