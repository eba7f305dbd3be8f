package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"atoll/channels"
	"atoll/channels/channeltest"
	"atoll/hub"
	"atoll/internal/ollamafake"
	"atoll/llm"
)

// The hub's channel commands' usage errors, kept beside the table in
// cli_test.go (which other commands' rows change often).
func init() {
	usageErrors["hub channel add"] = [][]string{{}, {"--agent", "baker"}, {"--kind", "telegram"}, {"--agent", "baker", "--kind", "fax"}, {"--agent", "baker", "--kind", "telegram"}, {"--agent", "baker", "--kind", "telegram", "--set", "novalue"}, {"--agent", "baker", "--kind", "telegram", "extra"}}
	usageErrors["hub channel list"] = [][]string{{"extra"}}
	usageErrors["hub channel rm"] = [][]string{{}, {"a", "b"}}
}

const (
	tgBot    = "123456:ABC-DEF1234ghIkl-zyx57W2v1u123ew11"
	tgSecret = "s3cr3t_Webhook-token"
)

// TestHubTelegramChannel: a Telegram channel added with the CLI while the
// hub runs is picked up; a signed update is answered once through the
// (fake) Bot API by the published agent, a retry is not answered again, a
// forged one is refused, and a lead left on the channel lands in the
// workspace's leads with the channel.
func TestHubTelegramChannel(t *testing.T) {
	fake := ollamafake.New(t)
	data, docs, hubDir := t.TempDir(), t.TempDir(), t.TempDir()
	write(t, docs, "faq-en.md", bakeryEN)
	if r := atoll(t, "--data", data, "--ollama", fake.URL, "ingest", "--kb", "shop", "--embed-model", ollamafake.DefaultEmbedModel, docs); r.code != 0 {
		t.Fatal(r.stderr)
	}
	form := write(t, docs, "form.json", `{"fields": [{"name": "name", "label": "Name", "type": "text", "required": true}, {"name": "phone", "label": "Phone", "type": "phone", "required": true}]}`)
	if r := atoll(t, "--data", data, "agent", "create", "baker", "--kb", "shop", "--model", ollamafake.DefaultChatModel, "--tools", "search_knowledge,save_lead", "--lead-form", form); r.code != 0 {
		t.Fatal(r.stderr)
	}
	c, _ := llm.New(fake.URL)
	h, err := hub.New(hub.Config{Dir: hubDir, Model: c, Embedder: c, Import: hub.Importer(c)})
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	srv := httptest.NewServer(h.Handler())
	defer srv.Close()
	tok := strings.TrimSpace(atoll(t, "--data", hubDir, "hub", "token", "create").stdout)
	if r := atoll(t, "--data", data, "--ollama", fake.URL, "publish", "--agent", "baker", "--to", srv.URL, "--token", tok); r.code != 0 {
		t.Fatalf("publish: %s %s", r.stdout, r.stderr)
	}

	// The Bot API's sendMessage, as documented.
	sent := &channeltest.Calls[map[string]any]{}
	tg := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/bot"+tgBot+"/sendMessage" {
			w.WriteHeader(http.StatusUnauthorized)
			fmt.Fprint(w, `{"ok":false,"error_code":401,"description":"Unauthorized"}`)
			return
		}
		var m map[string]any
		json.NewDecoder(r.Body).Decode(&m)
		sent.Add(m)
		fmt.Fprint(w, `{"ok":true,"result":{"message_id":1}}`)
	}))
	defer tg.Close()

	if r := atoll(t, "--data", hubDir, "hub", "channel", "add", "--agent", "nobody", "--kind", "telegram", "--set", "bot_token="+tgBot, "--set", "secret_token="+tgSecret); r.code != 1 || !strings.Contains(r.stderr, "publish it first") {
		t.Fatalf("a channel of an agent never published: %d %s", r.code, r.stderr)
	}
	r := atoll(t, "--data", hubDir, "hub", "channel", "add", "--agent", "baker", "--kind", "telegram", "--set", "bot_token="+tgBot, "--set", "secret_token="+tgSecret, "--api-base", tg.URL, "--url", srv.URL)
	if r.code != 0 {
		t.Fatalf("channel add: %d %s %s", r.code, r.stdout, r.stderr)
	}
	webhook := ""
	for _, l := range strings.Split(r.stdout, "\n") {
		if u, ok := strings.CutPrefix(l, "webhook: "); ok {
			webhook = u
		}
	}
	id := strings.TrimPrefix(webhook, srv.URL+"/ch/")
	if webhook == "" || id == webhook || id == "" {
		t.Fatalf("channel add printed no webhook URL on the hub: %q", r.stdout)
	}
	channeltest.WaitFor(t, "the running hub picking up the channel", func() bool { _, ok := h.Channels().Get(id); return ok })

	deliver := func(update int, text, secret string) int {
		body := fmt.Sprintf(`{"update_id":%d,"message":{"message_id":%d,"from":{"id":42,"is_bot":false,"first_name":"Ann"},"chat":{"id":42,"type":"private"},"date":1700000000,"text":%q}}`, update, update, text)
		req, _ := http.NewRequest(http.MethodPost, webhook, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("X-Telegram-Bot-Api-Secret-Token", secret)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		return res.StatusCode
	}
	status := func() channels.Status { ch, _ := h.Channels().Get(id); return ch.Status() }

	fake.Script(ollamafake.Reply{Text: "Birthday cakes need 48 hours notice."})
	if code := deliver(1, "How much notice do birthday cakes need?", tgSecret); code != 200 {
		t.Fatalf("a signed update: %d", code)
	}
	channeltest.WaitFor(t, "the answer through sendMessage", func() bool { return sent.Len() == 1 })
	if m := sent.All()[0]; fmt.Sprint(m["chat_id"]) != "42" || !strings.Contains(fmt.Sprint(m["text"]), "48 hours") {
		t.Fatalf("the reply sent: %v", m)
	}
	if code := deliver(1, "How much notice do birthday cakes need?", tgSecret); code != 200 || status().Duplicates != 1 || status().Received != 1 {
		t.Fatalf("a retried update: %d, status %+v", code, status())
	}
	if code := deliver(2, "Hello?", "not-the-secret"); code != 401 || status().Received != 1 {
		t.Fatalf("a forged update: %d, status %+v", code, status())
	}

	fake.Script(
		ollamafake.Reply{ToolCalls: []ollamafake.ToolCall{{Name: "save_lead", Arguments: map[string]any{"name": "Ann", "phone": "+31 612 345 678"}}}},
		ollamafake.Reply{Text: "Thanks Ann, we will call you."},
	)
	if code := deliver(3, "Please call me about a cake: Ann, +31 612 345 678", tgSecret); code != 200 {
		t.Fatalf("a signed update: %d", code)
	}
	channeltest.WaitFor(t, "the second answer", func() bool { return sent.Len() == 2 })
	if n := len(fake.Chats()); n != 3 {
		t.Fatalf("the model was asked %d times, want 3 (one answer, one lead with its tool call)", n)
	}
	ws, err := h.Store().WorkspaceByName(t.Context(), hub.DefaultWorkspace)
	if err != nil {
		t.Fatal(err)
	}
	leads, err := h.Store().Leads(t.Context(), ws.ID, "baker")
	if err != nil || len(leads) != 1 || leads[0].Name != "Ann" || leads[0].Fields["channel"] != id {
		t.Fatalf("the lead left on the channel: %+v %v", leads, err)
	}

	if r := atoll(t, "--data", hubDir, "hub", "channel", "list"); r.code != 0 || !strings.Contains(r.stdout, id) || strings.Contains(r.stdout, tgSecret) || strings.Contains(r.stdout, tgBot) {
		t.Fatalf("channel list must show the channel with its secrets masked: %d %s %s", r.code, r.stdout, r.stderr)
	}
	if r := atoll(t, "--data", hubDir, "hub", "channel", "rm", id); r.code != 0 {
		t.Fatalf("channel rm: %d %s", r.code, r.stderr)
	}
	channeltest.WaitFor(t, "the running hub dropping the channel", func() bool { _, ok := h.Channels().Get(id); return !ok })
	if code := deliver(4, "Still there?", tgSecret); code != http.StatusNotFound {
		t.Fatalf("an update to a removed channel: %d", code)
	}
}
