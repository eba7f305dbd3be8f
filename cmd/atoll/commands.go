package main

import (
	"flag"
	"fmt"
	"io"
	"strings"
	"time"

	"atoll/app"
)

// command is one row of the command line: the top-level help, every
// `--help` and the dispatch are all read from the table below, so a command
// cannot exist without being documented (TestEveryCommandKeepsItsPromises
// walks the same table).
type command struct {
	name     string // words after `atoll`, e.g. "kb rm"
	synopsis string // its flags and arguments
	summary  string
	// run handles the command. nil marks a subcommand its parent's run
	// handles itself (hub token ...); a group (kb, agent, leads) has no row
	// of its own.
	run func(e *env, args []string) error
}

func commands() []command {
	return []command{
		{"ingest", "--kb NAME [--embed-model MODEL [--reembed]] [--ocr-lang LANG] [--crawl DEPTH] [--max-pages N] [--delay 1s] [--schedule off|hourly|daily|weekly] [--watch] PATH-OR-URL...", "add files, folders, web pages, sitemaps or sites (--crawl) to a knowledge base, or keep folders in sync (--watch) (a new --embed-model for an existing one needs --reembed)", (*env).ingest},
		{"sync", "[--kb NAME] [--due] [--delay 1s]", "fetch every source again (web pages conditionally; folders rescanned): for cron", (*env).sync},
		{"search", "--kb NAME[,NAME...] [--source FILE] [--k N] [--json] QUERY", "search knowledge bases", (*env).search},
		{"kb list", "[--json]", "list knowledge bases", (*env).kbList},
		{"kb docs", "NAME [--json]", "list a knowledge base's documents: status, pages, passages, pending embeddings", (*env).kbDocs},
		{"kb rm", "NAME", "delete a knowledge base", (*env).kbRm},
		{"kb sources", "NAME [--remove SOURCE] [--json]", "a knowledge base's sources (folders, files, websites): kind, last and next sync, counts, errors", (*env).kbSources},
		{"agent new", `--kb KB[,KB...] [--model MODEL] [--yes] "ONE SENTENCE"`, "draft an agent from one sentence; review, then save", (*env).agentNew},
		{"agent create", "NAME --kb KB[,KB...] --model MODEL [--system TEXT] [--tools LIST] [--lead-form FILE.json]", "save an agent (a new version if it exists)", (*env).agentCreate},
		{"agent list", "[--json]", "list agents", (*env).agentList},
		{"agent versions", "NAME", "an agent's saved versions, newest first", (*env).agentVersions},
		{"agent restore", "NAME --version N", "save an old version as the newest", (*env).agentRestore},
		{"agent test", "NAME --questions FILE.jsonl [--json]", "run a test set; compares with the last run", (*env).agentTest},
		{"agent rm", "NAME", "delete an agent and its versions (its leads and conversations are kept)", (*env).agentRm},
		{"leads list", "--agent NAME [--json]", "contacts an agent has gathered", (*env).leadsList},
		{"leads export", "--agent NAME --csv FILE", "the same as CSV (Flowise column names)", (*env).leadsExport},
		{"leads pull", "--agent NAME [--from URL] [--token TOKEN]", "copy a published agent's leads from its hub", (*env).leadsPull},
		{"review pull", "--agent NAME [--json]", "bring a published agent's answers voted down or not covered back for the Review screen", (*env).reviewPull},
		{"ask", "--agent NAME [--json] [--yes] QUESTION", "answer from the agent's knowledge, streamed", (*env).ask},
		{"eval", "--kb NAME --questions FILE.jsonl [--k N] [--json]", "retrieval quality on a question set (hit@1, hit@k, MRR)", (*env).eval},
		{"models", "[--json]", "installed models, what fits the GPU, the recommended one", (*env).models},
		{"pull", "MODEL", "download a model, with progress", (*env).pull},
		{"serve", "[--addr 127.0.0.1:7860] [--token TOKEN]", "the app in a browser", (*env).serve},
		{"export", "--agent NAME -o FILE.atoll [--with-sources] | --format dify -o DIR | --format modelfile -o FILE [--without-knowledge]", "the agent and its knowledge as one bundle, a Dify app or an Ollama Modelfile", (*env).export},
		{"import", "FILE.atoll [--as NAME] [--reembed [--embed-model MODEL]] [--json]", "add a bundle's agent and knowledge here", (*env).importBundle},
		{"publish", "--agent NAME [--to URL] [--token TOKEN] [--as NAME] [--with-sources] [--yes] | --agent NAME --rollback", "upload to a hub after showing what leaves this computer (or roll back to the previous version); prints the chat page and widget", (*env).publishCmd},
		{"hub", "[--db URL] [--addr 127.0.0.1:8080] [--rate 60] [--retention 720h] [--trusted-proxy CIDR]... [--behind-proxy] [--conns-per-ip N] [--max-bundle-mb 1024] [--shutdown-grace 30s] [--backend KIND=URL]... [--backend-concurrency 4] [--backend-queue 64] [--backend-key KEY] [--context-length 8192] [--backend ollama|openai --backend-url URL] [--metrics-addr ADDR|off] [--channel-api-base URL]...", "the hosted platform (--data is this replica's folder; --db or $ATOLL_HUB_DB a PostgreSQL database shared by replicas); repeat --backend ollama=URL or openai=URL for a pool of model servers", (*env).hubCmd},
		{"hub workspace create", "NAME [--label TEXT] [--db URL]", "a workspace (one business); prints its first publisher token", nil},
		{"hub workspace list", "[--json] [--db URL]", "the hub's workspaces and their quotas", nil},
		{"hub workspace quota", "NAME [--requests-per-day N] [--max-streams N] [--db URL]", "set a workspace's quotas (0 = no limit)", nil},
		{"hub channel add", "--agent NAME --kind KIND [--set key=value]... [--workspace NAME] [--api-base URL] [--id ID] [--url URL] [--db URL]", "answer a published agent's users on a messaging platform (wechat-oa, wecom-kf, feishu, dingtalk, telegram, slack, whatsapp); prints the webhook URL to paste into it", nil},
		{"hub channel list", "[--workspace NAME] [--json] [--db URL]", "the hub's messaging channels, secrets masked", nil},
		{"hub channel rm", "ID [--db URL]", "stop answering on a messaging channel (on every replica)", nil},
		{"hub token create", "[--workspace NAME] [--label TEXT] [--db URL]", "a publisher token of one workspace (only its hash is stored)", nil},
		{"hub token list", "[--workspace NAME] [--json] [--db URL]", "the hub's publisher tokens", nil},
		{"hub token revoke", "ID [--db URL]", "revoke a publisher token (on every replica within a second)", nil},
		{"mcp", "--kb NAME[,NAME...] | --agent NAME", "serve knowledge bases (and an agent) to MCP clients over stdio", (*env).mcpCmd},
	}
}

// lookup finds a command row by its words.
func lookup(name string) (command, bool) {
	for _, c := range commands() {
		if c.name == name {
			return c, true
		}
	}
	return command{}, false
}

// subcommands lists the rows directly under group ("kb" -> kb list, kb rm...).
func subcommands(group string) []command {
	var out []command
	for _, c := range commands() {
		if rest, ok := strings.CutPrefix(c.name, group+" "); ok && !strings.Contains(rest, " ") {
			out = append(out, c)
		}
	}
	return out
}

func isHelp(a string) bool { return a == "-h" || a == "--help" || a == "-help" || a == "help" }

// dispatch runs the command args names.
func (e *env) dispatch(args []string) error {
	if c, ok := lookup(args[0]); ok && c.run != nil {
		return c.run(e, args[1:])
	}
	group := args[0]
	subs := subcommands(group)
	if len(subs) == 0 {
		return errUsage{fmt.Sprintf("unknown command %q: `atoll --help` lists the commands", group)}
	}
	if len(args) == 1 {
		return errUsage{fmt.Sprintf("%s needs a subcommand: %s", group, subNames(subs))}
	}
	if isHelp(args[1]) {
		e.groupHelp(group, subs)
		return flag.ErrHelp
	}
	c, ok := lookup(group + " " + args[1])
	if !ok || c.run == nil {
		return errUsage{fmt.Sprintf("unknown %s subcommand %q: use %s", group, args[1], subNames(subs))}
	}
	return c.run(e, args[2:])
}

func subNames(subs []command) string {
	names := make([]string, len(subs))
	for i, c := range subs {
		names[i] = strings.TrimSpace(c.name[strings.LastIndex(c.name, " "):])
	}
	if len(names) == 1 {
		return names[0]
	}
	return strings.Join(names[:len(names)-1], ", ") + " or " + names[len(names)-1]
}

func (e *env) groupHelp(group string, subs []command) {
	fmt.Fprintf(e.stdout, "Usage: atoll %s SUBCOMMAND [flags] [args]\n\nSubcommands:\n", group)
	for _, c := range subs {
		fmt.Fprintf(e.stdout, "  %s %s\n      %s\n", c.name, c.synopsis, c.summary)
	}
	fmt.Fprintf(e.stdout, "\nRun 'atoll %s SUBCOMMAND --help' for its flags.\n", group)
}

// topHelp is `atoll --help`.
func topHelp(w io.Writer) {
	fmt.Fprint(w, `Atoll: private AI agents on your own documents, answered by your local Ollama.

Usage: atoll [--data DIR] [--ollama URL] COMMAND [flags] [args]

Commands:
`)
	for _, c := range commands() {
		fmt.Fprintf(w, "  %s %s\n      %s\n", c.name, c.synopsis, c.summary)
	}
	fmt.Fprint(w, `
Global flags:
  --data DIR     data folder (default $ATOLL_DATA, else the per-user data folder)
  --ollama URL   Ollama server (default $OLLAMA_HOST, else http://127.0.0.1:11434)
  --version      print Atoll's version

Plain-text output escapes control characters found in file names and
documents (\x1b); --json output carries the text as it is, JSON-escaped.
Exit status: 0 done, 1 failed (some files, Ollama, a missing agent), 2 usage error.
Run 'atoll COMMAND --help' for a command's flags.
`)
}

// flags makes the flag set of command name. Its help (on -h or --help) goes
// to standard output with the table's synopsis; a parse error is returned by
// parse as one line, not printed here.
func (e *env) flags(name, args string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	// Most commands take their synopsis from the table; one that passes
	// its own (with notes of its own) keeps it.
	summary := ""
	if c, ok := lookup(name); ok {
		summary = c.summary
		if args == "" {
			args = c.synopsis
		}
	}
	fs.Usage = func() { e.commandHelp(fs, name, args, summary) }
	e.made = append(e.made, fs)
	return fs
}

func (e *env) commandHelp(fs *flag.FlagSet, name, synopsis, summary string) {
	w := e.stdout
	fmt.Fprintf(w, "Usage: atoll %s %s\n", name, synopsis)
	if summary != "" {
		fmt.Fprintf(w, "\n%s.\n", strings.ToUpper(summary[:1])+summary[1:])
	}
	fmt.Fprintln(w, "\nFlags:")
	fs.VisitAll(func(f *flag.Flag) {
		fmt.Fprintf(w, "  %s\n      %s%s\n", flagTitle(f, synopsis), f.Usage, defaultNote(f))
	})
	fmt.Fprintf(w, "  --data DIR\n      data folder (default %s)\n  --ollama URL\n      Ollama server (default %s)\n", app.DefaultDataDir(), app.DefaultOllamaURL())
}

// flagTitle is "--kb NAME": the value's name as the synopsis writes it, else
// one word for its type. (Go's PrintDefaults would take back-quoted text in
// the usage as the value's name: "-from atoll publish".)
func flagTitle(f *flag.Flag, synopsis string) string {
	dash := "--"
	if len(f.Name) == 1 {
		dash = "-"
	}
	title := dash + f.Name
	if b, ok := f.Value.(interface{ IsBoolFlag() bool }); ok && b.IsBoolFlag() {
		return title
	}
	words := strings.Fields(synopsis)
	for i, w := range words {
		if strings.TrimLeft(w, "[") == title && i+1 < len(words) {
			v := strings.TrimSuffix(words[i+1], "...") // "[--trusted-proxy CIDR]..."
			for strings.Count(v, "]") > strings.Count(v, "[") && strings.HasSuffix(v, "]") {
				v = strings.TrimSuffix(v, "]")
			}
			if v != "" && (v[0] >= 'A' && v[0] <= 'Z' || v[0] >= '0' && v[0] <= '9') {
				return title + " " + v
			}
			break
		}
	}
	g, ok := f.Value.(flag.Getter)
	if !ok {
		return title + " VALUE"
	}
	switch g.Get().(type) {
	case int, int64, uint, uint64:
		return title + " N"
	case float64:
		return title + " NUMBER"
	case time.Duration:
		return title + " DURATION"
	}
	return title + " TEXT"
}

func defaultNote(f *flag.Flag) string {
	switch f.DefValue {
	case "", "0", "false", "0s":
		return ""
	}
	return fmt.Sprintf(" (default %s)", f.DefValue)
}
