package e2e

import (
	"context"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"atoll/agent"
	"atoll/hub"
	"atoll/internal/hubtest"
	"atoll/internal/ollamatest"
	"atoll/llm"
	"atoll/store"
)

// TestPublishUnderPublicNameFromWindow: on a hub shared by two workspaces,
// the window publishes "baker" for the first; with the second's token the
// hub refuses the name and the window says to choose a public name (no
// command-line flag); with "baker-a" typed it publishes, links to
// /a/baker-a, shows that agent's access panel for the local "baker", and
// after a reload the field shows the remembered name.
func TestPublishUnderPublicNameFromWindow(t *testing.T) {
	srv := ollamatest.Shared(t)
	e := start(t, srv.URL, func(data string) {
		seedKB(t, data, "bakery", store.Doc{Path: "/docs/faq.md", Name: "faq.md", Hash: "1", Status: store.StatusOK, Chunks: []store.Chunk{{Text: "Custom birthday cakes need at least 48 hours notice."}}})
		seedAgent(t, data, agent.Definition{Name: "baker", Model: srv.ChatModel, KBs: []string{"bakery"}, Opening: "Hi from the hub"})
	})
	c, _ := llm.New(srv.URL)
	h, hs := hubtest.Serve(t, hub.Config{Model: c, Embedder: c, Import: hub.Importer(c)})
	ctx := context.Background()
	_, other := hubtest.Workspace(t, h, "other-shop")
	_, mine := hubtest.Workspace(t, h, "my-shop")

	e.run("another workspace publishes baker", publishFromWindow(e.url, hs.URL, other, "baker is published (version 1)")...)
	var refused string
	e.run("the name is taken",
		chromedp.SendKeys(tid("publish-token"), mine),
		chromedp.WaitEnabled(tid("publish-submit")),
		chromedp.Click(tid("publish-submit")),
		waitText(tid("publish-error"), func(s string) bool { return s != "" }, &refused),
	)
	if strings.TrimSpace(refused) != "Another workspace on this hub already uses the name “baker”: choose a public name above." {
		t.Fatalf("the refusal reads %q", refused)
	}
	if p := eval[string](e, `document.querySelector('[data-testid="publish-public"]').placeholder`); p != "baker" {
		t.Fatalf("the public name's placeholder is %q", p)
	}
	e.run("publish as baker-a",
		chromedp.SendKeys(tid("publish-public"), "baker-a"),
		chromedp.Click(tid("publish-submit")),
		waitText(tid("publish-result"), func(s string) bool { return strings.Contains(s, "baker-a is published (version 1)") }, nil),
		// The access panel of the local baker is baker-a's, in this workspace.
		chromedp.WaitVisible(tid("publish-access")),
	)
	if link := eval[string](e, `document.querySelector('[data-testid="publish-link"]').href`); link != hs.URL+"/a/baker-a" {
		t.Fatalf("public link %q", link)
	}
	if a, err := h.Store().ResolveAgent(ctx, "baker"); err != nil || a.Current != 1 {
		t.Fatalf("the other workspace's baker: %+v %v", a, err)
	}
	e.run("remembered after a reload",
		chromedp.Reload(),
		waitJS(`document.querySelector('[data-testid="publish-public"]')?.value === 'baker-a'`),
	)
}
