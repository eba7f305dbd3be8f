package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"atoll/agent"
	"atoll/hub"
	"atoll/hubstore"
	"atoll/internal/hubtest"
	"atoll/internal/ollamafake"
	"atoll/llm"
	"atoll/store"
)

// TestHubAnalyticsInWindow: the desktop's Analytics screen shows a
// published agent's figures as the hub counts them. Customers ask the hub
// through its chat API (three conversations, four questions, one not
// covered), vote one answer up and one down, and leave a lead; the window's
// own chat asks once. "Published (hub)" then shows the hub's numbers and
// exports the hub's rows; "This computer" shows the local ones again.
// Screenshots in English (light) and Chinese (dark).
func TestHubAnalyticsInWindow(t *testing.T) {
	fake := ollamafake.New(t)
	fake.OnChat(func(req ollamafake.ChatRequest) ollamafake.Reply {
		return ollamafake.Reply{Text: "A 20 cm chocolate cake costs 38 euros; birthday cakes need 48 hours notice."}
	})
	now := time.Now()
	e := start(t, fake.URL, func(data string) {
		seedKB(t, data, "bakery", store.Doc{Path: "/docs/bakery.md", Name: "bakery.md", Format: "md", Hash: "a", Size: 200, Status: store.StatusOK, Ingested: now,
			Chunks: []store.Chunk{{Text: "Custom birthday cakes need at least 48 hours notice. A 20 cm chocolate cake costs 38 euros."}}})
		seedAgent(t, data, agent.Definition{Name: "shop", Model: ollamafake.DefaultChatModel, KBs: []string{"bakery"}})
	})
	c, _ := llm.New(fake.URL)
	h, hs := hubtest.Serve(t, hub.Config{Model: c, Embedder: c, Import: hub.Importer(c)})
	ctx := context.Background()
	ws, tok := hubtest.Workspace(t, h, hub.DefaultWorkspace)

	e.run("publish from the window", publishFromWindow(e.url, hs.URL, tok, "version 1")...)

	// The customers, on the hub.
	const gluten = "Do you sell gluten-free bread?"
	up := customerAsk(t, hs.URL, "shop", "", "How much notice do birthday cakes need?", false)
	customerAsk(t, hs.URL, "shop", up.Conversation, "And how much is a chocolate cake?", false)
	down := customerAsk(t, hs.URL, "shop", "", "How much does a chocolate cake cost?", false)
	customerAsk(t, hs.URL, "shop", "", gluten, true)
	customerVote(t, hs.URL, "shop", up, 1, "")
	customerVote(t, hs.URL, "shop", down, -1, "Too expensive")
	lead := hubstore.Lead{Agent: "shop", Name: "Ana", Phone: "+31 612 345 678", Fields: map[string]string{"name": "Ana", "phone": "+31 612 345 678"}, Created: now, Updated: now}
	if _, _, err := h.Store().SaveLead(ctx, ws.ID, "shop", "", lead); err != nil {
		t.Fatal(err)
	}

	// One question on this computer, so the two sources differ everywhere.
	e.run("ask once in the window",
		chromedp.Navigate(e.url+"/#/analytics"),
		appCall(`call('Ask', ['shop', '', 'How much notice do birthday cakes need?'])`),
		// The answer is a job: its turn is counted once it is done.
		waitJS(`fetch('/api/call/Analytics', {method: 'POST', headers: {'Content-Type': 'application/json'}, body: '["shop", 30]'}).then((r) => r.json()).then((r) => r.questions === 1)`),
		chromedp.Reload(),
	)
	local := []chromedp.Action[chromedp.Void]{
		waitJS(`document.querySelector('[data-testid="analytics-source-local"]')?.getAttribute('aria-pressed') === 'true'`),
		waitText(tid("stat-questions"), func(s string) bool { return strings.TrimSpace(s) == "1" }, nil),
		waitJS(`document.querySelector('[data-testid="stat-votes"]')?.textContent.replace(/\s+/g, '') === '0·0'`),
		waitText(tid("stat-covered"), func(s string) bool { return strings.TrimSpace(s) == "100%" }, nil),
		waitText(tid("stat-leads"), func(s string) bool { return strings.TrimSpace(s) == "0" }, nil),
		chromedp.WaitVisible(tid("analytics-unanswered-none")),
	}
	hubFigures := []chromedp.Action[chromedp.Void]{
		chromedp.Click(tid("analytics-source-hub")),
		waitJS(`document.querySelector('[data-testid="analytics-source-hub"]').getAttribute('aria-pressed') === 'true'`),
		waitText(tid("stat-questions"), func(s string) bool { return strings.TrimSpace(s) == "4" }, nil),
		waitJS(`document.querySelector('[data-testid="stat-votes"]').textContent.replace(/\s+/g, '') === '1·1'`),
		waitText(tid("stat-covered"), func(s string) bool { return strings.TrimSpace(s) == "75%" }, nil),
		waitText(tid("stat-leads"), func(s string) bool { return strings.TrimSpace(s) == "1" }, nil),
		waitText(tid("analytics-summary"), func(s string) bool {
			return strings.Contains(s, "3 conversations") || strings.Contains(s, "3 个对话")
		}, nil),
		waitText(tid("analytics-unanswered"), func(s string) bool { return strings.Contains(s, gluten) }, nil),
		waitJS(`!document.querySelector('[data-testid="analytics-unanswered"]').textContent.includes('chocolate')`),
		waitJS(`['activity', 'coverage', 'votes', 'leads'].every((c) => document.querySelector('[data-testid="chart-' + c + '"]')?.dataset.empty === 'false' && document.querySelectorAll('[data-testid="chart-' + c + '"] canvas').length === 1)`),
		waitJS(`document.querySelector('[data-testid="analytics-summary"]').getAttribute('aria-busy') === 'false'`),
		// The legends are in the window's language (uPlot's own word was "Value").
		waitJS(`[...document.querySelectorAll('.u-legend')].every((l) => !l.textContent.includes('Value') && (l.textContent.includes('Day') || l.textContent.includes('日期')))`),
	}
	e.run("this computer's figures", local...)
	e.run("the hub's figures", hubFigures...)
	e.run("the hub's subtitle", waitText(tid("analytics-subtitle"), func(s string) bool { return strings.Contains(s, "hub") }, nil))
	e.screenshot("analytics-hub")

	// The export: the page hands the file to an anchor's click, which is
	// caught here instead of downloading.
	e.run("export the hub's CSV",
		waitJS(`(window.__csv = null, window.__file = null,
			URL.createObjectURL = (b) => (b.text().then((s) => (window.__csv = s)), 'blob:caught'),
			HTMLAnchorElement.prototype.click = function () { window.__file = this.download }, true)`),
		chromedp.Click(tid("analytics-export")),
		waitJS(`window.__csv !== null && window.__file !== null`),
	)
	csv, file := eval[string](e, `window.__csv`), eval[string](e, `window.__file`)
	if file != "shop-hub-analytics-30d.csv" {
		t.Errorf("the export is saved as %q", file)
	}
	for _, row := range []string{
		",3,4,1,1,1,1\n",        // today: conversations, questions, not covered, up, down, leads
		"\nshop,",               // the summary row
		"\n" + gluten + ",1,\n", // the unanswered group
		"unanswered_question,count",
	} {
		if !strings.Contains(csv, row) {
			t.Errorf("the hub's CSV has no %q:\n%s", row, csv)
		}
	}

	e.run("back to this computer", append([]chromedp.Action[chromedp.Void]{chromedp.Click(tid("analytics-source-local"))}, local...)...)

	e.run("chinese, dark", saveLook("zh-CN", "dark"), chromedp.Navigate(e.url+"/#/analytics"), chromedp.Reload(),
		waitJS(`document.documentElement.lang === 'zh-CN' && document.documentElement.dataset.theme === 'dark'`))
	e.run("this computer's figures in chinese", local...)
	e.run("the hub's figures in chinese", hubFigures...)
	e.screenshot("analytics-hub-zh-dark")
}

// hubAnswer names one answer of the hub's chat API, for a vote.
type hubAnswer struct {
	Conversation string `json:"conversation"`
	Message      string `json:"message"`
	NotCovered   bool   `json:"not_covered"`
}

// customerAsk asks the hub's chat API as a customer would (in conversation
// conv, or a new one) and checks whether the knowledge covered it.
func customerAsk(t *testing.T, hubURL, agentName, conv, q string, notCovered bool) hubAnswer {
	t.Helper()
	body, _ := json.Marshal(map[string]any{"model": agentName, "conversation": conv, "messages": []map[string]string{{"role": "user", "content": q}}})
	var out struct {
		Atoll hubAnswer `json:"atoll"`
	}
	hubPost(t, hubURL+"/v1/chat/completions", body, &out)
	if out.Atoll.Conversation == "" || out.Atoll.Message == "" || out.Atoll.NotCovered != notCovered {
		t.Fatalf("the hub answered %q with %+v; want not covered = %v", q, out.Atoll, notCovered)
	}
	return out.Atoll
}

func customerVote(t *testing.T, hubURL, agentName string, a hubAnswer, rating int, comment string) {
	t.Helper()
	body, _ := json.Marshal(map[string]any{"conversation": a.Conversation, "message": a.Message, "rating": rating, "comment": comment})
	hubPost(t, hubURL+"/api/feedback?agent="+agentName, body, nil)
}

func hubPost(t *testing.T, url string, body []byte, out any) {
	t.Helper()
	res, err := http.Post(url, "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(res.Body, 1<<20))
	if res.StatusCode != http.StatusOK {
		t.Fatalf("POST %s: %s %s", url, res.Status, b)
	}
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			t.Fatalf("POST %s: %v: %s", url, err, b)
		}
	}
}

// saveLook saves the window's language and theme through the app's API
// (the page shows them after a reload).
func saveLook(lang, theme string) chromedp.Action[chromedp.Void] {
	return appCall(`call('SaveSettings', [{...(await call('GetSettings', [])), language: '` + lang + `', theme: '` + theme + `'}])`)
}

// appCall runs once, in the page, a script that calls the app's methods
// through call(method, args) (the HTTP mode's API), awaited; an app error
// fails the step.
func appCall(script string) chromedp.Action[chromedp.Void] {
	return chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		_, err := chromedp.Evaluate[any](`(async () => {
			const call = async (m, args) => {
				const r = await fetch('/api/call/' + m, {method: 'POST', headers: {'Content-Type': 'application/json'}, body: JSON.stringify(args)});
				if (!r.ok) throw new Error(m + ': ' + r.status + ' ' + await r.text());
				return r.json();
			};
			await `+script+`;
			return null;
		})()`, chromedp.EvalAwaitPromise)(ctx, tg)
		return err
	})
}
