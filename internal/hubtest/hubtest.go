// Package hubtest starts an in-process hub for the app's and the browser's
// tests, with the workspaces and publisher tokens they publish with.
package hubtest

import (
	"context"
	"net/http/httptest"
	"testing"

	"atoll/hub"
	"atoll/hubstore"
)

// Serve starts a hub made with cfg (in a temporary folder when cfg.Dir is
// empty) behind a test server; both close when the test ends.
func Serve(t testing.TB, cfg hub.Config) (*hub.Hub, *httptest.Server) {
	t.Helper()
	if cfg.Dir == "" {
		cfg.Dir = t.TempDir()
	}
	h, err := hub.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(h.Close)
	srv := httptest.NewServer(h.Handler())
	t.Cleanup(srv.Close)
	return h, srv
}

// Workspace creates the workspace name on h and a publisher token for it.
func Workspace(t testing.TB, h *hub.Hub, name string) (hubstore.Workspace, string) {
	t.Helper()
	ws, err := h.Store().CreateWorkspace(context.Background(), name)
	if err != nil {
		t.Fatal(err)
	}
	return ws, Token(t, h, ws.ID)
}

// Token makes a publisher token for the workspace with id ws.
func Token(t testing.TB, h *hub.Hub, ws string) string {
	t.Helper()
	tok, hash := hub.NewToken()
	if _, err := h.Store().CreateToken(context.Background(), ws, "test", hash); err != nil {
		t.Fatal(err)
	}
	return tok
}
