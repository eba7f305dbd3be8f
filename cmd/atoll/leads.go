package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"atoll/agent"
)

func (e *env) leads(args []string) error {
	if len(args) == 0 {
		return errUsage{"leads needs a subcommand: list or export"}
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
	return errUsage{fmt.Sprintf("unknown leads subcommand %q (list, export)", args[0])}
}
