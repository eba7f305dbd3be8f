package hub

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"atoll/channels"
	"atoll/hubstore"
	"atoll/internal/ollamafake"
	"atoll/llm"
)

// newTestHubAllowing is newTestHub on a hub started with
// --channel-api-base for each of bases.
func newTestHubAllowing(t testing.TB, bases ...string) *testHub {
	fake := ollamafake.New(t)
	c, _ := llm.New(fake.URL)
	dir := t.TempDir()
	legacyFolder(t, dir, ollamafake.DefaultChatModel)
	h, err := New(Config{Dir: dir, Model: c, Embedder: c, Retention: time.Hour, ChannelAPIBases: bases})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(h.Close)
	ws, err := h.st.WorkspaceByName(context.Background(), DefaultWorkspace)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h.Handler())
	t.Cleanup(srv.Close)
	return &testHub{h: h, srv: srv, fake: fake, tok: newTokenIn(t, h, ws.ID), ws: ws.ID}
}

func errMessage(body string) string {
	var e struct {
		Error struct{ Message string } `json:"error"`
	}
	json.Unmarshal([]byte(body), &e)
	return e.Error.Message
}

// TestChannelAdminRefusesUnlistedAPIBase: a publisher cannot point a
// channel at an address the hub's operator did not list, so the hub never
// sends a request there on a tenant's behalf: 400 with a sentence that
// names the operator's flag, and nothing stored.
func TestChannelAdminRefusesUnlistedAPIBase(t *testing.T) {
	th := newTestHub(t, 0, nil)
	tg, sent := fakeTelegram(t)
	for _, base := range []string{tg.URL, "http://169.254.169.254", "http://10.0.0.7:5432", "http://localhost:11434", "http://[::1]:8080", "https://api.telegram.org.evil.example"} {
		code, body := th.as(t, th.tok, "POST", "/api/agents/baker/channels", telegramBody(base))
		if m := errMessage(body); code != 400 || !strings.Contains(m, "--channel-api-base") || !strings.Contains(m, "operator") {
			t.Errorf("api_base %s: %d %s", base, code, body)
		}
	}
	if l := th.listCh(t, th.tok, "/api/agents/baker/channels"); len(l) != 0 {
		t.Fatalf("refused channels were stored: %+v", l)
	}
	if n := sent.Len(); n != 0 {
		t.Fatalf("the fake got %d requests", n)
	}
}

// TestChannelAdminAllowedBaseIsExact: the operator's list names a scheme,
// host, port and path prefix; another port of the same host, another
// scheme or another path is refused, and the listed base works.
func TestChannelAdminAllowedBaseIsExact(t *testing.T) {
	tg, sent := fakeTelegram(t)
	other, _ := fakeTelegram(t)
	th := newTestHubAllowing(t, tg.URL+"/")
	for _, base := range []string{other.URL, strings.Replace(tg.URL, "http://", "https://", 1), tg.URL + "/../x", strings.Replace(tg.URL, "127.0.0.1", "localhost", 1)} {
		if code, body := th.as(t, th.tok, "POST", "/api/agents/baker/channels", telegramBody(base)); code != 400 {
			t.Errorf("api_base %s: %d %s", base, code, body)
		}
	}
	code, body := th.as(t, th.tok, "POST", "/api/agents/baker/channels", telegramBody(tg.URL))
	if code != 200 {
		t.Fatalf("the listed base: %d %s", code, body)
	}
	var v channelView
	json.Unmarshal([]byte(body), &v)
	if code, body := th.as(t, th.tok, "POST", "/api/agents/baker/channels/"+v.ID+"/test", map[string]string{"to": "42", "text": "hi"}); code != 200 || sent.Len() != 1 {
		t.Fatalf("test through the listed base: %d %s, %d sent", code, body, sent.Len())
	}
}

// TestChannelRedirectNotFollowed: an allowed base that redirects to
// another host (here another port: an internal service) does not take the
// hub's request there.
func TestChannelRedirectNotFollowed(t *testing.T) {
	inner, reached := fakeTelegram(t)
	redirector := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, inner.URL+r.URL.Path, http.StatusTemporaryRedirect)
	}))
	t.Cleanup(redirector.Close)
	th := newTestHubAllowing(t, redirector.URL)
	code, body := th.as(t, th.tok, "POST", "/api/agents/baker/channels", telegramBody(redirector.URL))
	if code != 200 {
		t.Fatalf("add: %d %s", code, body)
	}
	var v channelView
	json.Unmarshal([]byte(body), &v)
	code, body = th.as(t, th.tok, "POST", "/api/agents/baker/channels/"+v.ID+"/test", map[string]string{"to": "42"})
	if code != 502 || !strings.Contains(errMessage(body), "redirect") || strings.Contains(body, chBot) {
		t.Fatalf("test through a redirect: %d %s", code, body)
	}
	// The operator's channels, which may reach loopback, do not follow
	// it either.
	cfg := channels.Config{ID: "opchan", Kind: channels.Telegram, Workspace: th.ws, Agent: "baker", APIBase: redirector.URL,
		Settings: map[string]string{"bot_token": chBot, "secret_token": chSecret}}
	if _, err := SaveChannel(context.Background(), th.h.st, th.h.channels.sealer, cfg); err != nil {
		t.Fatal(err)
	}
	code, body = th.as(t, th.tok, "POST", "/api/agents/baker/channels/opchan/test", map[string]string{"to": "42"})
	if code != 502 || !strings.Contains(errMessage(body), "redirect") {
		t.Fatalf("the operator's channel through a redirect: %d %s", code, body)
	}
	if reached.Len() != 0 {
		t.Fatalf("the redirect was followed: %v", reached.All())
	}
}

// TestChannelOperatorLoopbackTrusted: a channel the operator adds with the
// CLI (SaveChannel) may use a loopback api_base on a hub that lists none,
// also on a replica started later; a tenant's row with the same base does
// not run there.
func TestChannelOperatorLoopbackTrusted(t *testing.T) {
	t.Setenv(channels.KeyEnv, strings.Repeat("cd", 32))
	th := newTestHub(t, 0, nil)
	tg, sent := fakeTelegram(t)
	cfg := channels.Config{ID: "opchan", Kind: channels.Telegram, Workspace: th.ws, Agent: "baker", APIBase: tg.URL,
		Settings: map[string]string{"bot_token": chBot, "secret_token": chSecret}}
	if _, err := SaveChannel(context.Background(), th.h.st, th.h.channels.sealer, cfg); err != nil {
		t.Fatal(err)
	}
	// A tenant's row with the same base, as an older hub (or a shorter
	// --channel-api-base list) left it.
	tcfg := cfg
	tcfg.ID, tcfg.Tenant = "tenantchan", true
	st, err := channels.Seal(tcfg, th.h.channels.sealer)
	if err != nil {
		t.Fatal(err)
	}
	if err := (ChannelStore{St: th.h.st}).Put(context.Background(), st); err != nil {
		t.Fatal(err)
	}
	h2, err := New(Config{Dir: t.TempDir(), Store: th.h.st})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(h2.Close)
	srv2 := httptest.NewServer(h2.Handler())
	t.Cleanup(srv2.Close)
	for i, hub := range []*testHub{th, {h: h2, srv: srv2, tok: th.tok, ws: th.ws}} {
		text := fmt.Sprint("from replica ", i)
		if code, body := hub.as(t, th.tok, "POST", "/api/agents/baker/channels/opchan/test", map[string]string{"to": "42", "text": text}); code != 200 {
			t.Fatalf("replica %d, the operator's channel: %d %s", i, code, body)
		}
		if all := sent.All(); len(all) != i+1 || all[i]["text"] != text {
			t.Fatalf("replica %d: the Bot API got %v", i, all)
		}
		code, body := hub.as(t, th.tok, "POST", "/api/agents/baker/channels/tenantchan/test", map[string]string{"to": "42"})
		if code != 409 || !strings.Contains(errMessage(body), "--channel-api-base") {
			t.Fatalf("replica %d, the tenant's channel: %d %s", i, code, body)
		}
	}
	if sent.Len() != 2 {
		t.Fatalf("the tenant's channel reached the fake: %v", sent.All())
	}
	var raw []hubstore.Channel
	raw, _ = th.h.st.AllChannels(context.Background())
	for _, c := range raw {
		if want := map[string]string{"opchan": `"origin":"operator"`, "tenantchan": `"origin":"tenant"`}[c.ID]; !strings.Contains(string(c.Config), want) {
			t.Errorf("stored %s: %s", c.ID, c.Config)
		}
	}
}

// TestChannelTestErrorSanitised: the test route keeps the platform's
// sentence but not an HTML page, control characters or an unbounded text.
func TestChannelTestErrorSanitised(t *testing.T) {
	answers := []string{
		`<!DOCTYPE html><html><head><title>502</title></head><body><script>alert(1)</script>internal</body></html>`,
		"{\"ok\":false,\"description\":\"Bad Request: chat\x1b[31m not\r\nfound\u202e\"}",
		`{"ok":false,"description":"` + strings.Repeat("long ", 2000) + `"}`,
	}
	var i int
	tg := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusBadRequest)
		fmt.Fprint(w, answers[i])
	}))
	t.Cleanup(tg.Close)
	th := newTestHubAllowing(t, tg.URL)
	code, body := th.as(t, th.tok, "POST", "/api/agents/baker/channels", telegramBody(tg.URL))
	if code != 200 {
		t.Fatalf("add: %d %s", code, body)
	}
	var v channelView
	json.Unmarshal([]byte(body), &v)
	for i = range answers {
		code, body := th.as(t, th.tok, "POST", "/api/agents/baker/channels/"+v.ID+"/test", map[string]string{"to": "42"})
		m := errMessage(body)
		if code != 502 || m == "" || len(m) > maxTestError+10 || strings.ContainsAny(m, "<>\x1b\r\n\u202e") || strings.Contains(m, "alert") {
			t.Errorf("answer %d: %d %q", i, code, m)
		}
		if i == 1 && !strings.Contains(m, "Bad Request: chat") {
			t.Errorf("the platform's sentence is lost: %q", m)
		}
	}
}

// TestChannelAPIBasesChecked: the hub refuses to start with a list entry
// it could not match exactly.
func TestChannelAPIBasesChecked(t *testing.T) {
	for _, bad := range []string{"127.0.0.1:8081", "ftp://h", "http://u:p@h:1", "http://h/?q=1"} {
		if h, err := New(Config{Dir: t.TempDir(), ChannelAPIBases: []string{bad}}); err == nil {
			h.Close()
			t.Errorf("%q was accepted", bad)
		} else if !strings.Contains(err.Error(), "channel API base") {
			t.Errorf("%q: %v", bad, err)
		}
	}
}
