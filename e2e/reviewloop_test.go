package e2e

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"atoll/agent"
	"atoll/analytics"
	"atoll/internal/ollamafake"
	"atoll/internal/testbin"
	"atoll/store"
)

// TestReviewLoopAcrossProcesses is issue 16's loop as a publisher lives it,
// with the hub (`atoll hub`) and the desktop (`atoll serve`) as two
// processes and a real Chromium: the agent is published from the window; a
// customer on a shop's site asks the widget and votes the answer down with
// a comment; `atoll review pull` brings it to the desktop; the Review screen
// shows it with the comment; Correct writes the note and the test case; the
// test run includes the case and passes it; publishing again shows the
// result; the hub's analytics count the vote.
//
// The model is the scripted fake, answering with the passages it is given:
// the corrected words reach the answer only if retrieval found the note.
func TestReviewLoopAcrossProcesses(t *testing.T) {
	fake := ollamafake.New(t)
	fake.OnChat(func(req ollamafake.ChatRequest) ollamafake.Reply {
		var b strings.Builder
		for _, m := range req.Messages {
			if m.Role != "system" {
				b.WriteString(m.Content + "\n")
			}
		}
		return ollamafake.Reply{Text: b.String()}
	})
	// The browser (start also runs an in-process app server, unused here:
	// the desktop is the `atoll serve` process below).
	e := start(t, fake.URL)
	bin := testbin.Atoll(t)

	hubDir := t.TempDir()
	tok := strings.TrimSpace(atollOut(t, bin, "--data", hubDir, "hub", "token", "create", "--label", "e2e"))
	if !strings.HasPrefix(tok, "atl_") {
		t.Fatalf("hub token create printed %q", tok)
	}
	hubURL := startProcess(t, bin, regexp.MustCompile(`serving on (http://[^/ ]+)`), "--data", hubDir, "--ollama", fake.URL, "hub", "--addr", "127.0.0.1:0")

	desk := t.TempDir()
	now := time.Now()
	seedKB(t, desk, "bakery", store.Doc{Path: "/docs/bakery.md", Name: "bakery.md", Format: "md", Hash: "a", Size: 200, Status: store.StatusOK, Ingested: now,
		Chunks: []store.Chunk{{Text: "Custom birthday cakes need at least 48 hours notice. A 20 cm chocolate cake costs 38 euros."}}})
	seedAgent(t, desk, agent.Definition{Name: "shop", Model: ollamafake.DefaultChatModel, KBs: []string{"bakery"}})
	deskURL := startProcess(t, bin, regexp.MustCompile(`^Atoll is serving on (http://\S+?)/?$`), "--data", desk, "--ollama", fake.URL, "serve", "--addr", "127.0.0.1:0")
	e.url, e.data = deskURL, desk

	e.run("publish from the window", publishFromWindow(e.url, hubURL, tok, "version 1")...)

	// A customer on the shop's own site (another site: localhost, the hub
	// 127.0.0.1), in the widget's frame.
	host := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		fmt.Fprintf(w, `<!doctype html><title>Shop</title><h1>Sweet Crumb</h1><script src="%s/widget.js" data-agent="shop" async></script>`, hubURL)
	}))
	defer host.Close()
	e.run("open the widget",
		chromedp.Navigate(strings.Replace(host.URL, "127.0.0.1", "localhost", 1)+"/"),
		chromedp.WaitVisible(chromedp.CSS(`button[data-atoll-widget="shop"]`)),
		chromedp.Click(chromedp.CSS(`button[data-atoll-widget="shop"]`)),
		chromedp.WaitVisible(chromedp.CSS(`iframe[title="shop"]`)),
	)
	fr := widgetFrame(t, e, hubURL+"/a/shop")
	const q = "How much is a chocolate cake?"
	const comment = "And the 26 cm one? It costs 52 euros."
	fr.run("ask in the widget",
		chromedp.WaitVisible(chromedp.CSS("#q")),
		chromedp.SendKeys(chromedp.CSS("#q"), q),
		chromedp.SendKeys(chromedp.CSS("#q"), kb.Enter),
		chromedp.WaitVisible(chromedp.CSS(`.msg.bot .fb button[data-rating="-1"]`)),
	)
	fr.run("thumbs down with a comment",
		chromedp.Click(chromedp.CSS(`.fb button[data-rating="-1"]`)),
		waitJS(`document.querySelector('.fb button[data-rating="-1"]').getAttribute('aria-pressed') === 'true'`),
		chromedp.WaitVisible(chromedp.CSS(`textarea.fb-comment`)),
		chromedp.SendKeys(chromedp.CSS(`textarea.fb-comment`), comment),
		chromedp.Click(chromedp.CSS(`button.fb-send`)),
		waitJS(`document.querySelector('.fb').classList.contains('fb-saved')`),
	)

	// review pull, from a third process on the desktop's data folder while
	// the window runs.
	out := atollOut(t, bin, "--data", desk, "review", "pull", "--agent", "shop")
	if !strings.HasPrefix(out, "1 new item for shop (1 voted down") {
		t.Fatalf("review pull: %q", out)
	}
	e.run("the review screen shows the hub's item with the comment",
		chromedp.Navigate(e.url+"/#/review"),
		waitText(tid("review-question"), func(s string) bool { return s == q }, nil),
		waitJS(`document.querySelector('[data-testid="review-item"]').dataset.origin === 'hub'`),
		chromedp.WaitVisible(tid("review-hub")),
		chromedp.WaitVisible(tid("review-down")),
		waitText(tid("review-comment"), func(s string) bool { return s == comment }, nil),
		// The passages the hub gave the model, the one it cited marked.
		chromedp.Click(chromedp.CSS(`[data-testid="review-item"] details summary`)),
		waitJS(`document.querySelector('[data-testid="review-passage"]')?.dataset.used === 'true'`),
		waitText(tid("review-passage"), func(s string) bool { return strings.Contains(s, "38 euros") && strings.Contains(s, "bakery.md") }, nil),
		// The window's own Pull finds nothing newer: the cursor the command
		// saved is shared.
		chromedp.WaitVisible(tid("review-pull")),
		chromedp.Click(tid("review-pull")),
		waitText(tid("review-pulled"), func(s string) bool { return s == "Nothing new on the hub since the last pull." }, nil),
	)
	if n := eval[int](e, `document.querySelectorAll('[data-testid="review-item"]').length`); n != 1 {
		t.Fatalf("%d review items, want the hub's one", n)
	}
	e.screenshot("review-hub")

	e.run("correct it",
		chromedp.Click(tid("review-correct")),
		chromedp.WaitVisible(tid("correct-answer")),
		chromedp.SendKeys(tid("correct-answer"), "A 20 cm chocolate cake costs 38 euros; a 26 cm one costs 52 euros."),
		chromedp.SendKeys(tid("correct-must"), "52 euros"),
		chromedp.Click(tid("correct-save")),
		chromedp.WaitVisible(tid("review-saved")),
		chromedp.WaitVisible(tid("review-corrected")),
	)
	notes, _ := filepath.Glob(filepath.Join(desk, "corrections", "shop", "hub_*.md"))
	if len(notes) != 1 {
		t.Fatalf("correction notes: %v", notes)
	}
	if b, _ := os.ReadFile(notes[0]); !strings.HasPrefix(string(b), "# "+q) || !strings.Contains(string(b), "52 euros") {
		t.Fatalf("note:\n%s", b)
	}
	if b, _ := os.ReadFile(filepath.Join(desk, "agents", "shop", "testset.jsonl")); !strings.Contains(string(b), q) || !strings.Contains(string(b), filepath.Base(notes[0])) {
		t.Fatalf("the test set has no case for the correction:\n%s", b)
	}
	e.run("the test run includes the case and passes it",
		chromedp.Click(tid("review-run-tests")),
		waitText(tid("review-run-summary"), func(s string) bool { return strings.Contains(s, "answers 1/1") }, nil),
		waitText(tid("review-run-case"), func(s string) bool { return s == "This correction passes" }, nil),
	)
	e.screenshot("review-hub-correct")

	e.run("publishing again shows the test result",
		chromedp.Click(tid("nav-publish")),
		chromedp.WaitEnabled(tid("publish-submit")),
		chromedp.Click(tid("publish-submit")),
		waitText(tid("publish-result"), func(s string) bool { return strings.Contains(s, "version 2") }, nil),
		waitText(tid("publish-tests"), func(s string) bool { return strings.Contains(s, "retrieval 1/1, answers 1/1") }, nil),
	)

	// The hub's analytics count the question and the vote.
	var rep analytics.Report
	hubGet(t, hubURL+"/api/agents/shop/analytics?days=7", tok, &rep)
	if rep.Questions != 1 || rep.Down != 1 || rep.Up != 0 {
		t.Fatalf("the hub's analytics: %d questions, %d up, %d down; want 1, 0, 1", rep.Questions, rep.Up, rep.Down)
	}
}

// atollOut runs the atoll command to its end and returns what it printed;
// a failure fails the test with its stderr.
func atollOut(t *testing.T, bin string, args ...string) string {
	t.Helper()
	cmd := exec.Command(bin, args...)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("atoll %s: %v\n%s", strings.Join(args, " "), err, stderr.String())
	}
	return string(out)
}

// startProcess runs a long-lived atoll command (hub, serve) until the test
// ends and returns the address it prints, the first group of ready.
func startProcess(t *testing.T, bin string, ready *regexp.Regexp, args ...string) string {
	t.Helper()
	return strings.TrimRight(testbin.Start(t, bin, args...).WaitFor(t, ready, stepDeadline), "/")
}

// widgetFrame attaches to the widget's frame, which Chromium runs as a
// target of its own (a cross-site iframe), once it shows url.
func widgetFrame(t *testing.T, e *env, url string) *env {
	t.Helper()
	deadline := time.Now().Add(stepDeadline)
	for {
		infos, err := chromedp.Targets(e.ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, in := range infos {
			if in.Type == "iframe" && strings.HasPrefix(in.URL, url) {
				ctx, cancel := chromedp.NewContext(e.ctx, chromedp.WithTargetID(in.TargetID))
				t.Cleanup(cancel)
				if err := chromedp.Do(ctx, chromedp.Poll[chromedp.Void](`document.readyState === 'complete'`)); err != nil {
					t.Fatalf("attaching to the widget's frame: %v", err)
				}
				f := *e
				f.ctx = ctx
				return &f
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no frame showing %s among the browser's targets", url)
		}
		time.Sleep(150 * time.Millisecond)
	}
}
