package e2e

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"atoll/agent"
	"atoll/internal/ollamafake"
)

// typeInto sets an input's value and fires the input event Svelte listens to.
func typeInto(id, value string) chromedp.Action[chromedp.Void] {
	return chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		_, err := chromedp.Evaluate[any](fmt.Sprintf(`(() => { const el = document.querySelector('[data-testid=%q]'); el.value = %q; el.dispatchEvent(new Event('input', {bubbles: true})); return null; })()`, id, value))(ctx, t)
		return err
	})
}

// TestAgentAvatarAndContext: the editor's avatar and context length reach the
// saved definition (agent.Definition's avatar and numCtx), the avatar shows
// in the agent list, and a context length out of range is refused before
// saving.
func TestAgentAvatarAndContext(t *testing.T) {
	fake := ollamafake.New(t)
	e := start(t, fake.URL, func(data string) {
		seedAgent(t, data, agent.Definition{Name: "baker", Model: ollamafake.DefaultChatModel})
	})
	repo := agent.NewRepo(filepath.Join(e.data, "agents"))
	e.run("open the agent",
		chromedp.Navigate(e.url+"/#/agents"),
		// The only agent opens by itself; clicking its row as a user would
		// must not reload it under the typing.
		chromedp.WaitVisible(tid("agent-row-baker")),
		waitText(tid("agent-version"), func(s string) bool { return strings.Contains(s, "1") }, nil),
		chromedp.Click(tid("agent-row-baker")),
		typeInto("agent-numctx", "100"),
		waitText(tid("agent-numctx-error"), func(s string) bool { return strings.Contains(s, "512") }, nil),
	)
	if !eval[bool](e, `document.querySelector('[data-testid="agent-save"]').disabled`) {
		t.Fatal("Save is enabled with a context length of 100")
	}
	e.run("save",
		typeInto("agent-numctx", "16384"),
		typeInto("agent-avatar", "🥐"),
		chromedp.WaitEnabled(tid("agent-save")),
		chromedp.Click(tid("agent-save")),
		waitText(tid("agent-version"), func(s string) bool { return strings.Contains(s, "2") }, nil),
		waitText(tid("agent-row-baker"), func(s string) bool { return strings.Contains(s, "🥐") }, nil),
	)
	d, err := repo.Get("baker")
	if err != nil {
		t.Fatal(err)
	}
	if d.Avatar != "🥐" || d.NumCtx != 16384 || d.Version != 2 {
		t.Fatalf("saved avatar %q, numCtx %d, version %d; want 🥐, 16384, 2", d.Avatar, d.NumCtx, d.Version)
	}
	e.run("clear the context length",
		typeInto("agent-numctx", ""),
		chromedp.Click(tid("agent-save")),
		waitText(tid("agent-version"), func(s string) bool { return strings.Contains(s, "3") }, nil),
	)
	if d, _ := repo.Get("baker"); d.NumCtx != 0 || d.Avatar != "🥐" {
		t.Fatalf("after clearing: numCtx %d, avatar %q; want 0 (the model's own) and 🥐", d.NumCtx, d.Avatar)
	}
	e.screenshot("agent-fields")
}
