package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"atoll/agent"
	"atoll/publish"
)

func (e *env) leads(args []string) error {
	if len(args) == 0 {
		return errUsage{"leads needs a subcommand: list, export or pull"}
	}
	store := agent.NewLeads(filepath.Join(e.data, "leads"))
	switch args[0] {
	case "list":
		fs := e.flags("leads list", "--agent NAME [--json]")
		name := fs.String("agent", "", "agent name")
		asJSON := fs.Bool("json", false, "print a JSON array")
		if _, err := parse(fs, args[1:]); err != nil {
			return err
		}
		if *name == "" {
			fs.Usage()
			return errUsage{"leads list needs --agent NAME"}
		}
		all, err := store.List(*name)
		if err != nil {
			return err
		}
		if *asJSON {
			return writeJSON(e, all)
		}
		if len(all) == 0 {
			fmt.Fprintf(e.stdout, "No leads for %q yet. An agent gathers them when it has a lead form.\n", *name)
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
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", ld.Name, ld.Email, ld.Phone, strings.Join(other, " "), ld.Conversation, ld.Created.Local().Format(time.DateTime))
		}
		return tw.Flush()
	case "export":
		fs := e.flags("leads export", "--agent NAME --csv FILE")
		name := fs.String("agent", "", "agent name")
		file := fs.String("csv", "", "CSV file to write (- for standard output)")
		if _, err := parse(fs, args[1:]); err != nil {
			return err
		}
		if *name == "" || *file == "" {
			fs.Usage()
			return errUsage{"leads export needs --agent NAME and --csv FILE"}
		}
		all, err := store.List(*name)
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
	if args[0] == "pull" {
		return e.leadsPull(store, args[1:])
	}
	return errUsage{fmt.Sprintf("unknown leads subcommand %q (list, export, pull)", args[0])}
}

// leadsPull copies the leads a published agent captured on a hub into this
// data folder, merged with the ones already here.
func (e *env) leadsPull(store *agent.Leads, args []string) error {
	fs := e.flags("leads pull", "--agent NAME [--from URL] [--token TOKEN]")
	name := fs.String("agent", "", "agent name (as published)")
	from := fs.String("from", "", "hub address (default: the one `atoll publish` remembered)")
	token := fs.String("token", "", "publisher token (default: the remembered one)")
	if _, err := parse(fs, args); err != nil {
		return err
	}
	cfg := readPublishConfig(e.data)
	if *from != "" {
		cfg.URL = strings.TrimRight(*from, "/")
	}
	if *token != "" {
		cfg.Token = *token
	}
	if *name == "" || cfg.URL == "" || cfg.Token == "" {
		fs.Usage()
		return errUsage{"leads pull needs --agent NAME, and --from URL --token TOKEN unless `atoll publish` remembered them"}
	}
	raw, err := publish.FetchLeads(context.Background(), cfg.URL, cfg.Token, *name)
	if err != nil {
		return err
	}
	added, merged, err := agent.MergeRaw(store, *name, raw)
	if err != nil {
		return err
	}
	fmt.Fprintf(e.stderr, "%d leads from %s: %d new, %d merged with ones already here.\n", len(raw), cfg.URL, added, merged)
	return nil
}
