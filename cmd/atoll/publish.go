package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/term"

	"atoll/agent"
	"atoll/publish"
)

// readPublishConfig is the remembered hub address, token and public
// names (DATA/publish.json, shared with the window).
func readPublishConfig(data string) publish.Config { return publish.ReadConfig(data) }

// savePublishConfig remembers the hub address and token, and local's
// public name there; called only after the hub accepted them, so a failed
// publish never replaces a working pair.
func savePublishConfig(data string, cfg publish.Config, local, public string) error {
	return publish.UpdateConfig(data, func(cur *publish.Config) {
		cur.URL, cur.Token = cfg.URL, cfg.Token
		cur.Remember(local, public)
	})
}

// publishConfirm asks before uploading, only when a person can answer:
// stdin and stderr are both terminals. Tests replace it.
var publishConfirm = func(e *env, question string) (asked, yes bool) {
	if !term.IsTerminal(int(os.Stdin.Fd())) || !term.IsTerminal(int(os.Stderr.Fd())) {
		return false, true
	}
	fmt.Fprint(e.stderr, question)
	line, _ := bufio.NewReader(os.Stdin).ReadString('\n')
	a := strings.ToLower(strings.TrimSpace(line))
	return true, a == "y" || a == "yes"
}

const publishUsage = `--agent NAME [--to URL] [--token TOKEN] [--as NAME] [--with-sources] [--yes]
       atoll publish --agent NAME --rollback

Publish checks the hub address and token first (nothing is uploaded if the
hub refuses them), then prints what will leave this machine: the agent, its
knowledge bases with their documents and passages, whether the original
files go too, and the hub. In a terminal it then asks before uploading
(--yes does not ask); when not run in a terminal (a script, a pipe) it
uploads right after printing. The address and token are remembered in
DATA/publish.json once a publish (or rollback) succeeds. An agent name on a
hub belongs to the workspace that published it first; --as NAME publishes
under another public name (the agent here keeps its own). The public name
is remembered too: a later publish, --rollback, leads pull and review pull
with --agent NAME use it.`

func (e *env) publishCmd(args []string) error {
	f := e.flags("publish", publishUsage)
	name := f.String("agent", "", "agent to publish")
	to := f.String("to", "", "hub address, e.g. https://agents.example.com (remembered)")
	token := f.String("token", "", "publisher token, made by the hub's owner with 'atoll hub token create' (remembered)")
	withSources := f.Bool("with-sources", false, "include the original files in the bundle")
	rollback := f.Bool("rollback", false, "restore the previously published version on the hub instead of uploading")
	yes := f.Bool("yes", false, "upload without asking, even in a terminal")
	as := f.String("as", "", "publish under this public name instead of the agent's (when another workspace has the name)")
	if _, err := parse(f, args); err != nil {
		return err
	}
	if *name == "" {
		f.Usage()
		return errUsage{"publish needs --agent NAME"}
	}
	if *as != "" {
		if err := agent.ValidName(*as); err != nil {
			return errUsage{"--as: " + sentence(err)}
		}
		if *rollback {
			return errUsage{"--as names a new publication; to roll one back, give its public name with --agent"}
		}
	}
	cfgPath := filepath.Join(e.data, publish.ConfigFile)
	cfg := readPublishConfig(e.data)
	if *to != "" {
		cfg.URL = strings.TrimRight(*to, "/")
	}
	if *token != "" {
		cfg.Token = *token
	}
	if cfg.URL == "" || cfg.Token == "" {
		return errUsage{"publish needs --to URL and --token TOKEN the first time (they are remembered in " + cfgPath + ")"}
	}
	ctx := context.Background()
	if *rollback {
		public := cfg.PublicName(*name)
		v, err := publish.Rollback(ctx, cfg.URL, cfg.Token, public)
		if err != nil {
			return err
		}
		if err := savePublishConfig(e.data, cfg, *name, public); err != nil {
			return err
		}
		fmt.Fprintf(e.stdout, "Rolled back %s on %s: it serves version %d again.\n", public, cfg.URL, v.Restored)
		return nil
	}
	// The token first: a wrong one or an unreachable hub should cost
	// seconds, not a test run and an upload.
	if err := publish.CheckToken(ctx, cfg.URL, cfg.Token); err != nil {
		return err
	}
	st, c, err := e.open()
	if err != nil {
		return err
	}
	defer st.Close()
	repo := agent.NewRepo(filepath.Join(e.data, "agents"))
	x := &publish.Exporter{Store: st, Agents: repo, Models: c, Generator: "atoll " + version}
	opt := publish.ExportOptions{WithSources: *withSources}
	sum, err := x.Summarize(*name, opt)
	if err != nil {
		return err
	}
	sum.Hub = cfg.URL
	fmt.Fprint(e.stdout, summaryText(sum))
	if !*yes {
		if asked, ok := publishConfirm(e, "Publish? [y/N] "); asked && !ok {
			return errors.New("not published: nothing was sent")
		}
	}
	// The agent's test set runs first, so what is published has been checked.
	if qs, err := agent.LoadTestSet(filepath.Join(e.data, "agents"), *name); err != nil {
		return err
	} else if len(qs) > 0 {
		def, err := repo.Get(*name)
		if err != nil {
			return err
		}
		fmt.Fprintf(e.stderr, "Running the test set (%d questions)…\n", len(qs))
		run, err := agent.NewTestRuns(filepath.Join(e.data, "agents")).Run(ctx, e.runner(st, c), def, qs, nil)
		if err != nil {
			fmt.Fprintf(e.stderr, "note: the test set could not run (%s); publishing anyway.\n", sentence(err))
		} else {
			fmt.Fprintf(e.stdout, "Test set: %s\n", run.Summary())
		}
	}
	var bundle bytes.Buffer
	if _, warnings, err := x.Export(ctx, &bundle, *name, opt); err != nil {
		return err
	} else {
		for _, w := range warnings {
			fmt.Fprintln(e.stderr, "note:", w)
		}
	}
	public := *as
	if public == "" {
		public = cfg.PublicName(*name)
	}
	fmt.Fprintf(e.stderr, "Uploading %s as %s (%.1f MB) to %s…\n", *name, public, float64(bundle.Len())/1e6, cfg.URL)
	last := -25
	size := int64(bundle.Len())
	out, err := publish.Upload(ctx, cfg.URL, cfg.Token, &bundle, size, func(sent, total int64) {
		if pct := int(100 * sent / max(total, 1)); pct >= last+25 {
			last = pct
			fmt.Fprintf(e.stderr, "  %d%%\n", pct)
		}
	}, public)
	if err != nil {
		return err
	}
	if err := savePublishConfig(e.data, cfg, *name, out.Agent); err != nil {
		fmt.Fprintf(e.stderr, "note: the hub address, token and public name could not be remembered (%s).\n", sentence(err))
	}
	fmt.Fprintf(e.stdout, "Published %s (version %d)\nChat page: %s\nWidget: %s\nAPI: POST %s with \"model\": %q\n", out.Agent, out.Version, out.Chat, out.Widget, out.API, out.Agent)
	return nil
}

// summaryText is what will leave the machine, printed before it does.
func summaryText(s publish.Summary) string {
	var b strings.Builder
	fmt.Fprintf(&b, "Publishing to %s:\n", s.Hub)
	fmt.Fprintf(&b, "  Agent:            %s\n", s.Agent)
	if len(s.KnowledgeBases) == 0 {
		fmt.Fprintf(&b, "  Knowledge bases:  none\n")
	}
	for i, k := range s.KnowledgeBases {
		label := ""
		if i == 0 {
			label = "Knowledge bases:"
		}
		fmt.Fprintf(&b, "  %-17s %s (%s, %s)\n", label, k.Name, nounCount(k.Documents, "document"), nounCount(k.Passages, "passage"))
	}
	fmt.Fprintf(&b, "  In all:           %s, %s, with their vectors\n", nounCount(s.Documents, "document"), nounCount(s.Passages, "passage"))
	if s.WithSources {
		fmt.Fprintf(&b, "  Original files:   included (--with-sources)\n")
	} else {
		fmt.Fprintf(&b, "  Original files:   not included\n")
	}
	fmt.Fprintf(&b, "  Document paths:   relative to their folders (bakery/prices.md); the hub shows them in citations\n")
	return b.String()
}

func nounCount(n int, word string) string {
	if n == 1 {
		return "1 " + word
	}
	return fmt.Sprintf("%d %ss", n, word)
}
