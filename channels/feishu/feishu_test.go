package feishu_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
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
	appID  = "cli_9dbb2dd6f5e0d104"
	secret = "app-secret-abcdef"
	vtoken = "l802sPhp2r1AMSPDTaJc5eYZOEnKyp" // the docs' sample Verification Token
	ekey   = "encrypt-key-123"
)

type reply struct {
	MessageID string
	Markdown  string
}

// fakeFeishu is the documented tenant_access_token/internal
// ({"code":0,"tenant_access_token","expire":7200}) and message reply API
// (POST /open-apis/im/v1/messages/:message_id/reply, Bearer token,
// {"code":0}); an unknown token is code 99991663.
type fakeFeishu struct {
	srv    *httptest.Server
	mu     sync.Mutex
	issued int
	valid  string
	sent   channeltest.Calls[reply]
}

func newFake(t *testing.T) *fakeFeishu {
	f := &fakeFeishu{}
	f.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		defer f.mu.Unlock()
		switch {
		case r.URL.Path == "/open-apis/auth/v3/tenant_access_token/internal":
			var in map[string]string
			json.NewDecoder(r.Body).Decode(&in)
			if in["app_id"] != appID || in["app_secret"] != secret {
				fmt.Fprint(w, `{"code":10014,"msg":"app secret invalid"}`)
				return
			}
			f.issued++
			f.valid = "t-" + strconv.Itoa(f.issued)
			fmt.Fprintf(w, `{"code":0,"msg":"ok","tenant_access_token":%q,"expire":7200}`, f.valid)
		case strings.HasPrefix(r.URL.Path, "/open-apis/im/v1/messages/") && strings.HasSuffix(r.URL.Path, "/reply"):
			if r.Header.Get("Authorization") != "Bearer "+f.valid {
				w.WriteHeader(http.StatusBadRequest)
				fmt.Fprint(w, `{"code":99991663,"msg":"Invalid access token for authorization. Please make a request with token attached."}`)
				return
			}
			var in struct {
				MsgType string `json:"msg_type"`
				Content string `json:"content"`
			}
			json.NewDecoder(r.Body).Decode(&in)
			var c struct {
				Elements []struct{ Tag, Content string } `json:"elements"`
			}
			if in.MsgType != "interactive" || json.Unmarshal([]byte(in.Content), &c) != nil || len(c.Elements) != 1 {
				fmt.Fprint(w, `{"code":230001,"msg":"bad content"}`)
				return
			}
			id := strings.TrimSuffix(strings.TrimPrefix(r.URL.Path, "/open-apis/im/v1/messages/"), "/reply")
			f.sent.Add(reply{MessageID: id, Markdown: c.Elements[0].Content})
			fmt.Fprint(w, `{"code":0,"msg":"success","data":{}}`)
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(f.srv.Close)
	return f
}

type env struct {
	h     *channeltest.Hub
	f     *fakeFeishu
	a     *channeltest.Answerer
	clock *channeltest.Clock
	key   string
}

func setup(t *testing.T, key string) *env {
	e := &env{f: newFake(t), a: &channeltest.Answerer{}, clock: channeltest.NewClock(time.Now()), key: key}
	e.h = channeltest.NewHub(t, channels.Options{Answerer: e.a, Now: e.clock.Now})
	s := map[string]string{"app_id": appID, "app_secret": secret, "verification_token": vtoken}
	if key != "" {
		s["encrypt_key"] = key
	}
	if _, err := e.h.D.Add(channels.Config{ID: "fs", Kind: channels.Feishu, Agent: "baker", APIBase: e.f.srv.URL, Settings: s}); err != nil {
		t.Fatal(err)
	}
	return e
}

// messageEvent is im.message.receive_v1 in the v2 schema, as the event's
// documentation shows it.
func messageEvent(n int, text, token string) string {
	content, _ := json.Marshal(map[string]string{"text": "@_user_1 " + text})
	return fmt.Sprintf(`{"schema":"2.0","header":{"event_id":"5e3702a84e847582be8db7fb73283c0%d","event_type":"im.message.receive_v1","create_time":"1608725989000","token":%q,"app_id":%q,"tenant_key":"2ca1d211f64f6438"},"event":{"sender":{"sender_id":{"union_id":"on_8ed6aa67826108097d9ee143816345","user_id":"e33ggbyz","open_id":"ou_84aad35d084aa403a838cf73ee18467"},"sender_type":"user","tenant_key":"736588c9260f175e"},"message":{"message_id":"om_5ce6d572455d361153b7cb51da13394%d","chat_id":"oc_5ce6d572455d361153b7xx51da133945","chat_type":"group","message_type":"text","content":%q,"create_time":"1609073151345"}}}`,
		n, token, appID, n, content)
}

// post encrypts (with an Encrypt Key) and signs a body as Feishu does.
func (e *env) post(t testing.TB, plain string, forged bool) (int, string) {
	body := plain
	req, _ := http.NewRequest(http.MethodPost, e.h.URL("fs"), nil)
	if e.key != "" {
		b, _ := json.Marshal(map[string]string{"encrypt": crypto.FeishuEncrypt(e.key, []byte(plain))})
		body = string(b)
		ts, nonce := strconv.FormatInt(e.clock.Now().Unix(), 10), "n"+strconv.Itoa(len(body))
		k := e.key
		if forged {
			k = "wrong-key"
		}
		req.Header.Set("X-Lark-Request-Timestamp", ts)
		req.Header.Set("X-Lark-Request-Nonce", nonce)
		req.Header.Set("X-Lark-Signature", crypto.FeishuSignature(ts, nonce, k, []byte(body)))
	}
	req.Body = io.NopCloser(strings.NewReader(body))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestFeishuEncryptedScenario(t *testing.T) {
	e := setup(t, ekey)
	f, _ := channels.Lookup(channels.Feishu)
	channeltest.Run(t, e.h, "fs", e.a, channeltest.Platform{
		Ack: f.Ack,
		Deliver: func(t testing.TB, n int, forged bool) int {
			st, _ := e.post(t, messageEvent(n, channeltest.Question(n), vtoken), forged)
			return st
		},
		Replies: func() []string {
			var out []string
			for _, r := range e.f.sent.All() {
				if !strings.HasPrefix(r.MessageID, "om_5ce6d572455d361153b7cb51da13394") {
					t.Errorf("reply to %q", r.MessageID)
				}
				out = append(out, r.Markdown)
			}
			return out
		},
	})
	if e.a.Questions()[0].Text != "question 1" || e.a.Questions()[0].UserKey != "feishu:ou_84aad35d084aa403a838cf73ee18467" {
		t.Errorf("question %+v", e.a.Questions()[0])
	}
}

func TestFeishuChallengeAndTokens(t *testing.T) {
	e := setup(t, ekey)
	// The URL check, encrypted like every event once an Encrypt Key is set.
	st, body := e.post(t, `{"challenge":"1b6aef1a-401f-406a-be41-f48911eabcef","token":"`+vtoken+`","type":"url_verification"}`, false)
	if st != 200 || body != `{"challenge":"1b6aef1a-401f-406a-be41-f48911eabcef"}` {
		t.Errorf("challenge: %d %s", st, body)
	}
	if st, _ := e.post(t, `{"challenge":"x","token":"other","type":"url_verification"}`, false); st != 401 {
		t.Errorf("challenge with another Verification Token: %d", st)
	}
	// An event encrypted with the key but with a wrong Verification Token.
	if st, _ := e.post(t, messageEvent(5, "hi", "other"), false); st != 401 {
		t.Errorf("wrong Verification Token: %d", st)
	}
	// Unsigned and unencrypted, claiming the right token: refused.
	resp, _ := http.Post(e.h.URL("fs"), "application/json", strings.NewReader(messageEvent(6, "hi", vtoken)))
	resp.Body.Close()
	if resp.StatusCode != 401 {
		t.Errorf("plaintext with an Encrypt Key set: %d", resp.StatusCode)
	}
	// Expired tenant token: refetched, reply sent once.
	e.post(t, messageEvent(1, "one", vtoken), false)
	channeltest.WaitFor(t, "reply 1", func() bool { return e.f.sent.Len() == 1 })
	e.f.mu.Lock()
	e.f.valid = "revoked"
	e.f.mu.Unlock()
	e.post(t, messageEvent(2, "two", vtoken), false)
	channeltest.WaitFor(t, "reply 2", func() bool { return e.f.sent.Len() == 2 })
	if e.f.issued != 2 || e.f.sent.Len() != 2 {
		t.Errorf("issued %d, sent %d", e.f.issued, e.f.sent.Len())
	}
	ch, _ := e.h.D.Get("fs")
	if ch.Status().TokenExpiry.IsZero() {
		t.Error("no token expiry in the status")
	}
}

func TestFeishuWithoutEncryptKeyChecksToken(t *testing.T) {
	e := setup(t, "")
	e.a.Followups = []string{"Prices?"}
	if st, _ := e.post(t, messageEvent(1, "**hours**", vtoken), false); st != 200 {
		t.Fatal(st)
	}
	if st, _ := e.post(t, messageEvent(2, "hi", "forged"), false); st != 401 {
		t.Errorf("forged token: %d", st)
	}
	channeltest.WaitFor(t, "the reply", func() bool { return e.f.sent.Len() == 1 })
	md := e.f.sent.All()[0].Markdown
	if !strings.Contains(md, "answer: **hours**") || !strings.Contains(md, "1. Prices?") {
		t.Errorf("card markdown %q", md)
	}
}
