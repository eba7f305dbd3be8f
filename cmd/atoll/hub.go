package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"atoll/agent"
	"atoll/channels"
	"atoll/hub"
	"atoll/hubstore"
	"atoll/hubstore/embedded"
	"atoll/hubstore/postgres"
	"atoll/knowledge"
	"atoll/llm"
	"atoll/metrics"
	"atoll/publish"
)

// hubCmd: `atoll hub` runs the hosted platform; `atoll hub workspace …`
// and `atoll hub token …` manage workspaces and publisher tokens. --data
// is the replica's own folder; --db (or ATOLL_HUB_DB) a PostgreSQL
// database several replicas share. Anything else after `hub` is a usage
// error, never a server start.
func (e *env) hubCmd(args []string) error {
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		switch args[0] {
		case "token":
			return e.hubToken(args[1:])
		case "workspace":
			return e.hubWorkspace(args[1:])
		case "channel":
			return e.hubChannel(args[1:])
		}
		return errUsage{fmt.Sprintf("unknown hub subcommand %q: use `atoll hub [flags]` to serve, `atoll hub workspace create|list|quota`, `atoll hub token create|list|revoke` or `atoll hub channel add|list|rm`", args[0])}
	}
	f := e.flags("hub", "[--db URL] [--addr 127.0.0.1:8080] [--rate 60] [--retention 720h] [--trusted-proxy CIDR]... [--backend KIND=URL]... [--backend-concurrency 4] [--backend-queue 64] [--metrics-addr ADDR] [--channel-api-base URL]...\n       atoll hub workspace create NAME | token create [--workspace NAME] [--label TEXT] | token list [--json] | token revoke ID")
	db := dbFlag(f)
	grace := f.Duration("shutdown-grace", 30*time.Second, "on SIGTERM, how long running answers may finish before they are cut")
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
	metricsAddr := f.String("metrics-addr", "", `where Prometheus metrics are served at /metrics: "" on the hub's own address, "off" nowhere, or another address (e.g. 127.0.0.1:9464) to keep them off the public one: they name workspaces and model servers`)
	var apiBases baseList
	f.Var(&apiBases, "channel-api-base", "an API origin a publisher's channel may name as its api_base (repeatable), e.g. a local Telegram Bot API server http://127.0.0.1:8081; through the admin API any other api_base is refused, since the hub would send requests there (the operator's hub channel add --api-base may name any)")
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
	st, err := e.openHubStore(*db)
	if err != nil {
		return err
	}
	defer st.Close()
	var met *metrics.Metrics
	if *metricsAddr != "off" {
		met = metrics.New()
		met.WatchPool(pool)
	}
	h, err := hub.New(hub.Config{Dir: e.data, Store: st, Model: model, Embedder: embedder, Import: hub.Importer(served), RatePerMinute: *rate,
		MaxBundle: *maxBundle << 20, Retention: *retention, TrustedProxies: trusted, Limits: lim, ShutdownGrace: *grace, Log: log,
		Backends: pool.Status, Metrics: met, MetricsRoute: met != nil && *metricsAddr == "", ChannelAPIBases: apiBases})
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
	if met != nil && *metricsAddr != "" {
		mln, err := net.Listen("tcp", *metricsAddr)
		if err != nil {
			ln.Close()
			return fmt.Errorf("couldn't listen on %s for metrics: %w", *metricsAddr, err)
		}
		mux := http.NewServeMux()
		mux.Handle("GET /metrics", met.Handler())
		ms := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
		go ms.Serve(mln)
		defer ms.Close()
		fmt.Fprintf(e.stdout, "Metrics on http://%s/metrics\n", mln.Addr())
	}
	where := "database " + filepath.Join(e.data, embedded.File)
	if *db != "" {
		where = "PostgreSQL database " + redactDSN(*db)
	}
	fmt.Fprintf(e.stdout, "Atoll hub serving on http://%s/ (%s, cache in %s)\n", ln.Addr(), where, e.data)
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

// baseList is the repeatable --channel-api-base flag.
type baseList []string

func (b *baseList) String() string { return strings.Join(*b, " ") }

func (b *baseList) Set(v string) error {
	base, err := channels.CheckBase(v)
	if err != nil {
		return err
	}
	*b = append(*b, base)
	return nil
}

// dbFlag is --db, on `atoll hub` and every subcommand.
func dbFlag(f *flag.FlagSet) *string {
	return f.String("db", os.Getenv("ATOLL_HUB_DB"), "the hub's PostgreSQL database, postgres://user:password@host:5432/dbname, shared by every replica (default $ATOLL_HUB_DB; empty: hub.db in --data)")
}

// openHubStore opens the hub's store: PostgreSQL when dsn is set, else the
// embedded database in --data. Either is migrated on open.
func (e *env) openHubStore(dsn string) (hubstore.Storage, error) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if dsn != "" {
		st, err := postgres.Open(ctx, dsn, postgres.Options{})
		if err != nil {
			return nil, fmt.Errorf("couldn't open the hub database %s: %w", redactDSN(dsn), err)
		}
		return st, nil
	}
	return embedded.Open(ctx, e.data, embedded.Options{})
}

// redactDSN hides a password in a database address shown to the user.
func redactDSN(dsn string) string {
	if u, err := url.Parse(dsn); err == nil && u.User != nil {
		if _, ok := u.User.Password(); ok {
			u.User = url.UserPassword(u.User.Username(), "xxxxx")
		}
		return u.String()
	}
	return dsn
}

// hubAdmin opens the store for an operator command, importing a hub
// folder from before the database first (as the hub does on start), so
// its tokens are listed and revocable at once.
func (e *env) hubAdmin(dsn string) (hubstore.Storage, func(), error) {
	st, err := e.openHubStore(dsn)
	if err != nil {
		return nil, nil, err
	}
	h, err := hub.New(hub.Config{Dir: e.data, Store: st})
	if err != nil {
		st.Close()
		return nil, nil, err
	}
	h.Close()
	return st, func() { st.Close() }, nil
}

// workspaceNamed finds a workspace by name, or says how to make it.
func workspaceNamed(ctx context.Context, st hubstore.Storage, name string) (hubstore.Workspace, error) {
	ws, err := st.WorkspaceByName(ctx, name)
	if errors.Is(err, hubstore.ErrNotFound) {
		return ws, fmt.Errorf("there is no workspace called %q: create it with `atoll hub workspace create %s`", name, name)
	}
	return ws, err
}

// hubWorkspace: `atoll hub workspace create|list|quota`.
func (e *env) hubWorkspace(args []string) error {
	const subs = "create NAME, list [--json] or quota NAME [--requests-per-day N] [--max-streams N]"
	if len(args) == 0 || strings.HasPrefix(args[0], "-") {
		if len(args) > 0 && (args[0] == "-h" || args[0] == "--help" || args[0] == "-help") {
			e.groupHelp("hub workspace", subcommands("hub workspace"))
			return flag.ErrHelp
		}
		return errUsage{"hub workspace needs a subcommand: " + subs}
	}
	ctx := context.Background()
	switch args[0] {
	case "create":
		f := e.flags("hub workspace create", "NAME [--label TEXT] [--db URL]")
		label := f.String("label", "first token", "a note to recognise the first token by")
		db := dbFlag(f)
		pos, err := parse(f, args[1:])
		if err != nil {
			return err
		}
		if len(pos) != 1 || strings.TrimSpace(pos[0]) == "" {
			return errUsage{"hub workspace create needs one NAME (a business on the hub, e.g. bakery)"}
		}
		st, done, err := e.hubAdmin(*db)
		if err != nil {
			return err
		}
		defer done()
		ws, err := st.CreateWorkspace(ctx, pos[0])
		if errors.Is(err, hubstore.ErrAlreadyExists) {
			return fmt.Errorf("a workspace called %q exists already: add a token to it with `atoll hub token create --workspace %s`", pos[0], pos[0])
		}
		if err != nil {
			return err
		}
		return e.printNewToken(ctx, st, ws, *label)
	case "list":
		f := e.flags("hub workspace list", "[--json] [--db URL]")
		asJSON := f.Bool("json", false, "print the workspaces as JSON")
		db := dbFlag(f)
		pos, err := parse(f, args[1:])
		if err != nil {
			return err
		}
		if len(pos) > 0 {
			return errUsage{fmt.Sprintf("hub workspace list takes no arguments (got %q)", pos[0])}
		}
		st, done, err := e.hubAdmin(*db)
		if err != nil {
			return err
		}
		defer done()
		list, err := st.Workspaces(ctx)
		if err != nil {
			return err
		}
		type wsJSON struct {
			Name           string    `json:"name"`
			Created        time.Time `json:"created"`
			RequestsPerDay int64     `json:"requestsPerDay"`
			MaxStreams     int       `json:"maxStreams"`
		}
		out := []wsJSON{}
		for _, w := range list {
			out = append(out, wsJSON{w.Name, w.Created, w.RequestsPerDay, w.MaxStreams})
		}
		if *asJSON {
			return writeJSON(e, out)
		}
		if len(out) == 0 {
			fmt.Fprintln(e.stderr, "No workspaces yet: create one with `atoll hub workspace create NAME`.")
			return nil
		}
		tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "NAME\tREQUESTS/DAY\tSTREAMS\tCREATED")
		for _, w := range out {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", cleanCell(w.Name), quota(w.RequestsPerDay), quota(int64(w.MaxStreams)), w.Created.Local().Format("2006-01-02 15:04"))
		}
		return tw.Flush()
	case "quota":
		f := e.flags("hub workspace quota", "NAME [--requests-per-day N] [--max-streams N] [--db URL]")
		perDay := f.Int64("requests-per-day", -1, "questions a day across the workspace's agents (0 = no limit)")
		streams := f.Int("max-streams", -1, "answers running at once, across replicas (0 = no limit)")
		db := dbFlag(f)
		pos, err := parse(f, args[1:])
		if err != nil {
			return err
		}
		if len(pos) != 1 {
			return errUsage{"hub workspace quota needs one workspace NAME"}
		}
		if *perDay < -1 || *streams < -1 {
			return errUsage{"quotas are 0 (no limit) or more"}
		}
		st, done, err := e.hubAdmin(*db)
		if err != nil {
			return err
		}
		defer done()
		ws, err := workspaceNamed(ctx, st, pos[0])
		if err != nil {
			return err
		}
		ws, err = st.UpdateWorkspace(ctx, ws.ID, func(w hubstore.Workspace) (hubstore.Workspace, error) {
			if *perDay >= 0 {
				w.RequestsPerDay = *perDay
			}
			if *streams >= 0 {
				w.MaxStreams = *streams
			}
			return w, nil
		})
		if err != nil {
			return err
		}
		fmt.Fprintf(e.stdout, "Workspace %s: %s requests a day, %s answers at once.\n", cleanCell(ws.Name), quota(ws.RequestsPerDay), quota(int64(ws.MaxStreams)))
		return nil
	}
	return errUsage{fmt.Sprintf("unknown hub workspace subcommand %q: use %s", args[0], subs)}
}

func quota(n int64) string {
	if n <= 0 {
		return "unlimited"
	}
	return fmt.Sprint(n)
}

// cleanCell keeps control characters of a name out of the terminal.
func cleanCell(s string) string {
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return '?'
		}
		return r
	}, s)
}

func (e *env) printNewToken(ctx context.Context, st hubstore.Storage, ws hubstore.Workspace, label string) error {
	tok, hash := hub.NewToken()
	t, err := st.CreateToken(ctx, ws.ID, label, hash)
	if err != nil {
		return err
	}
	fmt.Fprintln(e.stdout, tok)
	fmt.Fprintf(e.stderr, "Keep this token of workspace %s (id %s): only its hash is stored. Publish with: atoll publish --agent NAME --to URL --token TOKEN\n", cleanCell(ws.Name), t.ID)
	return nil
}

// hubToken: `atoll hub token create|list|revoke`.
func (e *env) hubToken(args []string) error {
	const subs = "create [--workspace NAME] [--label TEXT], list [--workspace NAME] [--json] or revoke ID"
	if len(args) == 0 || strings.HasPrefix(args[0], "-") {
		if len(args) > 0 && (args[0] == "-h" || args[0] == "--help" || args[0] == "-help") {
			e.groupHelp("hub token", subcommands("hub token"))
			return flag.ErrHelp
		}
		return errUsage{"hub token needs a subcommand: " + subs}
	}
	ctx := context.Background()
	switch args[0] {
	case "create":
		f := e.flags("hub token create", "[--workspace NAME] [--label TEXT] [--db URL]")
		label := f.String("label", "", "a note to recognise the token by")
		wsName := f.String("workspace", "", `the workspace the token acts in (default "default", made when missing: a hub of one business)`)
		db := dbFlag(f)
		pos, err := parse(f, args[1:])
		if err != nil {
			return err
		}
		if len(pos) > 0 {
			return errUsage{fmt.Sprintf("hub token create takes no arguments (got %q); give a note with --label TEXT", pos[0])}
		}
		st, done, err := e.hubAdmin(*db)
		if err != nil {
			return err
		}
		defer done()
		var ws hubstore.Workspace
		if *wsName == "" {
			ws, err = st.WorkspaceByName(ctx, hub.DefaultWorkspace)
			if errors.Is(err, hubstore.ErrNotFound) {
				ws, err = st.CreateWorkspace(ctx, hub.DefaultWorkspace)
			}
		} else {
			ws, err = workspaceNamed(ctx, st, *wsName)
		}
		if err != nil {
			return err
		}
		return e.printNewToken(ctx, st, ws, *label)
	case "list":
		f := e.flags("hub token list", "[--workspace NAME] [--json] [--db URL]")
		asJSON := f.Bool("json", false, "print the tokens as JSON")
		wsName := f.String("workspace", "", "only this workspace's tokens")
		db := dbFlag(f)
		pos, err := parse(f, args[1:])
		if err != nil {
			return err
		}
		if len(pos) > 0 {
			return errUsage{fmt.Sprintf("hub token list takes no arguments (got %q)", pos[0])}
		}
		st, done, err := e.hubAdmin(*db)
		if err != nil {
			return err
		}
		defer done()
		var wss []hubstore.Workspace
		if *wsName != "" {
			ws, err := workspaceNamed(ctx, st, *wsName)
			if err != nil {
				return err
			}
			wss = []hubstore.Workspace{ws}
		} else if wss, err = st.Workspaces(ctx); err != nil {
			return err
		}
		type tokJSON struct {
			ID        string    `json:"id"`
			Workspace string    `json:"workspace"`
			Label     string    `json:"label"`
			Created   time.Time `json:"created"`
		}
		list := []tokJSON{}
		for _, ws := range wss {
			ts, err := st.Tokens(ctx, ws.ID)
			if err != nil {
				return err
			}
			for _, t := range ts {
				if t.Revoked.IsZero() {
					list = append(list, tokJSON{t.ID, ws.Name, t.Label, t.Created})
				}
			}
		}
		if *asJSON {
			return writeJSON(e, list)
		}
		if len(list) == 0 {
			fmt.Fprintln(e.stderr, "No tokens yet: create one with `atoll hub token create --workspace NAME --label NOTE`.")
			return nil
		}
		tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "ID\tWORKSPACE\tLABEL\tCREATED")
		for _, t := range list {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", t.ID, cleanCell(t.Workspace), cleanCell(t.Label), t.Created.Local().Format("2006-01-02 15:04"))
		}
		return tw.Flush()
	case "revoke":
		f := e.flags("hub token revoke", "ID [--db URL]")
		db := dbFlag(f)
		pos, err := parse(f, args[1:])
		if err != nil {
			return err
		}
		if len(pos) != 1 {
			return errUsage{"hub token revoke needs one token ID (`atoll hub token list` shows them)"}
		}
		st, done, err := e.hubAdmin(*db)
		if err != nil {
			return err
		}
		defer done()
		t, err := st.FindToken(ctx, pos[0])
		if err == nil && !t.Revoked.IsZero() {
			err = hubstore.ErrNotFound
		}
		if err == nil {
			err = st.RevokeToken(ctx, t.Workspace, t.ID)
		}
		if errors.Is(err, hubstore.ErrNotFound) {
			return fmt.Errorf("there is no token with id %q: `atoll hub token list` shows them", pos[0])
		}
		if err != nil {
			return err
		}
		fmt.Fprintf(e.stderr, "Revoked token %s: it can no longer publish, on every replica.\n", pos[0])
		return nil
	}
	return errUsage{fmt.Sprintf("unknown hub token subcommand %q: use %s", args[0], subs)}
}
