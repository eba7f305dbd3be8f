package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"atoll/agent"
	"atoll/hub"
	"atoll/knowledge"
	"atoll/llm"
	"atoll/publish"
	"atoll/store"
)

// hubCmd: `atoll hub` runs the hosted platform; `atoll hub token create`
// makes a publisher token. --data is the hub's own folder.
func (e *env) hubCmd(args []string) error {
	if len(args) >= 2 && args[0] == "token" && args[1] == "create" {
		f := e.flags("hub token create", "[--label TEXT]")
		label := f.String("label", "", "a note to recognise the token by")
		if _, err := parse(f, args[2:]); err != nil {
			return err
		}
		tok, err := hub.NewTokens(e.data).Create(*label)
		if err != nil {
			return err
		}
		fmt.Fprintln(e.stdout, tok)
		fmt.Fprintln(e.stderr, "Keep this token: only its hash is stored. Publish with: atoll publish --agent NAME --to URL --token TOKEN")
		return nil
	}
	f := e.flags("hub", "[--addr 127.0.0.1:8080] [--rate 60] [--retention 720h] [--behind-proxy] [--backend ollama|openai --backend-url URL]")
	addr := f.String("addr", "127.0.0.1:8080", "address to listen on")
	rate := f.Int("rate", 60, "requests a minute per client IP on public routes (0 = no limit)")
	retention := f.Duration("retention", 30*24*time.Hour, "delete end users' conversations older than this (0 = keep)")
	proxy := f.Bool("behind-proxy", false, "trust X-Forwarded-For for client addresses")
	maxBundle := f.Int64("max-bundle-mb", 1024, "largest bundle accepted, in MB")
	backend := f.String("backend", "ollama", `model server: "ollama" (--ollama URL) or "openai" (any OpenAI-compatible server)`)
	backendURL := f.String("backend-url", "", `with --backend openai: its base address, e.g. http://gpu-box:8000/v1`)
	backendKey := f.String("backend-key", os.Getenv("ATOLL_BACKEND_KEY"), "with --backend openai: API key (default $ATOLL_BACKEND_KEY)")
	ctxLen := f.Int("context-length", 8192, "with --backend openai: the served models' context window in tokens")
	if _, err := parse(f, args); err != nil {
		return err
	}
	c, err := llm.New(e.ollama)
	if err != nil {
		return errUsage{err.Error()}
	}
	var model agent.Model = c
	var embedder knowledge.QueryEmbedder = c
	var served publish.ModelLister = c
	switch *backend {
	case "ollama":
	case "openai":
		o, err := llm.NewOpenAI(*backendURL, *backendKey, *ctxLen)
		if err != nil {
			return errUsage{"--backend-url: " + err.Error()}
		}
		model, embedder, served = o, o, o
	default:
		return errUsage{fmt.Sprintf("--backend %q: use ollama or openai", *backend)}
	}
	log := slog.New(slog.NewJSONHandler(e.stderr, nil))
	h, err := hub.New(hub.Config{Dir: e.data, Model: model, Embedder: embedder, Import: hub.Importer(served), RatePerMinute: *rate,
		MaxBundle: *maxBundle << 20, Retention: *retention, BehindProxy: *proxy, Log: log})
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
	go h.Run(ctx)
	hs := &http.Server{Handler: h.Handler(), ReadHeaderTimeout: 10 * time.Second}
	go func() {
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = hs.Shutdown(sctx)
	}()
	fmt.Fprintf(e.stdout, "Atoll hub serving on http://%s/ (data in %s)\n", ln.Addr(), e.data)
	if err := hs.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// publishConfig is the remembered hub address and token (DATA/publish.json,
// readable by the user only).
type publishConfig struct {
	URL   string `json:"url"`
	Token string `json:"token"`
}

func readPublishConfig(data string) publishConfig {
	var cfg publishConfig
	if b, err := os.ReadFile(filepath.Join(data, "publish.json")); err == nil {
		_ = json.Unmarshal(b, &cfg)
	}
	return cfg
}

func (e *env) publishCmd(args []string) error {
	f := e.flags("publish", "--agent NAME [--to URL] [--token TOKEN] [--with-sources]")
	name := f.String("agent", "", "agent to publish")
	to := f.String("to", "", "hub address, e.g. https://agents.example.com (remembered)")
	token := f.String("token", "", "publisher token from `atoll hub token create` (remembered)")
	withSources := f.Bool("with-sources", false, "include the original files in the bundle")
	rollback := f.Bool("rollback", false, "restore the previously published version on the hub instead of uploading")
	if _, err := parse(f, args); err != nil {
		return err
	}
	if *name == "" {
		f.Usage()
		return errUsage{"publish needs --agent NAME"}
	}
	cfgPath := filepath.Join(e.data, "publish.json")
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
	b, _ := json.MarshalIndent(cfg, "", "  ")
	if err := store.WriteFileAtomic(cfgPath, b, 0o600); err != nil {
		return err
	}
	if *rollback {
		v, err := publish.Rollback(context.Background(), cfg.URL, cfg.Token, *name)
		if err != nil {
			return err
		}
		fmt.Fprintf(e.stdout, "Rolled back %s on %s: now version %d (a copy of version %d).\n", *name, cfg.URL, v.Version, v.Restored)
		return nil
	}
	st, c, err := e.open()
	if err != nil {
		return err
	}
	defer st.Close()
	repo := agent.NewRepo(filepath.Join(e.data, "agents"))
	// The agent's test set runs first, so what is published has been checked.
	if qs, err := agent.LoadTestSet(filepath.Join(e.data, "agents"), *name); err != nil {
		return err
	} else if len(qs) > 0 {
		def, err := repo.Get(*name)
		if err != nil {
			return err
		}
		fmt.Fprintf(e.stderr, "Running the test set (%d questions)…\n", len(qs))
		run, err := agent.NewTestRuns(filepath.Join(e.data, "agents")).Run(context.Background(), e.runner(st, c), def, qs, nil)
		if err != nil {
			fmt.Fprintf(e.stderr, "note: the test set could not run (%s); publishing anyway.\n", sentence(err))
		} else {
			fmt.Fprintf(e.stdout, "Test set: %s\n", run.Summary())
		}
	}
	var bundle bytes.Buffer
	x := &publish.Exporter{Store: st, Agents: repo, Models: c, Generator: "atoll " + version}
	if _, warnings, err := x.Export(context.Background(), &bundle, *name, publish.ExportOptions{WithSources: *withSources}); err != nil {
		return err
	} else {
		for _, w := range warnings {
			fmt.Fprintln(e.stderr, "note:", w)
		}
	}
	fmt.Fprintf(e.stderr, "Uploading %s (%.1f MB) to %s…\n", *name, float64(bundle.Len())/1e6, cfg.URL)
	last := -25
	size := int64(bundle.Len())
	out, err := publish.Upload(context.Background(), cfg.URL, cfg.Token, &bundle, size, func(sent, total int64) {
		if pct := int(100 * sent / max(total, 1)); pct >= last+25 {
			last = pct
			fmt.Fprintf(e.stderr, "  %d%%\n", pct)
		}
	})
	if err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "Published %s (version %d)\nChat page: %s\nWidget: %s\nAPI: POST %s with \"model\": %q\n", out.Agent, out.Version, out.Chat, out.Widget, out.API, out.Agent)
	return nil
}
