package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"atoll/app"
	"atoll/frontend"
	"atoll/server"
)

func (e *env) serve(args []string) error {
	f := e.flags("serve", "[--addr 127.0.0.1:7860] [--token TOKEN]")
	addr := f.String("addr", "127.0.0.1:7860", "address to listen on (loopback by default)")
	token := f.String("token", "", "access token; required (generated when empty) when --addr is not loopback")
	if _, err := parse(f, args); err != nil {
		return err
	}
	if !server.IsLoopback(*addr) && *token == "" {
		b := make([]byte, 16)
		_, _ = rand.Read(b)
		*token = hex.EncodeToString(b)
	}
	broker := server.NewBroker()
	a, err := app.New(app.Config{DataDir: e.data, OllamaURL: e.ollama, Version: version, Holder: "atoll serve"}, broker, nil)
	if err != nil {
		return err
	}
	defer a.Close()
	ui, err := fs.Sub(frontend.Dist, "dist")
	if err != nil {
		return err
	}
	if _, err := fs.Stat(ui, "index.html"); err != nil {
		fmt.Fprintln(e.stderr, "note: the frontend is not built (frontend/dist is empty); run `make build` for the interface. The API works.")
	}
	log := slog.New(slog.NewTextHandler(e.stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	srv := &server.Server{App: a, UI: ui, Token: *token, Upload: filepath.Join(e.data, "uploads"), Log: log, Addr: *addr}
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return fmt.Errorf("couldn't listen on %s: %w", *addr, err)
	}
	// No ReadTimeout: a large upload on a slow link may take long, and the
	// body is bounded by MaxUploadBody instead.
	hs := &http.Server{Handler: srv.Handler(broker), ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 2 * time.Minute, MaxHeaderBytes: 64 << 10}
	ifaces, _ := net.InterfaceAddrs()
	where := server.OpenableAddresses(*addr, ln.Addr(), *token, ifaces)
	fmt.Fprintf(e.stdout, "Atoll is serving on %s\n", where.Local)
	switch {
	case len(where.Others) > 0 && where.Others[0] != where.Local:
		fmt.Fprintf(e.stdout, "From other computers: %s\n", strings.Join(where.Others, "  "))
	case where.Every && len(where.Others) == 0:
		fmt.Fprintf(e.stdout, "It listens on every address of this computer; from another computer, open this computer's address with the same port and ?token=%s\n", *token)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	go func() {
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		defer cancel()
		_ = hs.Shutdown(sctx)
	}()
	if err := hs.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
