package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"atoll/agent"
)

// agentNew drafts an agent from one sentence with the local model, shows the
// draft, and saves it after the user agrees (or at once with --yes).
func (e *env) agentNew(args []string) error {
	fs := e.flags("agent new", "")
	kbs := fs.String("kb", "", "knowledge bases the agent answers from, comma-separated")
	model := fs.String("model", "", "chat model that drafts the agent and that it will use (default: the first installed)")
	yes := fs.Bool("yes", false, "save without asking (for scripts)")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	sentence := strings.TrimSpace(strings.Join(pos, " "))
	if sentence == "" {
		return errUsage{`agent new needs a sentence, e.g. "a customer-service agent for my bakery that takes cake orders"`}
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
	ctx := context.Background()
	if *model != "" {
		// Drafting needs the model too: say so before anything else.
		if missing, notes := modelProblems(ctx, c, agent.Definition{Model: *model}); missing {
			return errors.New(notes[0])
		}
	} else {
		ms, err := c.List(ctx)
		if err != nil {
			return err
		}
		for _, m := range ms {
			if !m.Has("embedding") || m.Has("completion") {
				*model = m.Name
				break
			}
		}
		if *model == "" {
			return fmt.Errorf("no chat model is installed: run `atoll pull qwen2.5:7b` (or another) and try again")
		}
	}
	fmt.Fprintf(e.stderr, "Drafting with %s…\n", safe(*model))
	d, err := agent.DraftFromSentence(ctx, c, *model, sentence, list)
	if err != nil {
		return err
	}
	if d.Note != "" {
		fmt.Fprintln(e.stderr, "note:", safeText(d.Note))
	}
	printDraft(e.stdout, d.Agent)
	// Before saving: a draft with a lead form on a model that cannot call
	// tools would never save a lead.
	if _, notes := modelProblems(ctx, c, d.Agent); len(notes) > 0 {
		for _, n := range notes {
			fmt.Fprintln(e.stderr, "warning:", n)
		}
	}
	repo := agent.NewRepo(filepath.Join(e.data, "agents"))
	if _, err := repo.Get(d.Agent.Name); err == nil {
		return fmt.Errorf("an agent called %q exists already; edit it with atoll agent create, or draft again", d.Agent.Name)
	}
	if !*yes {
		fmt.Fprint(e.stderr, "Save this agent? [y/N] ")
		line, _ := bufio.NewReader(os.Stdin).ReadString('\n')
		if a := strings.ToLower(strings.TrimSpace(line)); a != "y" && a != "yes" {
			fmt.Fprintln(e.stderr, "Not saved. Change the sentence and draft again, or save with --yes and edit it in the window.")
			return nil
		}
	}
	saved, err := repo.Save(d.Agent)
	if err != nil {
		return err
	}
	fmt.Fprintf(e.stderr, "Saved agent %q (version %d).\n", saved.Name, saved.Version)
	return nil
}

func printDraft(w io.Writer, d agent.Definition) {
	// Everything here is model output: printed through safe and safeText.
	fmt.Fprintf(w, "Name:        %s\nDescription: %s\nLanguage:    %s\nModel:       %s\nKnowledge:   %s\n", safe(d.Name), safe(d.Description), safe(d.Language), safe(d.Model), safe(strings.Join(d.KBs, ", ")))
	fmt.Fprintf(w, "Instructions:\n  %s\nOpening:     %s\nStarters:\n", strings.ReplaceAll(safeText(d.System), "\n", "\n  "), safe(d.Opening))
	for _, s := range d.Starters {
		fmt.Fprintf(w, "  - %s\n", safe(s))
	}
	if d.LeadForm != nil {
		fmt.Fprintln(w, "Lead form:")
		for _, f := range d.LeadForm.Fields {
			req := ""
			if f.Required {
				req = ", required"
			}
			fmt.Fprintf(w, "  - %s (%s, %s%s)\n", safe(f.Label), safe(f.Name), safe(f.Type), req)
		}
	}
	if len(d.Tools) > 0 {
		fmt.Fprintf(w, "Tools:       %s\n", safe(strings.Join(d.Tools, ", ")))
	}
}
