package wechatoa_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"atoll/channels"
	"atoll/channels/channeltest"
	"atoll/channels/channeltest/fakes"
	"atoll/channels/crypto"
)

const token = fakes.WeChatToken

type env struct {
	h     *channeltest.Hub
	f     *fakes.WeChatOA
	clock *channeltest.Clock
	a     *channeltest.Answerer
}

func setup(t *testing.T, safe bool) *env {
	e := &env{f: fakes.NewWeChatOA(t, safe), clock: channeltest.NewClock(time.Now()), a: &channeltest.Answerer{}}
	e.f.SetNow(e.clock.Now)
	e.h = channeltest.NewHub(t, channels.Options{Answerer: e.a, Now: e.clock.Now})
	if _, err := e.h.D.Add(channels.Config{ID: "oa", Kind: channels.WeChatOA, Agent: "baker", APIBase: e.f.APIBase(), Settings: e.f.Settings()}); err != nil {
		t.Fatal(err)
	}
	return e
}

func (e *env) deliver(t testing.TB, msgID int, content string, safe, forged bool) int {
	return e.f.Post(t, e.h.URL("oa"), msgID, content, safe, forged)
}

func TestWeChatOASafeModeScenario(t *testing.T) {
	e := setup(t, true)
	channeltest.Run(t, e.h, "oa", e.a, fakes.Scenario(e.f, e.h.URL("oa")))
	for _, m := range e.f.Sent.All() {
		if m["touser"] != "oyORnuP8q7ou2gfYjqLzSIWZf0rs" || m["msgtype"] != "text" {
			t.Errorf("custom/send %v", m)
		}
	}
	// One token served both replies.
	if e.f.Issued() != 1 {
		t.Errorf("%d tokens fetched for two replies", e.f.Issued())
	}
	// Safe mode refuses a plaintext post even with a valid signature.
	if st := e.deliver(t, 1, "plain", false, false); st != 401 {
		t.Errorf("plaintext in safe mode: %d, want 401", st)
	}
}

func TestWeChatOAPlainModeURLCheckAndReplay(t *testing.T) {
	e := setup(t, false)
	ts, nonce := "1409304348", "xxxxxx"
	q := url.Values{"timestamp": {ts}, "nonce": {nonce}, "echostr": {"5837397520832357"}, "signature": {crypto.WeChatSignature(token, ts, nonce)}}
	resp, _ := http.Get(e.h.URL("oa") + "?" + q.Encode())
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || string(b) != "5837397520832357" {
		t.Errorf("URL check: %d %q, want the echostr back", resp.StatusCode, b)
	}
	q.Set("signature", crypto.WeChatSignature("wrong", ts, nonce))
	resp, _ = http.Get(e.h.URL("oa") + "?" + q.Encode())
	resp.Body.Close()
	if resp.StatusCode != 401 {
		t.Errorf("forged URL check: %d", resp.StatusCode)
	}
	if st := e.deliver(t, 1, "hello", false, false); st != 200 {
		t.Fatal(st)
	}
	channeltest.WaitFor(t, "the reply", func() bool { return e.f.Sent.Len() == 1 })
	// A captured request replayed after the window is refused.
	ts2 := strconv.FormatInt(e.clock.Now().Add(-6*time.Minute).Unix(), 10)
	q2 := url.Values{"timestamp": {ts2}, "nonce": {nonce}, "signature": {crypto.WeChatSignature(token, ts2, nonce)}}
	resp, _ = http.Post(e.h.URL("oa")+"?"+q2.Encode(), "text/xml", strings.NewReader(fakes.TextXML(3, "replayed")))
	resp.Body.Close()
	if resp.StatusCode != 401 {
		t.Errorf("a 6-minute-old request: %d, want 401", resp.StatusCode)
	}
}

func TestWeChatOATokenRefreshedBeforeExpiryAndOnRejection(t *testing.T) {
	e := setup(t, true)
	ch, _ := e.h.D.Get("oa")
	if !ch.Status().TokenExpiry.IsZero() {
		t.Error("a token expiry before any token")
	}
	e.deliver(t, 1, "one", true, false)
	channeltest.WaitFor(t, "reply 1", func() bool { return e.f.Sent.Len() == 1 })
	exp := ch.Status().TokenExpiry
	if d := exp.Sub(e.clock.Now()); d < 119*time.Minute || d > 121*time.Minute {
		t.Errorf("token expiry in %v, want about 2 h", d)
	}
	// 1 h 57 min later the token has 3 minutes left: it is replaced
	// before use, not after the platform refuses it.
	e.clock.Advance(117 * time.Minute)
	e.deliver(t, 2, "two", true, false)
	channeltest.WaitFor(t, "reply 2", func() bool { return e.f.Sent.Len() == 2 })
	if e.f.Issued() != 2 {
		t.Errorf("%d tokens issued, want a refresh before expiry", e.f.Issued())
	}
	// The platform revokes the token early (another server fetched one):
	// 40001, a new token, the same message sent once.
	e.f.Revoke()
	e.deliver(t, 3, "three", true, false)
	channeltest.WaitFor(t, "reply 3", func() bool { return e.f.Sent.Len() == 3 })
	if e.f.Issued() != 3 {
		t.Errorf("%d tokens issued, want one more after 40001", e.f.Issued())
	}
}

func TestWeChatOAFollowupsAsMenu(t *testing.T) {
	e := setup(t, true)
	e.a.Followups = []string{"营业时间?", "Delivery?"}
	e.a.Sources = []channels.Source{{Title: "menu.pdf", Page: 2}}
	e.deliver(t, 1, "**hi**", true, false)
	channeltest.WaitFor(t, "the reply", func() bool { return e.f.Sent.Len() == 1 })
	m := e.f.Sent.All()[0]
	b, _ := json.Marshal(m)
	if m["msgtype"] != "msgmenu" || !strings.Contains(string(b), `"content":"营业时间?"`) || !strings.Contains(string(b), "answer: hi") || strings.Contains(string(b), "**") || !strings.Contains(string(b), "Sources: menu.pdf p. 2") {
		t.Errorf("menu message %s", b)
	}
}
