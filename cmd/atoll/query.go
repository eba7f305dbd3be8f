package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strings"

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
	// AlsoIn: other files holding the same passage.
	AlsoIn []string `json:"alsoIn,omitempty"`
}

func (e *env) search(args []string) error {
	fs := e.flags("search", "")
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
		return errUsage{"search needs --kb NAME, a QUERY and a positive --k"}
	}
	var kbs []string
	for _, name := range strings.Split(*kb, ",") {
		if name = strings.TrimSpace(name); name != "" {
			if err := validKB(name); err != nil {
				return err
			}
			kbs = append(kbs, name)
		}
	}
	st, c, err := e.open()
	if err != nil {
		return err
	}
	defer st.Close()
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
		out = append(out, searchHit{Source: h.Source, Page: h.Page, Text: h.Text, Score: h.Score, AlsoIn: h.AlsoIn})
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
		also := ""
		if len(h.AlsoIn) > 0 {
			names := make([]string, len(h.AlsoIn))
			for j, p := range h.AlsoIn {
				names[j] = safe(p)
			}
			also = "\n   also in " + strings.Join(names, ", ")
		}
		fmt.Fprintf(e.stdout, "%d. %s%s  (score %.3f)%s\n   %s\n\n", i+1, safe(h.Source), page, h.Score, also, safeText(preview(h.Text, 240)))
	}
	return nil
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
		return nil, fmt.Errorf("no document matches --source %q: atoll kb docs NAME lists a knowledge base's documents", want)
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
	fs := e.flags("ask", "")
	name := fs.String("agent", "", "agent name")
	asJSON := fs.Bool("json", false, "print one JSON object at the end instead of streaming")
	fs.BoolVar(&e.yes, "yes", false, "allow every call of your own tools (HTTP and MCP) without asking")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	q := strings.TrimSpace(strings.Join(pos, " "))
	if *name == "" || q == "" {
		return errUsage{"ask needs --agent NAME and a QUESTION"}
	}
	if err := validAgent(*name); err != nil {
		return err
	}
	def, err := e.getAgent(*name)
	if err != nil {
		return err
	}
	st, c, err := e.open()
	if err != nil {
		return err
	}
	defer st.Close()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	// Said before searching and loading, not minutes later.
	if missing, notes := modelProblems(ctx, c, def); missing {
		return errors.New(notes[0])
	} else {
		for _, n := range notes {
			if !strings.HasPrefix(n, "couldn't check") { // the answer will say why
				fmt.Fprintln(e.stderr, "warning:", n)
			}
		}
	}
	runner := e.runner(st, c)
	var onToken func(string) error
	out := &safeStream{w: e.stdout}
	if !*asJSON {
		onToken = out.write
	}
	ans, err := runner.Ask(ctx, def, "", q, onToken)
	_ = out.flush()
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
		fmt.Fprintf(e.stdout, "[%d] %s%s\n", ci.N, safe(ci.Source), page)
	}
	for _, f := range ans.Followups {
		fmt.Fprintf(e.stdout, "→ %s\n", safeText(f))
	}
	return nil
}

func (e *env) eval(args []string) error {
	fs := e.flags("eval", "")
	kb := fs.String("kb", "", "knowledge base name")
	qfile := fs.String("questions", "", "questions, one JSON object a line: {\"q\",\"doc\",\"expect\"}")
	k := fs.Int("k", 5, "passages per question")
	asJSON := fs.Bool("json", false, "print JSON")
	if pos, err := parse(fs, args); err != nil {
		return err
	} else if len(pos) > 0 {
		return errUsage{"eval takes no arguments besides its flags"}
	}
	if *kb == "" || *qfile == "" || *k <= 0 {
		return errUsage{"eval needs --kb NAME, --questions FILE and a positive --k"}
	}
	if err := validKB(*kb); err != nil {
		return err
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
