package e2e

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"atoll/agent"
	"atoll/hub"
	"atoll/hubstore"
	"atoll/internal/hubtest"
	"atoll/internal/ollamatest"
	"atoll/llm"
	"atoll/store"
)

// TestHubChatPageAndWidget: a published agent answers on its public page in
// a real browser, streamed from the real Ollama server, and the widget works
// on a page of another origin.
func TestHubChatPageAndWidget(t *testing.T) {
	srv := ollamatest.Shared(t)
	e := start(t, srv.URL) // the browser (and an app server we do not use here)
	c, _ := llm.New(srv.URL)
	// The agent is written as a hub folder from before the database (data/),
	// which the hub imports on its first start into the default workspace.
	hubDir := t.TempDir()
	data := filepath.Join(hubDir, "data")
	seedKB(t, data, "bakery", store.Doc{Path: "/docs/faq.md", Name: "faq.md", Hash: "1", Status: store.StatusOK, Chunks: []store.Chunk{{Text: "Custom birthday cakes need at least 48 hours notice."}}})
	seedAgent(t, data, agent.Definition{Name: "baker", Model: srv.ChatModel, KBs: []string{"bakery"}, Opening: "Welcome to the bakery!"})
	_, hs := hubtest.Serve(t, hub.Config{Dir: hubDir, Model: c, Embedder: c})

	e.run("hub page",
		chromedp.Navigate(hs.URL+"/a/baker"),
		chromedp.WaitVisible(chromedp.CSS("#q")),
		chromedp.SendKeys(chromedp.CSS("#q"), "How much notice do birthday cakes need?"),
		chromedp.SendKeys(chromedp.CSS("#q"), kb.Enter),
		waitText(chromedp.CSS(".msg.bot:last-child"), func(s string) bool { return s != "" && s != "…" }, nil),
	)
	e.screenshot("hub-chat")
	if n := eval[int](e, `document.querySelectorAll('.msg.user').length`); n != 1 {
		t.Fatalf("user messages on the page: %d", n)
	}

	// A shop's page on another origin embeds the widget with one tag.
	host := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		fmt.Fprintf(w, `<!doctype html><title>Shop</title><h1>Sweet Crumb</h1><script src="%s/widget.js" data-agent="baker" async></script>`, hs.URL)
	}))
	defer host.Close()
	if strings.Split(host.URL, ":")[2] == strings.Split(hs.URL, ":")[2] {
		t.Fatal("the host page must be on another origin")
	}
	e.run("widget",
		chromedp.Navigate(host.URL+"/"),
		chromedp.WaitVisible(chromedp.CSS(`button[data-atoll-widget="baker"]`)),
		chromedp.Click(chromedp.CSS(`button[data-atoll-widget="baker"]`)),
		chromedp.WaitVisible(chromedp.CSS(`iframe[title="baker"]`)),
	)
	if src := eval[string](e, `document.querySelector('iframe[title="baker"]').src`); !strings.HasPrefix(src, hs.URL+"/a/baker") {
		t.Fatalf("widget frame points at %q", src)
	}
	e.screenshot("hub-widget")
}

// TestPublishFromWindow: the Publish screen uploads the agent to a hub (one
// click after the address and token), shows the public link, and the
// published agent answers on its chat page.
func TestPublishFromWindow(t *testing.T) {
	srv := ollamatest.Shared(t)
	// The desktop side: a knowledge base and an agent, there before the app starts.
	e := start(t, srv.URL, func(data string) {
		seedKB(t, data, "bakery", store.Doc{Path: "/docs/faq.md", Name: "faq.md", Hash: "1", Status: store.StatusOK, Chunks: []store.Chunk{{Text: "Custom birthday cakes need at least 48 hours notice."}}})
		seedAgent(t, data, agent.Definition{Name: "baker", Model: srv.ChatModel, KBs: []string{"bakery"}, Opening: "Hi from the hub"})
	})
	c, _ := llm.New(srv.URL)
	h, hs := hubtest.Serve(t, hub.Config{Model: c, Embedder: c, Import: hub.Importer(c)})
	ctx := context.Background()
	ws, tok := hubtest.Workspace(t, h, hub.DefaultWorkspace)

	e.run("publish", publishFromWindow(e.url, hs.URL, tok, "version 1")...)
	e.screenshot("publish")
	// Publish again, then roll back from the window.
	e.run("republish and roll back", append(publishAgain("version 2"),
		chromedp.Click(tid("publish-rollback")),
		waitText(tid("publish-rolled-back"), func(s string) bool { return strings.Contains(s, "back to version 1") }, nil),
	)...)
	link := eval[string](e, `document.querySelector('[data-testid="publish-link"]').href`)
	if link != hs.URL+"/a/baker" {
		t.Fatalf("public link %q", link)
	}
	if w := eval[string](e, `document.querySelector('[data-testid="publish-widget"]').textContent`); !strings.Contains(w, hs.URL+"/widget.js") {
		t.Fatalf("widget snippet %q", w)
	}
	// A lead captured on the hub (the capture itself is tested with a
	// scripted tool call in cmd/atoll) comes back through the Leads screen.
	now := time.Now()
	lead := hubstore.Lead{Agent: "baker", Name: "Ana", Phone: "+31 612 345 678", Fields: map[string]string{"name": "Ana", "phone": "+31 612 345 678"}, Created: now, Updated: now}
	if _, _, err := h.Store().SaveLead(ctx, ws.ID, "baker", "", lead); err != nil {
		t.Fatal(err)
	}
	e.run("pull leads",
		chromedp.Click(tid("nav-leads")),
		chromedp.WaitEnabled(tid("leads-pull")),
		chromedp.Click(tid("leads-pull")),
		waitText(tid("lead-row"), func(s string) bool { return strings.Contains(s, "Ana") && strings.Contains(s, "+31 612 345 678") }, nil),
	)
	e.screenshot("leads")
	e.run("published page",
		chromedp.Navigate(link),
		waitText(chromedp.CSS(".msg.bot"), func(s string) bool { return strings.Contains(s, "Hi from the hub") }, nil),
	)
}
