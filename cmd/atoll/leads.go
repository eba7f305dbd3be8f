package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"atoll/agent"
	"atoll/llm"
	"atoll/publish"
)

func (e *env) leadStore() *agent.Leads { return agent.NewLeads(filepath.Join(e.data, "leads")) }

// leadsAgent parses a leads subcommand's flags and checks --agent.
func leadsAgent(fs *flag.FlagSet, name *string, args []string) error {
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if *name == "" || len(pos) > 0 {
		return errUsage{fs.Name() + " needs --agent NAME and no other arguments"}
	}
	return validAgent(*name)
}

func (e *env) leadsList(args []string) error {
	fs := e.flags("leads list", "")
	name := fs.String("agent", "", "agent name")
	asJSON := fs.Bool("json", false, "print a JSON array")
	if err := leadsAgent(fs, name, args); err != nil {
		return err
	}
	all, err := e.leadStore().List(*name)
	if err != nil {
		return err
	}
	if *asJSON {
		return writeJSON(e, all)
	}
	if len(all) == 0 {
		fmt.Fprintf(e.stdout, "No leads for %q yet. %s\n", *name, e.whyNoLeads(*name))
		return nil
	}
	tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tEMAIL\tPHONE\tOTHER\tCONVERSATION\tCREATED")
	for _, ld := range all {
		var other []string
		for k, v := range ld.Fields {
			if k != "name" && k != "email" && k != "phone" {
				other = append(other, k+"="+v)
			}
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", safe(ld.Name), safe(ld.Email), safe(ld.Phone), safe(strings.Join(other, " ")), safe(ld.Conversation), ld.Created.Local().Format(time.DateTime))
	}
	return tw.Flush()
}

// whyNoLeads says what an agent needs to gather leads, from what it has.
func (e *env) whyNoLeads(name string) string {
	def, err := e.agents().Get(name)
	switch {
	case err != nil:
		return "There is no agent by that name here (atoll agent list shows them); a published agent's leads come with atoll leads pull."
	case def.LeadForm == nil:
		return "An agent gathers them when it has a lead form: atoll agent create " + name + " --model MODEL --lead-form FILE.json."
	}
	c, err := llm.New(e.ollama)
	if err == nil {
		if _, notes := modelProblems(context.Background(), c, def); len(notes) > 0 && !strings.HasPrefix(notes[0], "couldn't check") {
			return "It has a lead form, but: " + notes[0]
		}
	}
	return "It has a lead form: a lead is saved when a visitor leaves the details it asks for."
}

func (e *env) leadsExport(args []string) error {
	fs := e.flags("leads export", "")
	name := fs.String("agent", "", "agent name")
	file := fs.String("csv", "", "CSV file to write (- for standard output)")
	if err := leadsAgent(fs, name, args); err != nil {
		return err
	}
	if *file == "" {
		return errUsage{"leads export needs --csv FILE (- for standard output)"}
	}
	all, err := e.leadStore().List(*name)
	if err != nil {
		return err
	}
	text := agent.LeadsCSV(all)
	if *file == "-" {
		_, err := fmt.Fprint(e.stdout, text)
		return err
	}
	if err := os.WriteFile(*file, []byte(text), 0o600); err != nil {
		return fmt.Errorf("couldn't write %s: %w", *file, err)
	}
	fmt.Fprintf(e.stderr, "Wrote %d leads to %s.\n", len(all), *file)
	return nil
}

// leadsPull copies the leads a published agent captured on a hub into this
// data folder, merged with the ones already here.
func (e *env) leadsPull(args []string) error {
	fs := e.flags("leads pull", "")
	name := fs.String("agent", "", "agent name (here, or as published)")
	from := fs.String("from", "", "hub address (default: the one atoll publish remembered)")
	token := fs.String("token", "", "publisher token (default: the remembered one)")
	if err := leadsAgent(fs, name, args); err != nil {
		return err
	}
	cfg := readPublishConfig(e.data)
	if *from != "" {
		cfg.URL = strings.TrimRight(*from, "/")
	}
	if *token != "" {
		cfg.Token = *token
	}
	if cfg.URL == "" || cfg.Token == "" {
		return errUsage{"leads pull needs --agent NAME, and --from URL --token TOKEN unless `atoll publish` remembered them"}
	}
	// --agent is the agent here; its remembered public name is asked for
	// (a name with none remembered is taken as the hub's).
	raw, err := publish.FetchLeads(context.Background(), cfg.URL, cfg.Token, cfg.PublicName(*name))
	if err != nil {
		return err
	}
	added, merged, err := agent.MergeRaw(e.leadStore(), *name, raw)
	if err != nil {
		return err
	}
	fmt.Fprintf(e.stderr, "%d leads from %s: %d new, %d merged with ones already here.\n", len(raw), cfg.URL, added, merged)
	return nil
}
