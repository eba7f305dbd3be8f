package app

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"atoll/hub"
	"atoll/internal/hubtest"
	"atoll/internal/ollamafake"
	"atoll/llm"
)

const (
	appBot    = "555111:AAE-app-channel-bot-token-zz"
	appSecret = "app_webhook-secret-77"
)

// TestChannelKindsFollowTheAdapters: the form's fields are the adapters'
// own, secrets marked.
func TestChannelKindsFollowTheAdapters(t *testing.T) {
	a, err := New(Config{DataDir: t.TempDir(), OllamaURL: "http://127.0.0.1:1", Version: "test"}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	kinds := a.ChannelKinds()
	if len(kinds) != 7 {
		t.Fatalf("%d kinds: %+v", len(kinds), kinds)
	}
	for _, k := range kinds {
		if k.Kind != "telegram" {
			continue
		}
		if len(k.Fields) != 2 || k.Fields[0].Key != "bot_token" || !k.Fields[0].Secret || !k.Fields[0].Required || k.Fields[0].Label != "Bot token" || k.Fields[0].Help == "" {
			t.Fatalf("telegram's fields: %+v", k.Fields)
		}
		return
	}
	t.Fatal("no telegram kind")
}

// TestPublishedAgentChannels: after a publish, the Publish screen's calls
// add a Telegram channel (its webhook on the hub, its secrets masked and
// never returned), send a test message that reaches the (fake) Bot API,
// report a refused one as a sentence, and remove the channel.
func TestPublishedAgentChannels(t *testing.T) {
	fake := ollamafake.New(t)
	a, events := bakerDesktop(t, fake.URL)
	if _, err := a.Channels("baker"); err == nil || !strings.Contains(err.Error(), "publish the agent first") {
		t.Fatalf("channels before any publish: %v", err)
	}
	var mu sync.Mutex
	var sent []map[string]any
	tg := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var m map[string]any
		json.NewDecoder(r.Body).Decode(&m)
		if r.URL.Path != "/bot"+appBot+"/sendMessage" || fmt.Sprint(m["chat_id"]) == "404" {
			w.WriteHeader(http.StatusBadRequest)
			fmt.Fprint(w, `{"ok":false,"error_code":400,"description":"Bad Request: chat not found"}`)
			return
		}
		mu.Lock()
		sent = append(sent, m)
		mu.Unlock()
		fmt.Fprint(w, `{"ok":true,"result":{"message_id":1}}`)
	}))
	defer tg.Close()
	c, _ := llm.New(fake.URL)
	// The operator lists the fake, as one would a local Bot API server.
	h, srv := hubtest.Serve(t, hub.Config{Model: c, Embedder: c, Import: hub.Importer(c), ChannelAPIBases: []string{tg.URL}})
	_, tok := hubtest.Workspace(t, h, "bakery")
	if ev := publishWait(t, a, events, "baker", srv.URL, tok, ""); ev.Error != "" {
		t.Fatalf("publish: %+v", ev)
	}

	if _, err := a.AddChannel("baker", "telegram", map[string]string{"bot_token": appBot}, tg.URL); err == nil || !strings.Contains(err.Error(), "secret_token") {
		t.Fatalf("a channel without its secret_token: %v", err)
	}
	ch, err := a.AddChannel("baker", "telegram", map[string]string{"bot_token": " " + appBot + " ", "secret_token": appSecret}, tg.URL)
	if err != nil {
		t.Fatal(err)
	}
	if ch.Webhook != srv.URL+"/ch/"+ch.ID || ch.Config["bot_token"] != "••••"+appBot[len(appBot)-4:] {
		t.Fatalf("added: %+v", ch)
	}
	list, err := a.Channels("baker")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(list)
	if len(list) != 1 || list[0].ID != ch.ID || strings.Contains(string(b), appBot) || strings.Contains(string(b), appSecret) {
		t.Fatalf("listed: %s", b)
	}
	if err := a.SendChannelTest("baker", ch.ID, " ", "hi"); err == nil || !strings.Contains(err.Error(), "test message") {
		t.Fatalf("a test without recipient: %v", err)
	}
	if err := a.SendChannelTest("baker", ch.ID, "42", "Hello from Atoll"); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	got := append([]map[string]any(nil), sent...)
	mu.Unlock()
	if len(got) != 1 || fmt.Sprint(got[0]["chat_id"]) != "42" || got[0]["text"] != "Hello from Atoll" {
		t.Fatalf("the Bot API got %v", got)
	}
	err = a.SendChannelTest("baker", ch.ID, "404", "x")
	if err == nil || !strings.Contains(err.Error(), "chat not found") || strings.Contains(err.Error(), appBot) {
		t.Fatalf("a refused test message: %v", err)
	}
	if err := a.RemoveChannel("baker", ch.ID); err != nil {
		t.Fatal(err)
	}
	if list, err := a.Channels("baker"); err != nil || len(list) != 0 {
		t.Fatalf("after remove: %v %+v", err, list)
	}
}
