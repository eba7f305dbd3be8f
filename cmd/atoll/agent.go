package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"atoll/agent"
	"atoll/llm"
	"atoll/store"
)

func (e *env) agents() *agent.Repo { return agent.NewRepo(filepath.Join(e.data, "agents")) }

// validAgent checks an agent name before anything is opened (exit 2).
func validAgent(name string) error {
	if err := agent.ValidName(name); err != nil {
		return errUsage{safe(err.Error())}
	}
	return nil
}

// getAgent loads an agent, saying in CLI terms how to make one.
func (e *env) getAgent(name string) (agent.Definition, error) {
	def, err := e.agents().Get(name)
	if errors.Is(err, agent.ErrNotFound) {
		return def, fmt.Errorf("agent %q does not exist: atoll agent list shows the agents, atoll agent create makes one", name)
	}
	return def, err
}

func (e *env) agentCreate(args []string) error {
	fs := e.flags("agent create", "")
	kbs := fs.String("kb", "", "knowledge bases, comma-separated")
	model := fs.String("model", "", "chat model")
	system := fs.String("system", "", "system prompt")
	tools := fs.String("tools", "", "tools, comma-separated: "+strings.Join(agent.KnownTools, ", ")+` ("none" removes them)`)
	leadForm := fs.String("lead-form", "", `lead form, a JSON file {"fields": [{"name", "label", "type": text|phone|email|date|number, "required"}]} ("none" removes it)`)
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 || *model == "" {
		return errUsage{"agent create needs NAME and --model MODEL"}
	}
	if err := validAgent(pos[0]); err != nil {
		return err
	}
	st, c, err := e.open()
	if err != nil {
		return err
	}
	defer st.Close()
	list, err := existingKBs(st, *kbs)
	if err != nil {
		return err
	}
	repo := e.agents()
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
			return fmt.Errorf("couldn't read the lead form: %w", err)
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
	e.warnModel(c, saved)
	return nil
}

// modelProblems says, before any time is spent, what will go wrong with
// def's model: not installed (missing), unable to call the tools the agent
// needs, or not a chat model. Ollama unreachable is a note, not a verdict.
func modelProblems(ctx context.Context, c *llm.Client, def agent.Definition) (missing bool, notes []string) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	info, err := c.Show(ctx, def.Model)
	if errors.Is(err, llm.ErrModelNotFound) {
		return true, []string{fmt.Sprintf("%s is not installed in Ollama at %s: get it with `atoll pull %s` (atoll models lists the installed ones).", safe(def.Model), c.URL(), safe(def.Model))}
	}
	if err != nil {
		return false, []string{"couldn't check the model: " + llm.Sentence(err)}
	}
	if info.Has(llm.CapEmbedding) && !info.Has(llm.CapCompletion) {
		return false, []string{fmt.Sprintf("%s is an embedding model: it cannot answer questions. Choose a chat model (atoll models lists them).", safe(def.Model))}
	}
	tools := def.EnabledTools()
	if len(tools) == 0 || info.Has(llm.CapTools) {
		return false, nil
	}
	instead := "it will answer without them"
	if len(def.KBs) > 0 {
		instead = "it will search its knowledge bases before every answer and answer from them only"
	}
	if def.LeadForm != nil {
		instead += ", and it will never save a lead from its lead form"
	}
	note := fmt.Sprintf("%s cannot call tools, so this agent's tools (%s) will not be used: %s.", safe(def.Model), strings.Join(tools, ", "), instead)
	var able []string
	if ms, err := c.List(ctx); err == nil {
		for _, m := range ms {
			if m.Has(llm.CapTools) {
				able = append(able, safe(m.Name))
			}
		}
	}
	if len(able) > 0 {
		note += fmt.Sprintf(" Installed models that can: %s (atoll agent create %q --model MODEL switches).", strings.Join(able, ", "), def.Name)
	} else {
		note += " No installed model can: `atoll pull qwen2.5:7b` gets one that can."
	}
	return false, []string{note}
}

// warnModel prints modelProblems as warnings: the agent is saved anyway.
func (e *env) warnModel(c *llm.Client, def agent.Definition) {
	_, notes := modelProblems(context.Background(), c, def)
	for _, n := range notes {
		fmt.Fprintln(e.stderr, "warning:", n)
	}
}

func (e *env) agentList(args []string) error {
	fs := e.flags("agent list", "")
	asJSON := fs.Bool("json", false, "print JSON")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return errUsage{"agent list takes no arguments"}
	}
	defs, err := e.agents().List()
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
		kbs := make([]string, len(d.KBs))
		for i, k := range d.KBs {
			kbs[i] = safe(k)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\n", safe(d.Name), safe(d.Model), strings.Join(kbs, ","), d.Version)
	}
	return tw.Flush()
}

// oneAgent parses the flags of a subcommand that takes one agent NAME.
func (e *env) oneAgent(name string, args []string) (string, error) {
	fs := e.flags(name, "")
	pos, err := parse(fs, args)
	if err != nil {
		return "", err
	}
	if len(pos) != 1 {
		return "", errUsage{name + " needs one agent NAME"}
	}
	return pos[0], validAgent(pos[0])
}

func (e *env) agentVersions(args []string) error {
	name, err := e.oneAgent("agent versions", args)
	if err != nil {
		return err
	}
	repo := e.agents()
	vs, err := repo.Versions(name)
	if err != nil {
		_, err = e.getAgent(name)
		return err
	}
	for i := len(vs) - 1; i >= 0; i-- {
		if d, err := repo.GetVersion(name, vs[i]); err == nil {
			fmt.Fprintf(e.stdout, "v%d  %s  %s  %s\n", d.Version, d.Updated.Local().Format("2006-01-02 15:04"), safe(d.Model), safeText(preview(d.System, 60)))
		}
	}
	return nil
}

func (e *env) agentRm(args []string) error {
	name, err := e.oneAgent("agent rm", args)
	if err != nil {
		return err
	}
	repo := e.agents()
	vs, err := repo.Versions(name)
	if err != nil {
		_, err = e.getAgent(name)
		return err
	}
	if err := repo.Delete(name); err != nil {
		return err
	}
	fmt.Fprintf(e.stderr, "Removed agent %q and its %d versions; its leads and conversations stay in %s.\n", name, len(vs), e.data)
	return nil
}

func (e *env) agentRestore(args []string) error {
	fs := e.flags("agent restore", "")
	v := fs.Int("version", 0, "the version to make current again")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 || *v <= 0 {
		return errUsage{"agent restore needs NAME and --version N (atoll agent versions NAME lists them)"}
	}
	if err := validAgent(pos[0]); err != nil {
		return err
	}
	repo := e.agents()
	d, err := repo.GetVersion(pos[0], *v)
	if err != nil {
		if _, err := e.getAgent(pos[0]); err != nil {
			return err
		}
		return fmt.Errorf("agent %q has no version %d: atoll agent versions %s lists them", pos[0], *v, pos[0])
	}
	saved, err := repo.Save(d)
	if err != nil {
		return err
	}
	fmt.Fprintf(e.stderr, "Restored version %d of %q as version %d.\n", *v, pos[0], saved.Version)
	return nil
}

func (e *env) agentTest(args []string) error {
	fs := e.flags("agent test", "")
	qfile := fs.String("questions", "", `test set, one JSON object a line: {"q", "source", "must": [..], "must_not": [..]}`)
	asJSON := fs.Bool("json", false, "print the run as JSON")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 || *qfile == "" {
		return errUsage{"agent test needs NAME and --questions FILE"}
	}
	if err := validAgent(pos[0]); err != nil {
		return err
	}
	raw, err := os.ReadFile(*qfile)
	if err != nil {
		return fmt.Errorf("couldn't read the questions: %w", err)
	}
	qs, err := agent.ParseTestSet(bytes.NewReader(raw))
	if err != nil {
		return fmt.Errorf("%s: %w", *qfile, err)
	}
	def, err := e.getAgent(pos[0])
	if err != nil {
		return err
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
	if missing, notes := modelProblems(ctx, c, def); missing {
		return errors.New(notes[0])
	} else {
		for _, n := range notes {
			fmt.Fprintln(e.stderr, "warning:", n)
		}
	}
	tty := isTerminal(e.stderr)
	runs := agent.NewTestRuns(filepath.Join(e.data, "agents"))
	run, err := runs.Run(ctx, e.runner(st, c), def, qs, func(done, total int) {
		switch {
		case *asJSON:
		case tty: // one line, redrawn
			fmt.Fprintf(e.stderr, "\r%d/%d questions", done, total)
		default:
			fmt.Fprintf(e.stderr, "%d/%d questions\n", done, total)
		}
	})
	if tty && !*asJSON {
		fmt.Fprint(e.stderr, "\r\033[K")
	}
	if err != nil {
		return err
	}
	if *asJSON {
		return writeJSON(e, run)
	}
	for i, r := range run.Results {
		fmt.Fprintf(e.stdout, "%d. %s\n   retrieval %s  answer %s  %s\n", i+1, safeText(r.Q), orDash(r.Retrieval), orDash(r.AnswerOK), r.Change)
		if r.Error != "" {
			fmt.Fprintf(e.stdout, "   error: %s\n", safeText(r.Error))
		}
		if len(r.Missing) > 0 {
			fmt.Fprintf(e.stdout, "   missing: %s\n", safeText(strings.Join(r.Missing, "; ")))
		}
		if len(r.Forbidden) > 0 {
			fmt.Fprintf(e.stdout, "   should not say: %s\n", safeText(strings.Join(r.Forbidden, "; ")))
		}
		if len(r.ToolsMissing) > 0 {
			fmt.Fprintf(e.stdout, "   tools not called: %s\n", safeText(strings.Join(r.ToolsMissing, ", ")))
		}
		if len(r.ToolsForbidden) > 0 {
			fmt.Fprintf(e.stdout, "   tools called that should not be: %s\n", safeText(strings.Join(r.ToolsForbidden, ", ")))
		}
		if r.Retrieval == "fail" {
			from := safe(strings.Join(r.Sources, ", "))
			if from == "" {
				from = "(no passage)"
			}
			fmt.Fprintf(e.stdout, "   passages from: %s\n", from)
		}
	}
	fmt.Fprintf(e.stdout, "\n%s version %d: retrieval %d/%d, answers %d/%d", run.Agent, run.Version, run.RetrievalPassed, run.RetrievalTotal, run.AnswerPassed, run.AnswerTotal)
	if run.Previous != "" {
		fmt.Fprintf(e.stdout, "; since the run of %s: %d better, %d worse", runTime(run.Previous), run.Better, run.Worse)
	}
	fmt.Fprintln(e.stdout)
	return nil
}

// runTime shows a test run id (a UTC time, 20261130T155728.566662508Z, with
// "-1" added when the clock went back) in local time.
func runTime(id string) string {
	base, _, _ := strings.Cut(id, "-")
	t, err := time.Parse("20060102T150405.000000000Z", base)
	if err != nil {
		return id
	}
	return t.Local().Format("2006-01-02 15:04:05")
}

// existingKBs splits a comma-separated --kb list and checks each exists.
func existingKBs(st *store.Store, csv string) ([]string, error) {
	var list []string
	for _, k := range strings.Split(csv, ",") {
		if k = strings.TrimSpace(k); k != "" {
			if err := validKB(k); err != nil {
				return nil, err
			}
			if _, err := st.KB(k); err != nil {
				return nil, fmt.Errorf("knowledge base %q does not exist: create it with atoll ingest --kb %s PATH", k, k)
			}
			list = append(list, k)
		}
	}
	return list, nil
}
