package wecomkf_test

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
	corpID = "wwcorp0123456789"
	secret = "kf-secret-abcdef"
	token  = "QDG6eK"
	aesKey = "jWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2C" // the length and alphabet WeCom issues
	kfID   = "wkAJ2GCAAAZSfhHCt7IFSvLKtMPxyJTw"
	user   = "wmAJ2GCAAAme1XQRC-NI-q0_ZM9ukoAw"
)

type kfMsg struct {
	ID, Text string
	At       int64
}

// fakeKF is the documented gettoken, kf/sync_msg (cursor, token, has_more,
// next_cursor, msg_list with origin 3 for customers) and kf/send_msg.
type fakeKF struct {
	srv     *httptest.Server
	mu      sync.Mutex
	msgs    []kfMsg
	issued  int
	valid   string
	replay  bool // ignore the cursor once (a platform hiccup serving old messages again)
	badTok  int  // sync calls whose token the fake refuses (the callback's Token is required)
	sent    channeltest.Calls[map[string]any]
	cursors []string
}

func newFake(t *testing.T) *fakeKF {
	f := &fakeKF{}
	f.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		defer f.mu.Unlock()
		q := r.URL.Query()
		switch r.URL.Path {
		case "/cgi-bin/gettoken":
			if q.Get("corpid") != corpID || q.Get("corpsecret") != secret {
				fmt.Fprint(w, `{"errcode":40001,"errmsg":"invalid credential"}`)
				return
			}
			f.issued++
			f.valid = "kftoken" + strconv.Itoa(f.issued)
			fmt.Fprintf(w, `{"errcode":0,"errmsg":"ok","access_token":%q,"expires_in":7200}`, f.valid)
		case "/cgi-bin/kf/sync_msg":
			if q.Get("access_token") != f.valid {
				fmt.Fprint(w, `{"errcode":42001,"errmsg":"access_token expired"}`)
				return
			}
			var in struct{ Cursor, Token, OpenKfid string }
			var raw map[string]any
			json.NewDecoder(r.Body).Decode(&raw)
			in.Cursor, _ = raw["cursor"].(string)
			in.Token, _ = raw["token"].(string)
			in.OpenKfid, _ = raw["open_kfid"].(string)
			if in.Token != "ENCApHxnGDNAVNY4AaSJKj4Tb5mwsEMzxhFmHVGcra996NR" || in.OpenKfid != kfID {
				fmt.Fprint(w, `{"errcode":95007,"errmsg":"invalid msg token"}`)
				return
			}
			f.cursors = append(f.cursors, in.Cursor)
			start, _ := strconv.Atoi(in.Cursor)
			if f.replay {
				start, f.replay = 0, false
			}
			var list []map[string]any
			for _, m := range f.msgs[min(start, len(f.msgs)):] {
				list = append(list, map[string]any{"msgid": m.ID, "open_kfid": kfID, "external_userid": user, "send_time": m.At,
					"origin": 3, "msgtype": "text", "text": map[string]string{"content": m.Text}})
			}
			// A servicer's message in the same page is not answered.
			list = append(list, map[string]any{"msgid": "srv" + strconv.Itoa(len(f.msgs)), "origin": 5, "msgtype": "text", "text": map[string]string{"content": "from staff"}})
			b, _ := json.Marshal(map[string]any{"errcode": 0, "errmsg": "ok", "next_cursor": strconv.Itoa(len(f.msgs)), "has_more": 0, "msg_list": list})
			w.Write(b)
		case "/cgi-bin/kf/send_msg":
			if q.Get("access_token") != f.valid {
				fmt.Fprint(w, `{"errcode":42001,"errmsg":"access_token expired"}`)
				return
			}
			var m map[string]any
			json.NewDecoder(r.Body).Decode(&m)
			f.sent.Add(m)
			fmt.Fprint(w, `{"errcode":0,"errmsg":"ok","msgid":"MSG"}`)
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakeKF) add(id, text string) {
	f.mu.Lock()
	f.msgs = append(f.msgs, kfMsg{ID: id, Text: text, At: time.Now().Unix()})
	f.mu.Unlock()
}

func (f *fakeKF) texts() []string {
	var out []string
	for _, m := range f.sent.All() {
		if m["touser"] != user || m["open_kfid"] != kfID {
			continue
		}
		if t, ok := m["text"].(map[string]any); ok {
			out = append(out, t["content"].(string))
		}
	}
	return out
}

// notify posts the kf_msg_or_event notice as WeCom does: the event XML
// (as the 接收消息和事件 page shows it) encrypted, in an Encrypt envelope,
// msg_signature over token, timestamp, nonce and Encrypt.
func notify(t testing.TB, hookURL string, forged bool) int {
	wx, _ := crypto.NewWeChat(aesKey, corpID)
	inner := `<xml><ToUserName><![CDATA[` + corpID + `]]></ToUserName><CreateTime>1348831860</CreateTime><MsgType><![CDATA[event]]></MsgType><Event><![CDATA[kf_msg_or_event]]></Event><Token><![CDATA[ENCApHxnGDNAVNY4AaSJKj4Tb5mwsEMzxhFmHVGcra996NR]]></Token><OpenKfId><![CDATA[` + kfID + `]]></OpenKfId></xml>`
	enc := wx.Encrypt([]byte(inner))
	ts, nonce := strconv.FormatInt(time.Now().Unix(), 10), "1372623149"
	tok := token
	if forged {
		tok = "forged"
	}
	q := url.Values{"msg_signature": {crypto.WeChatSignature(tok, ts, nonce, enc)}, "timestamp": {ts}, "nonce": {nonce}}
	body := `<xml><ToUserName><![CDATA[` + corpID + `]]></ToUserName><AgentID><![CDATA[]]></AgentID><Encrypt><![CDATA[` + enc + `]]></Encrypt></xml>`
	resp, err := http.Post(hookURL+"?"+q.Encode(), "text/xml", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

func setup(t *testing.T, a *channeltest.Answerer) (*channeltest.Hub, *fakeKF) {
	f := newFake(t)
	h := channeltest.NewHub(t, channels.Options{Answerer: a})
	if _, err := h.D.Add(channels.Config{ID: "kf", Kind: channels.WeComKF, Agent: "baker", APIBase: f.srv.URL,
		Settings: map[string]string{"corp_id": corpID, "secret": secret, "token": token, "encoding_aes_key": aesKey}}); err != nil {
		t.Fatal(err)
	}
	return h, f
}

func TestWeComKFScenario(t *testing.T) {
	a := &channeltest.Answerer{}
	h, f := setup(t, a)
	fac, _ := channels.Lookup(channels.WeComKF)
	delivered := map[int]bool{}
	channeltest.Run(t, h, "kf", a, channeltest.Platform{
		Ack:  fac.Ack,
		Pull: true,
		Deliver: func(t testing.TB, n int, forged bool) int {
			if !forged && !delivered[n] {
				f.add("msg"+strconv.Itoa(n), channeltest.Question(n))
				delivered[n] = true
			}
			return notify(t, h.URL("kf"), forged)
		},
		Replies: f.texts,
	})
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.cursors[0] != "" || f.cursors[len(f.cursors)-1] == "" {
		t.Errorf("cursors %q: the first sync has none, later ones continue from the last", f.cursors)
	}
}

func TestWeComKFURLCheckReplayAndToken(t *testing.T) {
	a := &channeltest.Answerer{Followups: []string{"营业时间?"}}
	h, f := setup(t, a)
	// The URL check: echostr is encrypted; the plaintext goes back.
	wx, _ := crypto.NewWeChat(aesKey, corpID)
	echo := wx.Encrypt([]byte("1616140317555161061"))
	ts, nonce := "1409659589", "263014780"
	q := url.Values{"msg_signature": {crypto.WeChatSignature(token, ts, nonce, echo)}, "timestamp": {ts}, "nonce": {nonce}, "echostr": {echo}}
	resp, _ := http.Get(h.URL("kf") + "?" + q.Encode())
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || string(b) != "1616140317555161061" {
		t.Errorf("URL check: %d %q", resp.StatusCode, b)
	}
	q.Set("msg_signature", crypto.WeChatSignature("forged", ts, nonce, echo))
	resp, _ = http.Get(h.URL("kf") + "?" + q.Encode())
	resp.Body.Close()
	if resp.StatusCode != 401 {
		t.Errorf("forged URL check: %d", resp.StatusCode)
	}
	f.add("m1", "hello")
	notify(t, h.URL("kf"), false)
	channeltest.WaitFor(t, "reply 1", func() bool { return f.sent.Len() == 1 })
	m := f.sent.All()[0]
	if m["msgtype"] != "msgmenu" {
		t.Errorf("follow-ups not sent as a menu: %v", m)
	}
	// The platform serves m1 again (its cursor ignored) and the token is
	// revoked: a new token, m2 answered, m1 not again.
	f.mu.Lock()
	f.replay, f.valid = true, "revoked"
	f.mu.Unlock()
	f.add("m2", "again")
	notify(t, h.URL("kf"), false)
	channeltest.WaitFor(t, "reply 2", func() bool { return f.sent.Len() == 2 })
	ch, _ := h.D.Get("kf")
	channeltest.WaitFor(t, "the count", func() bool { return ch.Status().Answered == 2 })
	if st := ch.Status(); st.Duplicates != 1 || f.issued != 2 {
		t.Errorf("duplicates %d, tokens issued %d", st.Duplicates, f.issued)
	}
	if qs := a.Questions(); len(qs) != 2 || qs[1].UserKey != "wecom-kf:"+user {
		t.Errorf("questions %+v", qs)
	}
}
