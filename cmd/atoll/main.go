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
	"time"

	"atoll/agent"
	"atoll/app"
	"atoll/knowledge"
	"atoll/llm"
	"atoll/store"
)

// version and commit are set by the build (-ldflags "-X main.version=...
// -X main.commit=..."), the same in every artefact of one release.
var (
	version = "0.1.0-dev"
	commit  = ""
)

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
	// progressEvery spaces the plain progress lines long jobs print when
	// standard error is not a terminal.
	progressEvery time.Duration
	made          []*flag.FlagSet // every flag set made, for the help test
	// yes allows every call of the user's own tools (HTTP and MCP) without
	// the agent's allow-list (ask --yes).
	yes bool
}

func newEnv(stdout, stderr io.Writer) *env {
	return &env{stdout: stdout, stderr: stderr, progressEvery: 10 * time.Second}
}

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// errUsage marks an error in how the command was called (exit code 2).
type errUsage struct{ msg string }

func (e errUsage) Error() string { return e.msg }

func run(args []string, stdout, stderr io.Writer) int {
	return newEnv(stdout, stderr).run(args)
}

func (e *env) run(args []string) int {
	rest, err := e.globalFlags(args)
	if err != nil {
		fmt.Fprintln(e.stderr, "atoll:", err)
		return exitUsage
	}
	switch {
	case len(rest) == 0:
		topHelp(e.stdout)
		return exitUsage
	case rest[0] == "--version" || rest[0] == "-version":
		if commit != "" {
			fmt.Fprintf(e.stdout, "atoll %s (%s)\n", version, commit)
		} else {
			fmt.Fprintf(e.stdout, "atoll %s\n", version)
		}
		return exitOK
	case isHelp(rest[0]) && len(rest) == 1:
		topHelp(e.stdout)
		return exitOK
	case rest[0] == "help": // atoll help kb rm = atoll kb rm --help
		rest = append(rest[1:], "--help")
	}
	e.cmd = rest[0]
	err = e.dispatch(rest)
	var ue errUsage
	switch {
	case err == nil:
		return exitOK
	case errors.Is(err, flag.ErrHelp):
		return exitOK
	case errors.As(err, &ue):
		fmt.Fprintln(e.stderr, "atoll:", ue.msg)
		return exitUsage
	case errors.Is(err, errSomeFailed):
		return exitFailed
	default:
		fmt.Fprintln(e.stderr, "atoll:", sentence(err))
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

// parse parses flags that may be interleaved with positional arguments.
func parse(fs *flag.FlagSet, args []string) ([]string, error) {
	// The flag package would print the whole help on any mistake: a
	// mistake is one line (from run), the help only comes when asked for.
	help := fs.Usage
	fs.Usage = func() {}
	defer func() { fs.Usage = help }()
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				help()
				return nil, err
			}
			return nil, errUsage{fmt.Sprintf("%s: %v (atoll %s --help lists its flags)", fs.Name(), err, fs.Name())}
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

// openStore opens the data folder for a command that needs no model.
func (e *env) openStore() (*store.Store, error) {
	st, err := store.Open(e.data)
	if err != nil {
		return nil, err
	}
	// Writes to a knowledge base take turns with the window, `atoll serve`
	// and other commands; a wait longer than a moment is said.
	st.SetLockHolder("atoll " + e.cmd)
	st.OnLockWait(func(msg string) { fmt.Fprintln(e.stderr, "atoll:", msg) })
	return st, nil
}

func (e *env) open() (*store.Store, *llm.Client, error) {
	st, err := e.openStore()
	if err != nil {
		return nil, nil, err
	}
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
	r.MCP = mcpManager(e.data)
	// The same consent as the desktop's Allow: a call runs when the agent's
	// allow-list names the tool or the command was given --yes, and each
	// call is printed as it is made.
	r.Confirm = func(_ context.Context, call agent.HTTPCall) error {
		if !e.yes && !call.Allowed {
			fmt.Fprintf(e.stderr, "tool %s: refused (run with --yes, or allow it for the agent): %s %s %s\n", call.Tool, call.Method, call.URL, call.Arguments)
			return errors.New("the user did not allow this call: rerun with --yes or put the tool on the agent's allow-list")
		}
		fmt.Fprintf(e.stderr, "tool %s: %s %s %s\n", call.Tool, call.Method, call.URL, call.Arguments)
		return nil
	}
	return r
}

func (e *env) searcher(st *store.Store, c *llm.Client) *knowledge.Searcher {
	return &knowledge.Searcher{Store: st, Embedder: c}
}
