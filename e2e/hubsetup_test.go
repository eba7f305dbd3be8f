package e2e

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"atoll/hub"
	"atoll/hubstore"
)

// serveHub starts a hub made with cfg (in a temporary folder when cfg.Dir
// is empty) behind a test server; both close when the test ends.
func serveHub(t *testing.T, cfg hub.Config) (*hub.Hub, *httptest.Server) {
	t.Helper()
	if cfg.Dir == "" {
		cfg.Dir = t.TempDir()
	}
	h, err := hub.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(h.Close)
	hs := httptest.NewServer(h.Handler())
	t.Cleanup(hs.Close)
	return h, hs
}

// newWorkspace creates the workspace name on h and a publisher token for it.
func newWorkspace(t *testing.T, h *hub.Hub, name string) (hubstore.Workspace, string) {
	t.Helper()
	ws, err := h.Store().CreateWorkspace(context.Background(), name)
	if err != nil {
		t.Fatal(err)
	}
	return ws, publisherToken(t, h, ws.ID)
}

// publisherToken makes a publisher token for the workspace with id ws.
func publisherToken(t *testing.T, h *hub.Hub, ws string) string {
	t.Helper()
	tok, hash := hub.NewToken()
	if _, err := h.Store().CreateToken(context.Background(), ws, "e2e", hash); err != nil {
		t.Fatal(err)
	}
	return tok
}

// publishFromWindow is a first publication from the Publish screen of the
// app at appURL: the hub's address and the token typed, then publishAgain.
func publishFromWindow(appURL, hubURL, token, want string) []chromedp.Action[chromedp.Void] {
	return append([]chromedp.Action[chromedp.Void]{
		chromedp.Navigate(appURL + "/#/publish"),
		chromedp.WaitVisible(tid("publish-url")),
		chromedp.SendKeys(tid("publish-url"), hubURL),
		chromedp.SendKeys(tid("publish-token"), token),
	}, publishAgain(want)...)
}

// publishAgain presses Publish, enabled once the agent list has loaded and
// one is chosen, and waits for a result that contains want.
func publishAgain(want string) []chromedp.Action[chromedp.Void] {
	return []chromedp.Action[chromedp.Void]{
		chromedp.WaitEnabled(tid("publish-submit")),
		chromedp.Click(tid("publish-submit")),
		waitText(tid("publish-result"), func(s string) bool { return strings.Contains(s, want) }, nil),
	}
}

// hubGet reads a publisher API answer of the hub as JSON.
func hubGet(t *testing.T, url, token string, out any) {
	t.Helper()
	req, _ := http.NewRequest("GET", url, nil)
	req.Header.Set("Authorization", "Bearer "+token)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	if res.StatusCode != 200 {
		b, _ := io.ReadAll(io.LimitReader(res.Body, 4096))
		t.Fatalf("GET %s: %s %s", url, res.Status, b)
	}
	if err := json.NewDecoder(res.Body).Decode(out); err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
}
