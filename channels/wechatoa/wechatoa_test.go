package wechatoa_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"atoll/channels"
	"atoll/channels/channeltest"
	"atoll/channels/crypto"
)

const (
	appID  = "wxb11529c136998cb6"
	secret = "app-secret-1234567890"
	token  = "pamtest"
	aesKey = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"
)

// fakeWeChat is the documented access-token and customer-service APIs:
// GET /cgi-bin/token → {"access_token","expires_in":7200}; POST
// /cgi-bin/message/custom/send?access_token= → {"errcode":0,"errmsg":"ok"},
// or 40001 for a token it no longer honours.
type fakeWeChat struct {
	srv     *httptest.Server
	mu      sync.Mutex
	issued  int
	valid   string
	sent    channeltest.Calls[map[string]any]
	revoked bool
}

func newFake(t *testing.T) *fakeWeChat {
	f := &fakeWeChat{}
	f.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		defer f.mu.Unlock()
		q := r.URL.Query()
		switch r.URL.Path {
		case "/cgi-bin/token":
			if q.Get("appid") != appID || q.Get("secret") != secret || q.Get("grant_type") != "client_credential" {
				fmt.Fprint(w, `{"errcode":40013,"errmsg":"invalid appid"}`)
				return
			}
			f.issued++
			f.valid = "ACCESS_TOKEN_" + strconv.Itoa(f.issued)
			fmt.Fprintf(w, `{"access_token":%q,"expires_in":7200}`, f.valid)
		case "/cgi-bin/message/custom/send":
			if q.Get("access_token") != f.valid {
				fmt.Fprint(w, `{"errcode":40001,"errmsg":"invalid credential, access_token is invalid or not latest"}`)
				return
			}
			var m map[string]any
			json.NewDecoder(r.Body).Decode(&m)
			f.sent.Add(m)
			fmt.Fprint(w, `{"errcode":0,"errmsg":"ok"}`)
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakeWeChat) texts() []string {
	var out []string
	for _, m := range f.sent.All() {
		if t, ok := m["text"].(map[string]any); ok {
			out = append(out, t["content"].(string))
		} else if mm, ok := m["msgmenu"].(map[string]any); ok {
			out = append(out, mm["head_content"].(string))
		}
	}
	return out
}

type env struct {
	h     *channeltest.Hub
	f     *fakeWeChat
	clock *channeltest.Clock
	a     *channeltest.Answerer
}

func setup(t *testing.T, safe bool) *env {
	e := &env{f: newFake(t), clock: channeltest.NewClock(time.Now()), a: &channeltest.Answerer{}}
	e.h = channeltest.NewHub(t, channels.Options{Answerer: e.a, Now: e.clock.Now})
	s := map[string]string{"app_id": appID, "app_secret": secret, "token": token}
	if safe {
		s["encoding_aes_key"] = aesKey
	}
	if _, err := e.h.D.Add(channels.Config{ID: "oa", Kind: channels.WeChatOA, Agent: "baker", APIBase: e.f.srv.URL, Settings: s}); err != nil {
		t.Fatal(err)
	}
	return e
}

// textXML is a text message as the 接收普通消息 page shows it.
func textXML(msgID int, content string) string {
	return fmt.Sprintf(`<xml><ToUserName><![CDATA[gh_10f6c3c3ac5a]]></ToUserName><FromUserName><![CDATA[oyORnuP8q7ou2gfYjqLzSIWZf0rs]]></FromUserName><CreateTime>1409735668</CreateTime><MsgType><![CDATA[text]]></MsgType><Content><![CDATA[%s]]></Content><MsgId>%d</MsgId></xml>`, content, msgID)
}

// deliver posts a message the way the message server is called:
// signature (and in safe mode encrypt_type=aes and msg_signature) in the
// query, the XML (or its Encrypt envelope) in the body.
func (e *env) deliver(t testing.TB, msgID int, content string, safe, forged bool) int {
	ts := strconv.FormatInt(e.clock.Now().Unix(), 10)
	nonce := "1320562132"
	tok := token
	if forged {
		tok = "not-the-token"
	}
	q := url.Values{"timestamp": {ts}, "nonce": {nonce}, "signature": {crypto.WeChatSignature(tok, ts, nonce)}, "openid": {"oyORnuP8q7ou2gfYjqLzSIWZf0rs"}}
	body := textXML(msgID, content)
	if safe {
		wx, _ := crypto.NewWeChat(aesKey, appID)
		enc := wx.Encrypt([]byte(body))
		q.Set("encrypt_type", "aes")
		q.Set("msg_signature", crypto.WeChatSignature(tok, ts, nonce, enc))
		body = "<xml><ToUserName><![CDATA[gh_10f6c3c3ac5a]]></ToUserName><Encrypt><![CDATA[" + enc + "]]></Encrypt></xml>"
	}
	resp, err := http.Post(e.h.URL("oa")+"?"+q.Encode(), "text/xml", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode == 200 && string(b) != "success" {
		t.Errorf("acknowledged with %q, want success", b)
	}
	return resp.StatusCode
}

func TestWeChatOASafeModeScenario(t *testing.T) {
	e := setup(t, true)
	f, _ := channels.Lookup(channels.WeChatOA)
	channeltest.Run(t, e.h, "oa", e.a, channeltest.Platform{
		Ack: f.Ack,
		Deliver: func(t testing.TB, n int, forged bool) int {
			return e.deliver(t, 7000+n, channeltest.Question(n), true, forged)
		},
		Replies: e.f.texts,
	})
	for _, m := range e.f.sent.All() {
		if m["touser"] != "oyORnuP8q7ou2gfYjqLzSIWZf0rs" || m["msgtype"] != "text" {
			t.Errorf("custom/send %v", m)
		}
	}
	// One token served both replies.
	if e.f.issued != 1 {
		t.Errorf("%d tokens fetched for two replies", e.f.issued)
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
	channeltest.WaitFor(t, "the reply", func() bool { return e.f.sent.Len() == 1 })
	// A captured request replayed after the window is refused.
	ts2 := strconv.FormatInt(e.clock.Now().Add(-6*time.Minute).Unix(), 10)
	q2 := url.Values{"timestamp": {ts2}, "nonce": {nonce}, "signature": {crypto.WeChatSignature(token, ts2, nonce)}}
	resp, _ = http.Post(e.h.URL("oa")+"?"+q2.Encode(), "text/xml", strings.NewReader(textXML(3, "replayed")))
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
	channeltest.WaitFor(t, "reply 1", func() bool { return e.f.sent.Len() == 1 })
	exp := ch.Status().TokenExpiry
	if d := exp.Sub(e.clock.Now()); d < 119*time.Minute || d > 121*time.Minute {
		t.Errorf("token expiry in %v, want about 2 h", d)
	}
	// 1 h 57 min later the token has 3 minutes left: it is replaced
	// before use, not after the platform refuses it.
	e.clock.Advance(117 * time.Minute)
	e.deliver(t, 2, "two", true, false)
	channeltest.WaitFor(t, "reply 2", func() bool { return e.f.sent.Len() == 2 })
	if e.f.issued != 2 {
		t.Errorf("%d tokens issued, want a refresh before expiry", e.f.issued)
	}
	// The platform revokes the token early (another server fetched one):
	// 40001, a new token, the same message sent once.
	e.f.mu.Lock()
	e.f.valid = "revoked"
	e.f.mu.Unlock()
	e.deliver(t, 3, "three", true, false)
	channeltest.WaitFor(t, "reply 3", func() bool { return e.f.sent.Len() == 3 })
	if e.f.issued != 3 {
		t.Errorf("%d tokens issued, want one more after 40001", e.f.issued)
	}
}

func TestWeChatOAFollowupsAsMenu(t *testing.T) {
	e := setup(t, true)
	e.a.Followups = []string{"营业时间?", "Delivery?"}
	e.a.Sources = []channels.Source{{Title: "menu.pdf", Page: 2}}
	e.deliver(t, 1, "**hi**", true, false)
	channeltest.WaitFor(t, "the reply", func() bool { return e.f.sent.Len() == 1 })
	m := e.f.sent.All()[0]
	b, _ := json.Marshal(m)
	if m["msgtype"] != "msgmenu" || !strings.Contains(string(b), `"content":"营业时间?"`) || !strings.Contains(string(b), "answer: hi") || strings.Contains(string(b), "**") || !strings.Contains(string(b), "Sources: menu.pdf p. 2") {
		t.Errorf("menu message %s", b)
	}
}
