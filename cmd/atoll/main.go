// Command atoll is Atoll's headless command line: ingest, search, agents,
// questions, evaluation and the browser server. It calls the same core
// packages as the desktop window and needs neither cgo nor GUI libraries.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"atoll/agent"
	"atoll/app"
	"atoll/knowledge"
	"atoll/llm"
	"atoll/store"
)

// version is set by the build (-ldflags "-X main.version=...").
var version = "0.1.0-dev"

const usage = `Atoll: private AI agents on your own documents, answered by your local Ollama.

Usage: atoll [--data DIR] [--ollama URL] COMMAND [flags] [args]

Commands:
  ingest   --kb NAME [--embed-model MODEL] PATH...   add files and folders to a knowledge base
  search   --kb NAME [--source FILE] [--k N] [--json] QUERY   search knowledge bases
  kb list  [--json]                                   list knowledge bases
  kb rm    NAME                                       delete a knowledge base
  agent new --kb KB [--model MODEL] [--yes] "SENTENCE"  draft an agent from one sentence; review, then save
  agent create NAME --kb KB[,KB] --model MODEL [--system TEXT]
  agent list [--json]
  agent versions NAME | agent restore NAME --version N   history; restore saves an old version as the newest
  agent test NAME --questions FILE.jsonl [--json]      run a test set; compares with the last run
  leads list   --agent NAME [--json]                   contacts an agent has gathered
  leads export --agent NAME --csv FILE                 the same as CSV (Flowise column names)
  leads pull   --agent NAME [--from URL --token T]     copy a published agent's leads from its hub
  ask      --agent NAME [--json] QUESTION             answer from the agent's knowledge, streamed
  eval     --kb NAME --questions FILE.jsonl [--k 5] [--json]
  models   [--json]                                   installed models, what fits the GPU, the recommended one
  pull     MODEL                                      download a model with a progress bar
  serve    [--addr 127.0.0.1:7860] [--token T]        the app in a browser
  export   --agent NAME -o FILE.atoll [--with-sources]   the agent and its knowledge as one bundle
  import   FILE.atoll [--as NAME] [--reembed]          add a bundle's agent and knowledge here
  publish  --agent NAME [--to URL] [--token T]        upload to a hub; prints the chat page and widget
  hub      [--addr 127.0.0.1:8080] [--rate 60]        the hosted platform (--data is the hub's folder)
  hub token create [--label TEXT]                     a publisher token (only its hash is stored)
  mcp      --kb NAME[,NAME] | --agent NAME            serve knowledge (and an agent) to MCP clients over stdio

Global flags:
  --data DIR     data folder (default $ATOLL_DATA, else the per-user data folder)
  --ollama URL   Ollama server (default $OLLAMA_HOST, else http://127.0.0.1:11434)

Run 'atoll COMMAND --help' for a command's flags.
`

// exit codes
const (
	exitOK      = 0
	exitFailed  = 1
	exitUsage   = 2
	exitProblem = 1
)

type env struct {
	cmd          string // the command being run, as another process waiting for a lock names it
	data, ollama string
	stdout       io.Writer
	stderr       io.Writer
}

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// errUsage marks an error in how the command was called (exit code 2).
type errUsage struct{ msg string }

func (e errUsage) Error() string { return e.msg }

func run(args []string, stdout, stderr io.Writer) int {
	e := &env{stdout: stdout, stderr: stderr}
	rest, err := e.globalFlags(args)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return exitUsage
	}
	if len(rest) == 0 || rest[0] == "help" || rest[0] == "-h" || rest[0] == "--help" {
		fmt.Fprint(stdout, usage)
		if len(rest) == 0 {
			return exitUsage
		}
		return exitOK
	}
	cmds := map[string]func([]string) error{
		"ingest":  e.ingest,
		"search":  e.search,
		"kb":      e.kb,
		"agent":   e.agentCmd,
		"ask":     e.ask,
		"eval":    e.eval,
		"leads":   e.leads,
		"serve":   e.serve,
		"export":  e.export,
		"import":  e.importBundle,
		"hub":     e.hubCmd,
		"models":  e.models,
		"pull":    e.pull,
		"publish": e.publishCmd,
		"mcp":     e.mcpCmd,
	}
	e.cmd = rest[0]
	fn, ok := cmds[rest[0]]
	if !ok {
		fmt.Fprintf(stderr, "atoll: unknown command %q\n\n%s", rest[0], usage)
		return exitUsage
	}
	err = fn(rest[1:])
	var ue errUsage
	switch {
	case err == nil:
		return exitOK
	case errors.Is(err, flag.ErrHelp):
		return exitOK
	case errors.As(err, &ue):
		fmt.Fprintln(stderr, "atoll:", ue.msg)
		return exitUsage
	case errors.Is(err, errSomeFailed):
		return exitFailed
	default:
		fmt.Fprintln(stderr, "atoll:", sentence(err))
		return exitProblem
	}
}

var errSomeFailed = errors.New("some files failed")

func sentence(err error) string {
	var le *llm.Error
	if errors.As(err, &le) {
		return llm.Sentence(err)
	}
	return err.Error()
}

// globalFlags takes --data and --ollama wherever they appear, so
// `atoll --data D ingest ...` and `atoll ingest --data D ...` both work.
func (e *env) globalFlags(args []string) ([]string, error) {
	e.data, e.ollama = app.DefaultDataDir(), app.DefaultOllamaURL()
	var rest []string
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			rest = append(rest, args[i:]...)
			break
		}
		name, val, hasVal := strings.Cut(strings.TrimLeft(a, "-"), "=")
		if !strings.HasPrefix(a, "-") || (name != "data" && name != "ollama") {
			rest = append(rest, a)
			continue
		}
		if !hasVal {
			if i+1 >= len(args) {
				return nil, fmt.Errorf("--%s needs a value", name)
			}
			i++
			val = args[i]
		}
		if name == "data" {
			e.data = val
		} else {
			e.ollama = val
		}
	}
	return rest, nil
}

func (e *env) flags(name, args string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	fs.Usage = func() {
		fmt.Fprintf(e.stderr, "Usage: atoll %s %s\n\nFlags:\n", name, args)
		fs.PrintDefaults()
		fmt.Fprintf(e.stderr, "  --data DIR\n    \tdata folder (default %s)\n  --ollama URL\n    \tOllama server (default %s)\n", app.DefaultDataDir(), app.DefaultOllamaURL())
	}
	return fs
}

// parse parses flags that may be interleaved with positional arguments.
func parse(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return nil, err
			}
			return nil, errUsage{err.Error()}
		}
		args = fs.Args()
		if len(args) == 0 {
			return pos, nil
		}
		if args[0] == "--" {
			return append(pos, args[1:]...), nil
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
}

func (e *env) open() (*store.Store, *llm.Client, error) {
	st, err := store.Open(e.data)
	if err != nil {
		return nil, nil, err
	}
	// Writes to a knowledge base take turns with the window, `atoll serve`
	// and other commands; a wait longer than a moment is said.
	st.SetLockHolder("atoll " + e.cmd)
	st.OnLockWait(func(msg string) { fmt.Fprintln(e.stderr, "atoll:", msg) })
	c, err := llm.New(e.ollama)
	if err != nil {
		return nil, nil, errUsage{fmt.Sprintf("--ollama %q: %v", e.ollama, err)}
	}
	return st, c, nil
}

func (e *env) runner(st *store.Store, c *llm.Client) *agent.Runner {
	r := agent.NewRunner(c, e.searcher(st, c), agent.NewConversations(filepath.Join(e.data, "conversations")))
	r.Leads = agent.NewLeads(filepath.Join(e.data, "leads"))
	r.Memory = agent.NewMemories(filepath.Join(e.data, "memory")) // the command line is the local user, as the desktop
	r.HTTPTools = func() []agent.HTTPTool { return app.LoadHTTPTools(e.data) }
	// Whoever runs the command is at the terminal: each call is shown there
	// as it is made (the desktop asks first).
	r.Confirm = func(_ context.Context, call agent.HTTPCall) error {
		fmt.Fprintf(e.stderr, "tool %s: %s %s\n", call.Tool, call.Method, call.URL)
		return nil
	}
	return r
}

func (e *env) searcher(st *store.Store, c *llm.Client) *knowledge.Searcher {
	return &knowledge.Searcher{Store: st, Embedder: c}
}
