package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"atoll/agent"
	"atoll/hub"
	"atoll/knowledge"
	"atoll/llm"
	"atoll/publish"
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
