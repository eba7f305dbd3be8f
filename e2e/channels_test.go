package e2e

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"atoll/agent"
	"atoll/hub"
	"atoll/internal/hubtest"
	"atoll/internal/ollamafake"
	"atoll/llm"
	"atoll/store"
)

const (
	e2eBot    = "424242:AAF-e2e-bot-token-never-shown-QRST"
	e2eSecret = "e2e_webhook-secret-token"
)

// TestChannelFromPublishScreen: from the Publish screen, after publishing
// to an in-process hub, a Telegram channel is added pointing (api_base) at
// a fake Bot API; its webhook and status show, the bot token is nowhere in
// the page, and the test message reaches the fake exactly as typed. A
// customer's message then delivered to the webhook is answered through the
// same fake and counted in the channel's status.
func TestChannelFromPublishScreen(t *testing.T) {
	fake := ollamafake.New(t)
	e := start(t, fake.URL, func(data string) {
		seedKB(t, data, "bakery", store.Doc{Path: "/docs/faq.md", Name: "faq.md", Hash: "1", Status: store.StatusOK, Chunks: []store.Chunk{{Text: "Custom birthday cakes need at least 48 hours notice."}}})
		seedAgent(t, data, agent.Definition{Name: "baker", Model: ollamafake.DefaultChatModel, KBs: []string{"bakery"}})
	})
	// The Bot API's sendMessage, as documented.
	var mu sync.Mutex
	var sent []map[string]any
	tg := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/bot"+e2eBot+"/sendMessage" {
			w.WriteHeader(http.StatusUnauthorized)
			fmt.Fprint(w, `{"ok":false,"error_code":401,"description":"Unauthorized"}`)
			return
		}
		var m map[string]any
		json.NewDecoder(r.Body).Decode(&m)
		mu.Lock()
		sent = append(sent, m)
		mu.Unlock()
		fmt.Fprint(w, `{"ok":true,"result":{"message_id":1}}`)
	}))
	defer tg.Close()
	c, _ := llm.New(fake.URL)
	// The operator lists the fake, as one would a local Bot API server.
	h, hs := hubtest.Serve(t, hub.Config{Model: c, Embedder: c, Import: hub.Importer(c), ChannelAPIBases: []string{tg.URL}})
	_, tok := hubtest.Workspace(t, h, hub.DefaultWorkspace)

	got := func() []map[string]any {
		mu.Lock()
		defer mu.Unlock()
		return append([]map[string]any(nil), sent...)
	}

	var webhook string
	e.run("publish and add a channel", append(publishFromWindow(e.url, hs.URL, tok, "version 1"),
		chromedp.WaitVisible(tid("channel-field-bot_token")),
		chromedp.SendKeys(tid("channel-field-bot_token"), e2eBot),
		chromedp.SendKeys(tid("channel-field-secret_token"), e2eSecret),
		chromedp.SendKeys(tid("channel-api-base"), tg.URL),
		chromedp.WaitEnabled(tid("channel-add")),
		chromedp.Click(tid("channel-add")),
		waitText(tid("channel-webhook"), func(s string) bool { return strings.HasPrefix(s, hs.URL+"/ch/") }, &webhook),
		waitText(tid("channel-status"), func(s string) bool { return strings.Contains(s, "0 received") }, nil),
	)...)
	if kind := eval[string](e, `document.querySelector('[data-testid="channel-row"]').dataset.kind`); kind != "telegram" {
		t.Fatalf("the channel's kind is %q", kind)
	}
	// Saved, the token is in no element, attribute or input of the page:
	// only its mask.
	page := eval[string](e, `document.documentElement.outerHTML + [...document.querySelectorAll('input')].map((i) => i.value).join('\n')`)
	if strings.Contains(page, e2eBot) || strings.Contains(page, e2eSecret) {
		t.Fatal("a channel secret is visible in the page after saving")
	}
	if cfg := eval[string](e, `document.querySelector('[data-testid="channel-config"]').textContent`); !strings.Contains(cfg, "••••"+e2eBot[len(e2eBot)-4:]) {
		t.Fatalf("the masked token is not shown: %q", cfg)
	}

	const text = "Hello from the Publish screen"
	e.run("send the test message",
		chromedp.SendKeys(tid("channel-test-to"), "4242"),
		chromedp.SendKeys(tid("channel-test-text"), text),
		chromedp.Click(tid("channel-test-send")),
		waitText(tid("channel-test-result"), func(s string) bool { return s == "Sent to 4242." }, nil),
	)
	if m := got(); len(m) != 1 || fmt.Sprint(m[0]["chat_id"]) != "4242" || m[0]["text"] != text {
		t.Fatalf("the Bot API got %v", m)
	}

	// A customer writes to the bot: Telegram posts the update to the
	// webhook shown in the window, the agent answers through sendMessage.
	upd := `{"update_id": 9001, "message": {"message_id": 5, "date": 1767225600, "from": {"id": 77, "is_bot": false}, "chat": {"id": 77}, "text": "Do you make birthday cakes?"}}`
	req, _ := http.NewRequest("POST", webhook, strings.NewReader(upd))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Telegram-Bot-Api-Secret-Token", e2eSecret)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != 200 {
		t.Fatalf("the webhook answered %d", res.StatusCode)
	}
	deadline := time.Now().Add(2 * time.Minute)
	for len(got()) < 2 {
		if time.Now().After(deadline) {
			t.Fatalf("the customer's message was not answered: %v", got())
		}
		time.Sleep(50 * time.Millisecond)
	}
	if m := got()[1]; fmt.Sprint(m["chat_id"]) != "77" {
		t.Fatalf("the answer went to %v", m["chat_id"])
	}
	e.run("see the status",
		chromedp.Reload(),
		waitText(tid("channel-counts"), func(s string) bool { return strings.Contains(s, "1 received, 1 answered") }, nil),
		waitText(tid("channel-status"), func(s string) bool { return !strings.Contains(s, "never") }, nil),
		chromedp.ScrollIntoView(tid("channel-row")),
	)
	e.screenshot("publish-channels")
}
