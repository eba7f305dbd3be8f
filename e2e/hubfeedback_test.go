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

	"github.com/chromedp/cdproto/target"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"atoll/agent"
	"atoll/hub"
	"atoll/hubstore"
	"atoll/internal/hubtest"
	"atoll/internal/ollamafake"
	"atoll/llm"
	"atoll/review"
	"atoll/store"
)

// TestHubWidgetFeedback: a customer on a shop's site asks the widget a
// question, votes the answer down with a comment, and the hub's review
// queue has both; voting it up then replaces the vote, and pressing the
// same thumb again takes it back. The widget's frame is the hub's chat
// page, so this covers the page too.
func TestHubWidgetFeedback(t *testing.T) {
	fake := ollamafake.New(t)
	fake.OnChat(func(req ollamafake.ChatRequest) ollamafake.Reply {
		return ollamafake.Reply{Text: "Birthday cakes need 48 hours notice."}
	})
	e := start(t, fake.URL)
	c, _ := llm.New(fake.URL)
	hubDir := t.TempDir()
	data := filepath.Join(hubDir, "data")
	seedKB(t, data, "bakery", store.Doc{Path: "/docs/faq.md", Name: "faq.md", Hash: "1", Status: store.StatusOK, Chunks: []store.Chunk{{Text: "Custom birthday cakes need at least 48 hours notice."}}})
	seedAgent(t, data, agent.Definition{Name: "baker", Model: ollamafake.DefaultChatModel, KBs: []string{"bakery"}, Opening: "Welcome to the bakery!"})
	h, hs := hubtest.Serve(t, hub.Config{Dir: hubDir, Model: c, Embedder: c})
	ctx := context.Background()
	ws, err := h.Store().WorkspaceByName(ctx, hub.DefaultWorkspace)
	if err != nil {
		t.Fatal(err)
	}
	tok := hubtest.Token(t, h, ws.ID)

	// The shop is another site (localhost, the hub 127.0.0.1), so Chromium
	// runs the widget's frame in its own process, as it would on the web.
	host := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		fmt.Fprintf(w, `<!doctype html><title>Shop</title><h1>Sweet Crumb</h1><script src="%s/widget.js" data-agent="baker" async></script>`, hs.URL)
	}))
	defer host.Close()
	shop := strings.Replace(host.URL, "127.0.0.1", "localhost", 1)
	e.run("open the widget",
		chromedp.Navigate(shop+"/"),
		chromedp.WaitVisible(chromedp.CSS(`button[data-atoll-widget="baker"]`)),
		chromedp.Click(chromedp.CSS(`button[data-atoll-widget="baker"]`)),
		chromedp.WaitVisible(chromedp.CSS(`iframe[title="baker"]`)),
	)
	fr := frameOf(t, e, hs.URL+"/a/baker")

	const q = "How much notice do birthday cakes need?"
	fr.run("ask in the widget",
		chromedp.WaitVisible(chromedp.CSS("#q")),
		chromedp.SendKeys(chromedp.CSS("#q"), q),
		chromedp.SendKeys(chromedp.CSS("#q"), kb.Enter),
		chromedp.WaitVisible(chromedp.CSS(`.msg.bot .fb button[data-rating="-1"]`)),
	)
	if p := eval[string](fr, `document.querySelector('.fb button[data-rating="-1"]').getAttribute('aria-pressed')`); p != "false" {
		t.Fatalf("before any vote the thumbs down is pressed=%q", p)
	}
	if n := eval[int](fr, `document.querySelectorAll('.fb').length`); n != 1 {
		t.Fatalf("%d feedback bars for one answer (the opening message has none)", n)
	}
	const comment = "Do you also bake gluten-free cakes?"
	fr.run("thumbs down with a comment",
		chromedp.Click(chromedp.CSS(`.fb button[data-rating="-1"]`)),
		waitJS(`document.querySelector('.fb button[data-rating="-1"]').getAttribute('aria-pressed') === 'true'`),
		chromedp.WaitVisible(chromedp.CSS(`textarea.fb-comment`)),
		chromedp.SendKeys(chromedp.CSS(`textarea.fb-comment`), comment),
		chromedp.Click(chromedp.CSS(`button.fb-send`)),
		waitJS(`document.querySelector('.fb').classList.contains('fb-saved')`),
	)
	e.screenshot("hub-feedback") // the shop page with the widget open

	// The publisher's review queue (what `atoll review pull` reads) has it.
	var pulled struct {
		Items []review.Item `json:"items"`
	}
	hubGet(t, hs.URL+"/api/agents/baker/review", tok, &pulled)
	if len(pulled.Items) != 1 || pulled.Items[0].Question != q || pulled.Items[0].Rating != -1 || pulled.Items[0].Comment != comment {
		t.Fatalf("review queue after the thumbs down: %+v", pulled.Items)
	}
	conv := pulled.Items[0].Conversation

	fr.run("change to thumbs up",
		chromedp.Click(chromedp.CSS(`.fb button[data-rating="1"]`)),
		waitJS(`document.querySelector('.fb button[data-rating="1"]').getAttribute('aria-pressed') === 'true' && document.querySelector('.fb').classList.contains('fb-saved')`),
	)
	if p := eval[string](fr, `document.querySelector('.fb button[data-rating="-1"]').getAttribute('aria-pressed')`); p != "false" {
		t.Fatalf("after voting up the thumbs down is still pressed=%q", p)
	}
	if fb := storedVote(t, h, ws.ID, conv); fb.Rating != 1 {
		t.Fatalf("after the thumbs up the hub keeps %+v", fb)
	}
	fr.run("take the vote back",
		chromedp.Click(chromedp.CSS(`.fb button[data-rating="1"]`)),
		waitJS(`document.querySelector('.fb button[data-rating="1"]').getAttribute('aria-pressed') === 'false' && document.querySelector('.fb').classList.contains('fb-saved')`),
	)
	if fb := storedVote(t, h, ws.ID, conv); fb.Rating != 0 || fb.Comment != "" {
		t.Fatalf("after taking the vote back the hub keeps %+v", fb)
	}

	// A refused vote says so in the bar: the hub no longer knows the
	// conversation (as after its retention period).
	if _, err := h.Store().PruneConversations(ctx, time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	fr.run("a refused vote",
		chromedp.Click(chromedp.CSS(`.fb button[data-rating="-1"]`)),
		waitJS(`document.querySelector('.fb').classList.contains('fb-error')`),
	)
	msg := eval[string](fr, `document.querySelector('.fb .fb-status').textContent`)
	if !strings.Contains(msg, "not saved") || !strings.Contains(msg, "retention") {
		t.Fatalf("the bar says %q after a refused vote", msg)
	}
	if p := eval[string](fr, `document.querySelector('.fb button[data-rating="-1"]').getAttribute('aria-pressed')`); p != "false" {
		t.Fatalf("a refused vote shows as pressed=%q", p)
	}
}

// frameOf attaches to the widget's frame, which Chromium runs as a target
// of its own (a cross-site iframe), once it has loaded url.
func frameOf(t *testing.T, e *env, url string) *env {
	t.Helper()
	deadline := time.Now().Add(stepDeadline)
	for {
		infos, err := chromedp.Targets(e.ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, in := range infos {
			if in.Type == "iframe" && strings.HasPrefix(in.URL, url) {
				return attach(t, e, in.TargetID)
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no frame showing %s among the browser's targets", url)
		}
		time.Sleep(150 * time.Millisecond)
	}
}

func attach(t *testing.T, e *env, id target.ID) *env {
	ctx, cancel := chromedp.NewContext(e.ctx, chromedp.WithTargetID(id))
	t.Cleanup(cancel)
	if err := chromedp.Do(ctx, chromedp.Poll[chromedp.Void](`document.readyState === 'complete'`)); err != nil {
		t.Fatalf("attaching to the frame: %v", err)
	}
	f := *e
	f.ctx = ctx
	return &f
}

func storedVote(t *testing.T, h *hub.Hub, ws, conv string) hubstore.Feedback {
	t.Helper()
	ts, err := h.Store().Turns(context.Background(), ws, conv, 10)
	if err != nil || len(ts) != 1 {
		t.Fatalf("the hub's turns of %s: %d, %v", conv, len(ts), err)
	}
	return ts[0].Feedback
}
