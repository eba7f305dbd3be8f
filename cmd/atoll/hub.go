package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"atoll/agent"
	"atoll/hub"
	"atoll/knowledge"
	"atoll/llm"
	"atoll/publish"
)

// hubCmd: `atoll hub` runs the hosted platform; `atoll hub token
// create|list|revoke` manages publisher tokens. --data is the hub's own
// folder. Anything else after `hub` is a usage error, never a server start.
func (e *env) hubCmd(args []string) error {
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		if args[0] == "token" {
			return e.hubToken(args[1:])
		}
		return errUsage{fmt.Sprintf("unknown hub subcommand %q: use `atoll hub [flags]` to serve or `atoll hub token create|list|revoke`", args[0])}
	}
	f := e.flags("hub", "[--addr 127.0.0.1:8080] [--rate 60] [--retention 720h] [--trusted-proxy CIDR]... [--backend KIND=URL]... [--backend-concurrency 4] [--backend-queue 64]\n       atoll hub token create [--label TEXT] | token list [--json] | token revoke ID")
	addr := f.String("addr", "127.0.0.1:8080", "address to listen on")
	rate := f.Int("rate", 60, "requests a minute per client IP on public routes (0 = no limit)")
	retention := f.Duration("retention", 30*24*time.Hour, "delete end users' conversations older than this (0 = keep)")
	var proxies proxyList
	f.Var(&proxies, "trusted-proxy", "a proxy in front of the hub (CIDR or address; repeatable): its X-Forwarded-For is believed, and the client is the rightmost address not in a trusted range. Without it X-Forwarded-For is ignored")
	behindProxy := f.Bool("behind-proxy", false, "the same as --trusted-proxy 127.0.0.0/8 --trusted-proxy ::1 (a proxy on this machine)")
	perIP := f.Int("conns-per-ip", hub.DefaultServeLimits.ConnsPerIP, "open connections allowed per client address (trusted proxies are exempt)")
	maxBundle := f.Int64("max-bundle-mb", 1024, "largest bundle accepted, in MB")
	var backends backendList
	f.Var(&backends, "backend", `a model server, as KIND=URL with KIND ollama or openai (any OpenAI-compatible server, e.g. vLLM); repeat it for a pool: --backend ollama=http://gpu1:11434 --backend ollama=http://gpu2:11434. Without it: the Ollama at --ollama. The older forms "--backend ollama" and "--backend openai --backend-url URL" still work`)
	backendURL := f.String("backend-url", "", `with the older form --backend openai: its base address, e.g. http://gpu-box:8000/v1`)
	backendKey := f.String("backend-key", os.Getenv("ATOLL_BACKEND_KEY"), "API key for the openai backends (default $ATOLL_BACKEND_KEY)")
	ctxLen := f.Int("context-length", 8192, "the openai backends' context window in tokens (they do not report it)")
	concurrency := f.Int("backend-concurrency", llm.DefaultPoolConcurrency, "requests sent to one model server at once (match its parallel slots, e.g. OLLAMA_NUM_PARALLEL)")
	queue := f.Int("backend-queue", llm.DefaultPoolQueue, "requests that may wait for a free model server; beyond it the hub answers 429 with Retry-After (0 = none wait)")
	pos, err := parse(f, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return errUsage{fmt.Sprintf("hub takes no arguments besides flags (got %q); `atoll hub --help` lists them", pos[0])}
	}
	trusted := []netip.Prefix(proxies)
	if *behindProxy {
		trusted = append(trusted, hub.LoopbackProxies...)
	}
	specs, err := backends.specs(e.ollama, *backendURL, *backendKey, *ctxLen)
	if err != nil {
		return err
	}
	if *concurrency <= 0 || *queue < 0 {
		return errUsage{"--backend-concurrency must be at least 1 and --backend-queue at least 0"}
	}
	log := slog.New(slog.NewJSONHandler(e.stderr, nil))
	q := *queue
	if q == 0 {
		q = -1 // PoolConfig's "none may wait"
	}
	pool, err := llm.NewPool(llm.PoolConfig{Backends: specs, MaxConcurrent: *concurrency, MaxQueue: q, Log: log})
	if err != nil {
		return errUsage{"--backend: " + err.Error()}
	}
	defer pool.Close()
	var (
		model    agent.Model             = pool
		embedder knowledge.QueryEmbedder = pool
		served   publish.ModelLister     = pool
	)
	lim := hub.DefaultServeLimits
	lim.ConnsPerIP = *perIP
	h, err := hub.New(hub.Config{Dir: e.data, Model: model, Embedder: embedder, Import: hub.Importer(served), RatePerMinute: *rate,
		MaxBundle: *maxBundle << 20, Retention: *retention, TrustedProxies: trusted, Limits: lim, Log: log})
	if err != nil {
		return err
	}
	defer h.Close()
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return fmt.Errorf("couldn't listen on %s: %w", *addr, err)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	fmt.Fprintf(e.stdout, "Atoll hub serving on http://%s/ (data in %s)\n", ln.Addr(), e.data)
	return h.Serve(ctx, ln)
}

// backendList is the repeatable --backend flag: KIND=URL values, or one
// bare KIND (the older single-backend form).
type backendList []string

func (b *backendList) String() string { return strings.Join(*b, " ") }

func (b *backendList) Set(v string) error {
	*b = append(*b, v)
	return nil
}

// specs turns the flags into the pool's backends. A bare "ollama" is the
// server at --ollama, a bare "openai" the one at --backend-url; a bare kind
// cannot be mixed with KIND=URL values, so a pool is always spelled out.
func (b backendList) specs(ollamaURL, openaiURL, key string, ctxLen int) ([]llm.BackendSpec, error) {
	var out []llm.BackendSpec
	bare := ""
	for _, v := range b {
		if !strings.Contains(v, "=") {
			if v != "ollama" && v != "openai" {
				return nil, errUsage{fmt.Sprintf("--backend %q: write KIND=URL with KIND ollama or openai, e.g. --backend ollama=http://gpu1:11434", v)}
			}
			if bare != "" || len(b) > 1 {
				return nil, errUsage{fmt.Sprintf("--backend %q: with several backends give each as KIND=URL (ollama=http://host:11434, openai=http://host:8000/v1)", v)}
			}
			bare = v
			continue
		}
		s, err := llm.ParseBackend(v)
		if err != nil {
			return nil, errUsage{"--backend " + err.Error()}
		}
		out = append(out, s)
	}
	switch {
	case bare == "openai" && openaiURL == "":
		return nil, errUsage{"--backend openai needs --backend-url URL (or write --backend openai=URL)"}
	case bare == "openai":
		out = append(out, llm.BackendSpec{Kind: "openai", URL: openaiURL})
	case openaiURL != "":
		return nil, errUsage{"--backend-url goes with --backend openai; for a pool write --backend openai=URL"}
	case len(out) == 0:
		out = append(out, llm.BackendSpec{Kind: "ollama", URL: ollamaURL})
	}
	for i := range out {
		if out[i].Kind == "openai" {
			out[i].Key, out[i].ContextLength = key, ctxLen
		}
	}
	return out, nil
}

// proxyList is the repeatable --trusted-proxy flag.
type proxyList []netip.Prefix

func (p *proxyList) String() string {
	s := make([]string, len(*p))
	for i, x := range *p {
		s[i] = x.String()
	}
	return strings.Join(s, ",")
}

func (p *proxyList) Set(v string) error {
	x, err := hub.ParseTrustedProxy(v)
	if err != nil {
		return err
	}
	*p = append(*p, x)
	return nil
}

// hubToken: `atoll hub token create|list|revoke`.
func (e *env) hubToken(args []string) error {
	const subs = "create [--label TEXT], list [--json] or revoke ID"
	if len(args) == 0 || strings.HasPrefix(args[0], "-") {
		if len(args) > 0 && (args[0] == "-h" || args[0] == "--help" || args[0] == "-help") {
			e.groupHelp("hub token", subcommands("hub token"))
			return flag.ErrHelp
		}
		return errUsage{"hub token needs a subcommand: " + subs}
	}
	tokens := hub.NewTokens(e.data)
	switch args[0] {
	case "create":
		f := e.flags("hub token create", "[--label TEXT]")
		label := f.String("label", "", "a note to recognise the token by")
		pos, err := parse(f, args[1:])
		if err != nil {
			return err
		}
		if len(pos) > 0 {
			return errUsage{fmt.Sprintf("hub token create takes no arguments (got %q); give a note with --label TEXT", pos[0])}
		}
		tok, id, err := tokens.CreateWithID(*label)
		if err != nil {
			return err
		}
		fmt.Fprintln(e.stdout, tok)
		fmt.Fprintf(e.stderr, "Keep this token (id %s): only its hash is stored. Publish with: atoll publish --agent NAME --to URL --token TOKEN\n", id)
		return nil
	case "list":
		f := e.flags("hub token list", "[--json]")
		asJSON := f.Bool("json", false, "print the tokens as JSON")
		pos, err := parse(f, args[1:])
		if err != nil {
			return err
		}
		if len(pos) > 0 {
			return errUsage{fmt.Sprintf("hub token list takes no arguments (got %q)", pos[0])}
		}
		list, err := tokens.List()
		if err != nil {
			return err
		}
		if *asJSON {
			return writeJSON(e, list)
		}
		if len(list) == 0 {
			fmt.Fprintln(e.stderr, "No tokens yet: create one with `atoll hub token create --label NOTE`.")
			return nil
		}
		tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "ID\tLABEL\tCREATED")
		for _, t := range list {
			fmt.Fprintf(tw, "%s\t%s\t%s\n", t.ID, t.Label, t.Created.Local().Format("2006-01-02 15:04"))
		}
		return tw.Flush()
	case "revoke":
		f := e.flags("hub token revoke", "ID")
		pos, err := parse(f, args[1:])
		if err != nil {
			return err
		}
		if len(pos) != 1 {
			return errUsage{"hub token revoke needs one token ID (`atoll hub token list` shows them)"}
		}
		if err := tokens.Revoke(pos[0]); err != nil {
			if errors.Is(err, hub.ErrNoToken) {
				return fmt.Errorf("there is no token with id %q: `atoll hub token list` shows them", pos[0])
			}
			return err
		}
		fmt.Fprintf(e.stderr, "Revoked token %s: it can no longer publish.\n", pos[0])
		return nil
	}
	return errUsage{fmt.Sprintf("unknown hub token subcommand %q: use %s", args[0], subs)}
}
