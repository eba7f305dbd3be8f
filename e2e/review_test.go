package e2e

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"atoll/agent"
	"atoll/internal/ollamafake"
	"atoll/store"
)

// TestFeedbackReviewCorrect: a thumbs-down with a comment in the window's
// chat shows on the Review screen; Correct writes the note and the test
// case; the agent's test run, started from the Agents screen, includes the
// case and passes it. Analytics counts the vote. Screenshots of Analytics
// and Review in both themes and both languages.
//
// The model is the scripted fake, answering with the passages it is given:
// the corrected words reach the answer only if retrieval found the note,
// which is the point of the check.
func TestFeedbackReviewCorrect(t *testing.T) {
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
	now := time.Now()
	e := start(t, fake.URL, func(data string) {
		seedKB(t, data, "bakery", store.Doc{Path: "/docs/bakery.md", Name: "bakery.md", Format: "md", Hash: "a", Size: 200, Status: store.StatusOK, Ingested: now,
			Chunks: []store.Chunk{{Text: "Custom birthday cakes need at least 48 hours notice. A 20 cm chocolate cake costs 38 euros."}}})
		seedAgent(t, data, agent.Definition{Name: "shop", Model: ollamafake.DefaultChatModel, KBs: []string{"bakery"}})
	})
	const q = "Do you sell gluten-free bread?"
	e.run("ask in the chat",
		chromedp.Navigate(e.url+"/#/chat"),
		chromedp.WaitEnabled(tid("chat-input")),
		chromedp.SendKeys(tid("chat-input"), q),
		chromedp.WaitEnabled(tid("chat-send")),
		chromedp.SendKeys(tid("chat-input"), kb.Enter),
		chromedp.WaitVisible(tid("not-covered")),
		chromedp.WaitVisible(tid("feedback-down")),
	)
	e.run("thumbs down with a comment",
		chromedp.Click(tid("feedback-down")),
		waitJS(`document.querySelector('[data-testid="feedback-down"]').getAttribute('aria-pressed') === 'true'`),
		chromedp.WaitVisible(tid("feedback-comment")),
		chromedp.SendKeys(tid("feedback-comment"), "You do, on Fridays. Call 0612 345 678"),
		chromedp.Click(tid("feedback-send")),
		chromedp.WaitVisible(tid("feedback-thanks")),
	)
	e.run("the review screen shows it, masked",
		chromedp.Click(tid("nav-review")),
		waitText(tid("review-question"), func(s string) bool { return s == q }, nil),
		waitText(tid("review-comment"), func(s string) bool { return strings.Contains(s, "Fridays") && strings.Contains(s, "[phone]") }, nil),
		chromedp.WaitVisible(tid("review-down")),
		chromedp.WaitVisible(tid("review-notcovered")),
	)
	e.run("correct it",
		chromedp.Click(tid("review-correct")),
		chromedp.WaitVisible(tid("correct-answer")),
		chromedp.SendKeys(tid("correct-answer"), "Yes: gluten-free loaves are baked every Friday."),
		chromedp.SendKeys(tid("correct-must"), "gluten-free loaves"),
		chromedp.Click(tid("correct-save")),
		chromedp.WaitVisible(tid("review-saved")),
		chromedp.WaitVisible(tid("review-corrected")),
	)
	notes, _ := filepath.Glob(filepath.Join(e.data, "corrections", "shop", "*.md"))
	if len(notes) != 1 {
		t.Fatalf("correction notes: %v", notes)
	}
	if b, _ := os.ReadFile(notes[0]); !strings.HasPrefix(string(b), "# "+q) {
		t.Fatalf("note:\n%s", b)
	}
	e.run("the agent's test run includes the case and passes it",
		chromedp.Click(tid("nav-agents")),
		chromedp.WaitVisible(tid("agent-row-shop")),
		chromedp.Click(tid("agent-row-shop")),
		waitJS(`(document.querySelector('[data-testid="testset-questions"]')?.value ?? '').includes('gluten-free loaves')`),
		chromedp.Click(tid("testset-run")),
		waitText(tid("testset-summary"), func(s string) bool { return strings.Contains(s, "retrieval 1/1, answers 1/1") }, nil),
	)
	e.run("analytics counts the question and the vote",
		chromedp.Click(tid("nav-analytics")),
		waitText(tid("stat-questions"), func(s string) bool { return strings.TrimSpace(s) == "1" }, nil),
		waitJS(`document.querySelector('[data-testid="stat-votes"]')?.textContent.replace(/\s+/g, '') === '0·1'`),
		waitText(tid("analytics-unanswered"), func(s string) bool { return strings.Contains(s, q) }, nil),
		waitJS(`document.querySelectorAll('[data-testid="chart-activity"] canvas').length === 1`),
		waitJS(`document.querySelector('[data-testid="chart-activity"]').dataset.empty === 'false'`),
		waitJS(`document.querySelector('[data-testid="chart-leads"]').dataset.empty === 'true'`),
		chromedp.WaitVisible(tid("chart-leads-empty")),
	)

	for _, look := range []struct{ lang, theme string }{{"en", "light"}, {"en", "dark"}, {"zh-CN", "light"}, {"zh-CN", "dark"}} {
		suffix := ""
		if look.theme == "dark" {
			suffix += "-dark"
		}
		if look.lang == "zh-CN" {
			suffix += "-zh"
		}
		e.run("settings "+look.lang+" "+look.theme,
			saveLook(look.lang, look.theme),
			chromedp.Navigate(e.url+"/#/analytics"),
			chromedp.Reload(),
			waitJS(`document.documentElement.lang === '`+look.lang+`'`),
			waitJS(`document.querySelectorAll('[data-testid="chart-coverage"] canvas').length === 1`),
			chromedp.WaitVisible(tid("analytics-unanswered")),
		)
		e.screenshot("analytics" + suffix)
		e.run("review "+look.lang+" "+look.theme,
			chromedp.Click(tid("nav-review")),
			chromedp.WaitVisible(tid("review-item")),
			chromedp.WaitVisible(tid("review-corrected")),
		)
		e.screenshot("review" + suffix)
	}
}

// TestAnalyticsEmpty: an agent nobody has talked to yet has charts with
// axes and a sentence, not an error or a blank.
func TestAnalyticsEmpty(t *testing.T) {
	fake := ollamafake.New(t)
	e := start(t, fake.URL, func(data string) {
		seedAgent(t, data, agent.Definition{Name: "quiet", Model: ollamafake.DefaultChatModel})
	})
	e.run("empty analytics",
		chromedp.Navigate(e.url+"/#/analytics"),
		waitText(tid("stat-questions"), func(s string) bool { return strings.TrimSpace(s) == "0" }, nil),
		waitJS(`[...document.querySelectorAll('[data-testid^="chart-"][data-empty="true"] canvas')].length === 4`),
		chromedp.WaitVisible(tid("chart-activity-empty")),
		chromedp.WaitVisible(tid("analytics-unanswered-none")),
	)
	e.screenshot("analytics-empty")
	e.run("empty review",
		chromedp.Click(tid("nav-review")),
		chromedp.WaitVisible(tid("review-empty")),
	)
}
