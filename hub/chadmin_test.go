package hub

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"

	"atoll/channels"
	"atoll/channels/channeltest"
)

const (
	chBot    = "777001:AAH-chadmin-bot-token-secret-xyz"
	chSecret = "webhook_secret-chadmin-42"
)

// fakeTelegram is the Bot API's sendMessage: it records what it is sent,
// and refuses chat "404" as Telegram does an unknown chat.
func fakeTelegram(t *testing.T) (*httptest.Server, *channeltest.Calls[map[string]any]) {
	sent := &channeltest.Calls[map[string]any]{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/bot"+chBot+"/sendMessage" {
			w.WriteHeader(http.StatusUnauthorized)
			fmt.Fprint(w, `{"ok":false,"error_code":401,"description":"Unauthorized"}`)
			return
		}
		var m map[string]any
		json.NewDecoder(r.Body).Decode(&m)
		if fmt.Sprint(m["chat_id"]) == "404" {
			w.WriteHeader(http.StatusBadRequest)
			fmt.Fprint(w, `{"ok":false,"error_code":400,"description":"Bad Request: chat not found"}`)
			return
		}
		sent.Add(m)
		fmt.Fprint(w, `{"ok":true,"result":{"message_id":1}}`)
	}))
	t.Cleanup(srv.Close)
	return srv, sent
}

// as sends a request with a publisher token (and extra headers).
func (th *testHub) as(t *testing.T, tok, method, path string, body any, hdr ...string) (int, string) {
	t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	default:
		raw, _ := json.Marshal(b)
		rd = bytes.NewReader(raw)
	}
	req, _ := http.NewRequest(method, th.srv.URL+path, rd)
	req.Header.Set("Authorization", "Bearer "+tok)
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(b)
}

func telegramBody(apiBase string) map[string]any {
	return map[string]any{"kind": "telegram", "settings": map[string]string{"bot_token": chBot, "secret_token": chSecret}, "api_base": apiBase}
}

type chList struct {
	Channels []channelView `json:"channels"`
}

func listOf(t *testing.T, code int, body string) []channelView {
	t.Helper()
	if code != 200 {
		t.Fatalf("list: %d %s", code, body)
	}
	var l chList
	if err := json.Unmarshal([]byte(body), &l); err != nil {
		t.Fatal(err)
	}
	return l.Channels
}

func (th *testHub) listCh(t *testing.T, tok, path string, hdr ...string) []channelView {
	t.Helper()
	code, body := th.as(t, tok, "GET", path, nil, hdr...)
	return listOf(t, code, body)
}

func noSecrets(t *testing.T, what, body string) {
	t.Helper()
	for _, s := range []string{chBot, chSecret, "hunter2"} {
		if strings.Contains(body, s) {
			t.Fatalf("%s returned the secret %q: %s", what, s, body)
		}
	}
}

// TestChannelAdminAPI: a Telegram channel added through the API shows its
// webhook and masked settings, never its secrets; its test message reaches
// the (fake) Bot API exactly; a refused send is a 502 with Telegram's
// sentence; removed, it is gone.
func TestChannelAdminAPI(t *testing.T) {
	tg, sent := fakeTelegram(t)
	th := newTestHubAllowing(t, tg.URL) // as the operator lists a local Bot API server

	code, body := th.as(t, th.tok, "POST", "/api/agents/baker/channels", telegramBody(tg.URL))
	if code != 200 {
		t.Fatalf("add: %d %s", code, body)
	}
	noSecrets(t, "add", body)
	var added channelView
	json.Unmarshal([]byte(body), &added)
	if added.ID == "" || added.Kind != "telegram" || added.Agent != "baker" || added.Webhook != th.srv.URL+"/ch/"+added.ID || added.APIBase != tg.URL {
		t.Fatalf("add returned %+v", added)
	}
	if m := added.Config["bot_token"]; !strings.HasPrefix(m, "••••") || m != "••••"+chBot[len(chBot)-4:] {
		t.Fatalf("the bot token is not masked as ••••last4: %q", m)
	}

	code, body = th.as(t, th.tok, "GET", "/api/agents/baker/channels", nil)
	noSecrets(t, "list", body)
	l := listOf(t, code, body)
	if len(l) != 1 || l[0].ID != added.ID || l[0].Webhook != added.Webhook || l[0].Status.ID != added.ID {
		t.Fatalf("list: %s", body)
	}

	code, body = th.as(t, th.tok, "POST", "/api/agents/baker/channels/"+added.ID+"/test", map[string]string{"to": "42", "text": "Hello from the window"})
	if code != 200 {
		t.Fatalf("test message: %d %s", code, body)
	}
	if all := sent.All(); len(all) != 1 || fmt.Sprint(all[0]["chat_id"]) != "42" || all[0]["text"] != "Hello from the window" {
		t.Fatalf("the Bot API got %v", all)
	}

	code, body = th.as(t, th.tok, "POST", "/api/agents/baker/channels/"+added.ID+"/test", map[string]string{"to": "404", "text": "x"})
	if code != http.StatusBadGateway || !strings.Contains(body, "chat not found") {
		t.Fatalf("a refused test message: %d %s", code, body)
	}
	noSecrets(t, "a failed test", body)
	l = th.listCh(t, th.tok, "/api/agents/baker/channels")
	if !strings.Contains(l[0].Status.LastError, "chat not found") {
		t.Fatalf("the failed send is not in the status: %+v", l[0].Status)
	}
	if code, body := th.as(t, th.tok, "POST", "/api/agents/baker/channels/"+added.ID+"/test", map[string]string{"to": " ", "text": "x"}); code != 400 {
		t.Fatalf("a test without recipient: %d %s", code, body)
	}

	if code, body := th.as(t, th.tok, "DELETE", "/api/agents/baker/channels/"+added.ID, nil); code != 200 {
		t.Fatalf("remove: %d %s", code, body)
	}
	if l := th.listCh(t, th.tok, "/api/agents/baker/channels"); len(l) != 0 {
		t.Fatalf("after remove: %+v", l)
	}
	if _, running := th.h.Channels().Get(added.ID); running {
		t.Fatal("the removed channel still runs on the hub")
	}
	if code, _ := th.as(t, th.tok, "POST", "/api/agents/baker/channels/"+added.ID+"/test", map[string]string{"to": "42"}); code != 404 {
		t.Fatalf("a test on a removed channel: %d", code)
	}
	if sent.Len() != 1 {
		t.Fatalf("the Bot API got %d messages, want 1", sent.Len())
	}
}

// TestChannelAdminWorkspaceIsolation: a token of workspace B cannot list,
// add, remove or test workspace A's channels, not even through an agent
// of its own.
func TestChannelAdminWorkspaceIsolation(t *testing.T) {
	tg, sent := fakeTelegram(t)
	th := newTestHubAllowing(t, tg.URL) // as the operator lists a local Bot API server
	_, tokB := workspace(t, th.h, "rival")
	if code, body := th.as(t, tokB, "POST", "/api/publish", string(bundleFor(t, "rivalbot"))); code != 200 {
		t.Fatalf("publish in B: %d %s", code, body)
	}
	code, body := th.as(t, th.tok, "POST", "/api/agents/baker/channels", telegramBody(tg.URL))
	if code != 200 {
		t.Fatalf("add: %d %s", code, body)
	}
	var a channelView
	json.Unmarshal([]byte(body), &a)

	for _, c := range []struct{ method, path string }{
		{"GET", "/api/agents/baker/channels"},
		{"POST", "/api/agents/baker/channels"},
		{"DELETE", "/api/agents/baker/channels/" + a.ID},
		{"POST", "/api/agents/baker/channels/" + a.ID + "/test"},
		{"DELETE", "/api/agents/rivalbot/channels/" + a.ID},
		{"POST", "/api/agents/rivalbot/channels/" + a.ID + "/test"},
	} {
		var b any
		if c.method == "POST" {
			b = map[string]any{"kind": "telegram", "settings": map[string]string{"bot_token": chBot, "secret_token": chSecret}, "to": "42", "text": "x"}
		}
		code, body := th.as(t, tokB, c.method, c.path, b)
		if code != 404 {
			t.Errorf("B: %s %s: %d %s", c.method, c.path, code, body)
		}
		noSecrets(t, c.path, body)
		if strings.Contains(body, a.ID) && !strings.Contains(c.path, a.ID) {
			t.Errorf("B: %s %s shows A's channel: %s", c.method, c.path, body)
		}
	}
	if l := th.listCh(t, tokB, "/api/agents/rivalbot/channels"); len(l) != 0 {
		t.Fatalf("B sees channels: %+v", l)
	}
	if l := th.listCh(t, th.tok, "/api/agents/baker/channels"); len(l) != 1 {
		t.Fatalf("A's channel after B's attempts: %+v", l)
	}
	if sent.Len() != 0 {
		t.Fatalf("B's test reached the platform: %v", sent.All())
	}
	// And A, through B's agent's name, gets nothing either.
	if code, _ := th.as(t, th.tok, "GET", "/api/agents/rivalbot/channels", nil); code != 404 {
		t.Fatalf("A listing B's agent: %d", code)
	}
}

// TestChannelAdminValidation: what the kind refuses is a 400 with a
// sentence, and nothing is stored; an agent that is not published is a 404.
func TestChannelAdminValidation(t *testing.T) {
	th := newTestHub(t, 0, nil)
	for _, c := range []struct {
		name string
		body any
		code int
		want string
	}{
		{"no kind", map[string]any{"settings": map[string]string{}}, 400, `"kind"`},
		{"not JSON", "{", 400, `"kind"`},
		{"unknown kind", map[string]any{"kind": "fax"}, 400, "no channel kind"},
		{"missing setting", map[string]any{"kind": "telegram", "settings": map[string]string{"bot_token": chBot}}, 400, "secret_token"},
		{"unknown setting", map[string]any{"kind": "telegram", "settings": map[string]string{"bot_token": chBot, "secret_token": chSecret, "colour": "red"}}, 400, "colour"},
		{"bad api_base", map[string]any{"kind": "telegram", "settings": map[string]string{"bot_token": chBot, "secret_token": chSecret}, "api_base": "ftp://x"}, 400, "api_base"},
		// The adapter's own check: stored, this channel would never start.
		{"bad secret_token", map[string]any{"kind": "telegram", "settings": map[string]string{"bot_token": chBot, "secret_token": "not allowed!"}}, 400, "secret_token"},
		{"bad EncodingAESKey", map[string]any{"kind": "wechat-oa", "settings": map[string]string{"app_id": "wx1", "app_secret": "s", "token": "t", "encoding_aes_key": "short"}}, 400, "EncodingAESKey"},
		{"too large", map[string]any{"kind": "telegram", "settings": map[string]string{"bot_token": strings.Repeat("x", maxChannelBody)}}, 413, "KB"},
	} {
		code, body := th.as(t, th.tok, "POST", "/api/agents/baker/channels", c.body)
		var e struct {
			Error struct{ Message string } `json:"error"`
		}
		json.Unmarshal([]byte(body), &e)
		// The window shows these: no command-line flags in them.
		if code != c.code || !strings.Contains(e.Error.Message, c.want) || strings.Contains(e.Error.Message, "\n") || strings.Contains(e.Error.Message, "--") {
			t.Errorf("%s: %d %s", c.name, code, body)
		}
	}
	if code, body := th.as(t, th.tok, "POST", "/api/agents/nobody/channels", telegramBody("")); code != 404 || !strings.Contains(body, "nobody") {
		t.Errorf("an agent not published: %d %s", code, body)
	}
	if l := th.listCh(t, th.tok, "/api/agents/baker/channels"); len(l) != 0 {
		t.Fatalf("refused channels were stored: %+v", l)
	}
}

// TestChannelAdminWebhookBase: the webhook is built from the address the
// client used; X-Forwarded-Proto/Host count only from a trusted proxy.
func TestChannelAdminWebhookBase(t *testing.T) {
	th := newTestHub(t, 0, nil)
	hdr := []string{"X-Forwarded-Proto", "https", "X-Forwarded-Host", "evil.example"}
	code, body := th.as(t, th.tok, "POST", "/api/agents/baker/channels", telegramBody(""), hdr...)
	var v channelView
	json.Unmarshal([]byte(body), &v)
	if code != 200 || v.Webhook != th.srv.URL+"/ch/"+v.ID {
		t.Fatalf("untrusted forwarded headers: %d %s", code, body)
	}
	// The same store behind a hub that trusts loopback as its proxy.
	h2, err := New(Config{Dir: t.TempDir(), Store: th.h.st, TrustedProxies: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix("::1/128")}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(h2.Close)
	srv2 := httptest.NewServer(h2.Handler())
	t.Cleanup(srv2.Close)
	th = &testHub{h: h2, srv: srv2, tok: th.tok, ws: th.ws}
	l := th.listCh(t, th.tok, "/api/agents/baker/channels", "X-Forwarded-Proto", "https", "X-Forwarded-Host", "hub.example.com")
	if len(l) != 1 || l[0].Webhook != "https://hub.example.com/ch/"+v.ID {
		t.Fatalf("behind a trusted proxy: %+v", l)
	}
	l = th.listCh(t, th.tok, "/api/agents/baker/channels", "X-Forwarded-Host", "a.example/path?x")
	if len(l) != 1 || l[0].Webhook != srv2.URL+"/ch/"+v.ID {
		t.Fatalf("a forwarded host with a path: %+v", l)
	}
}

// TestChannelAdminOtherReplica: a channel added through one replica can
// be tested through another at once (it is loaded there on demand, not
// when its change feed gets to it), and its status is shown there.
func TestChannelAdminOtherReplica(t *testing.T) {
	t.Setenv(channels.KeyEnv, strings.Repeat("ab", 32)) // replicas share the key
	tg, sent := fakeTelegram(t)
	th := newTestHubAllowing(t, tg.URL) // as the operator lists a local Bot API server
	h2, err := New(Config{Dir: t.TempDir(), Store: th.h.st, ChannelAPIBases: []string{tg.URL}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(h2.Close)
	srv2 := httptest.NewServer(h2.Handler())
	t.Cleanup(srv2.Close)
	other := &testHub{h: h2, srv: srv2, tok: th.tok, ws: th.ws}
	for i := range 3 {
		code, body := th.as(t, th.tok, "POST", "/api/agents/baker/channels", telegramBody(tg.URL))
		var v channelView
		json.Unmarshal([]byte(body), &v)
		if code != 200 {
			t.Fatalf("add: %d %s", code, body)
		}
		text := fmt.Sprintf("through the other replica %d", i)
		if code, body := other.as(t, th.tok, "POST", "/api/agents/baker/channels/"+v.ID+"/test", map[string]string{"to": "42", "text": text}); code != 200 {
			t.Fatalf("test on the other replica: %d %s", code, body)
		}
		if all := sent.All(); len(all) != i+1 || all[i]["text"] != text {
			t.Fatalf("the Bot API got %v", all)
		}
	}
	l := other.listCh(t, th.tok, "/api/agents/baker/channels")
	if len(l) != 3 || l[0].Status.LastReply.IsZero() && l[0].Status.LastError != "" {
		t.Fatalf("on the other replica: %+v", l)
	}
}

// TestChannelAdminRedactsAPIBaseCredentials: a proxy's password in
// api_base is a secret too.
func TestChannelAdminRedactsAPIBaseCredentials(t *testing.T) {
	th := newTestHubAllowing(t, "http://proxy.example:3128")
	code, body := th.as(t, th.tok, "POST", "/api/agents/baker/channels", telegramBody("http://user:hunter2@proxy.example:3128"))
	if code != 200 {
		t.Fatalf("add: %d %s", code, body)
	}
	noSecrets(t, "add", body)
	_, body = th.as(t, th.tok, "GET", "/api/agents/baker/channels", nil)
	noSecrets(t, "list", body)
	if !strings.Contains(body, "proxy.example") {
		t.Fatalf("the api_base is not shown: %s", body)
	}
}

// TestChannelAdminCapped: an agent's channels are bounded.
func TestChannelAdminCapped(t *testing.T) {
	th := newTestHub(t, 0, nil)
	for i := 0; i < maxChannelsPerAgent; i++ {
		if code, body := th.as(t, th.tok, "POST", "/api/agents/baker/channels", telegramBody("")); code != 200 {
			t.Fatalf("add %d: %d %s", i, code, body)
		}
	}
	if code, body := th.as(t, th.tok, "POST", "/api/agents/baker/channels", telegramBody("")); code != 409 || !strings.Contains(body, "remove one") {
		t.Fatalf("one too many: %d %s", code, body)
	}
}
