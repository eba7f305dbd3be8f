package fakes

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"testing"
	"time"

	"atoll/channels"
	"atoll/channels/channeltest"
	"atoll/channels/crypto"
)

// The fake WeCom customer-service account's credentials.
const (
	KFCorpID   = "wwcorp0123456789"
	KFSecret   = "kf-secret-abcdef"
	KFToken    = "QDG6eK"
	KFAESKey   = "jWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2C" // the length and alphabet WeCom issues
	KFID       = "wkAJ2GCAAAZSfhHCt7IFSvLKtMPxyJTw"
	KFUser     = "wmAJ2GCAAAme1XQRC-NI-q0_ZM9ukoAw"
	kfMsgToken = "ENCApHxnGDNAVNY4AaSJKj4Tb5mwsEMzxhFmHVGcra996NR"
)

type kfMsg struct {
	ID, Text string
	At       int64
}

// WeComKF is the documented gettoken, kf/sync_msg (cursor, token,
// has_more, next_cursor, msg_list with origin 3 for customers) and
// kf/send_msg. The callback only announces messages (kf_msg_or_event,
// encrypted, msg_signature); they are pulled with sync_msg.
type WeComKF struct {
	platform
	Sent channeltest.Calls[map[string]any]

	tokens
	msgs    []kfMsg
	added   map[int]bool
	replay  bool // ignore the cursor once (a platform hiccup serving old messages again)
	cursors []string
}

// NewWeComKF starts the fake.
func NewWeComKF(t testing.TB) *WeComKF {
	f := &WeComKF{added: map[int]bool{}, platform: platform{kind: channels.WeComKF, user: KFUser, pull: true}}
	f.serve(t, func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		defer f.mu.Unlock()
		q := r.URL.Query()
		switch r.URL.Path {
		case "/cgi-bin/gettoken":
			if q.Get("corpid") != KFCorpID || q.Get("corpsecret") != KFSecret {
				fmt.Fprint(w, `{"errcode":40001,"errmsg":"invalid credential"}`)
				return
			}
			fmt.Fprintf(w, `{"errcode":0,"errmsg":"ok","access_token":%q,"expires_in":7200}`, f.issue("kftoken"))
		case "/cgi-bin/kf/sync_msg":
			if q.Get("access_token") != f.valid {
				fmt.Fprint(w, `{"errcode":42001,"errmsg":"access_token expired"}`)
				return
			}
			var raw map[string]any
			json.NewDecoder(r.Body).Decode(&raw)
			cursor, _ := raw["cursor"].(string)
			token, _ := raw["token"].(string)
			kfid, _ := raw["open_kfid"].(string)
			if token != kfMsgToken || kfid != KFID {
				fmt.Fprint(w, `{"errcode":95007,"errmsg":"invalid msg token"}`)
				return
			}
			f.cursors = append(f.cursors, cursor)
			start, _ := strconv.Atoi(cursor)
			if f.replay {
				start, f.replay = 0, false
			}
			var list []map[string]any
			for _, m := range f.msgs[min(start, len(f.msgs)):] {
				list = append(list, map[string]any{"msgid": m.ID, "open_kfid": KFID, "external_userid": KFUser, "send_time": m.At,
					"origin": 3, "msgtype": "text", "text": map[string]string{"content": m.Text}})
			}
			// A servicer's message in the same page is not answered.
			list = append(list, map[string]any{"msgid": "srv" + strconv.Itoa(len(f.msgs)), "origin": 5, "msgtype": "text", "text": map[string]string{"content": "from staff"}})
			b, _ := json.Marshal(map[string]any{"errcode": 0, "errmsg": "ok", "next_cursor": strconv.Itoa(len(f.msgs)), "has_more": 0, "msg_list": list})
			w.Write(b)
		case "/cgi-bin/kf/send_msg":
			f.send(w, r, &f.Sent, `{"errcode":42001,"errmsg":"access_token expired"}`, `{"errcode":0,"errmsg":"ok","msgid":"MSG"}`)
		default:
			http.NotFound(w, r)
		}
	})
	return f
}

func (f *WeComKF) Settings() map[string]string {
	return map[string]string{"corp_id": KFCorpID, "secret": KFSecret, "token": KFToken, "encoding_aes_key": KFAESKey}
}

// Add queues a customer's message for sync_msg.
func (f *WeComKF) Add(id, text string) {
	f.mu.Lock()
	f.msgs = append(f.msgs, kfMsg{ID: id, Text: text, At: time.Now().Unix()})
	f.mu.Unlock()
}

// ReplayAndRevoke makes the next sync_msg serve every message again (its
// cursor ignored) and refuses the current token.
func (f *WeComKF) ReplayAndRevoke() {
	f.mu.Lock()
	f.replay, f.valid = true, "revoked"
	f.mu.Unlock()
}

// Cursors are the cursors sync_msg was called with.
func (f *WeComKF) Cursors() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.cursors...)
}

// Notify posts the kf_msg_or_event notice as WeCom does: the event XML
// (as the 接收消息和事件 page shows it) encrypted, in an Encrypt envelope,
// msg_signature over token, timestamp, nonce and Encrypt.
func (f *WeComKF) Notify(t testing.TB, webhook string, forged bool) int {
	wx, err := crypto.NewWeChat(KFAESKey, KFCorpID)
	if err != nil {
		t.Fatal(err)
	}
	inner := `<xml><ToUserName><![CDATA[` + KFCorpID + `]]></ToUserName><CreateTime>1348831860</CreateTime><MsgType><![CDATA[event]]></MsgType><Event><![CDATA[kf_msg_or_event]]></Event><Token><![CDATA[` + kfMsgToken + `]]></Token><OpenKfId><![CDATA[` + KFID + `]]></OpenKfId></xml>`
	enc := wx.Encrypt([]byte(inner))
	ts, nonce := strconv.FormatInt(time.Now().Unix(), 10), "1372623149"
	tok := KFToken
	if forged {
		tok = "forged"
	}
	q := url.Values{"msg_signature": {crypto.WeChatSignature(tok, ts, nonce, enc)}, "timestamp": {ts}, "nonce": {nonce}}
	body := `<xml><ToUserName><![CDATA[` + KFCorpID + `]]></ToUserName><AgentID><![CDATA[]]></AgentID><Encrypt><![CDATA[` + enc + `]]></Encrypt></xml>`
	st, _ := post(t, webhook+"?"+q.Encode(), "text/xml", body, nil)
	return st
}

// Deliver queues message n (once: a second delivery is the platform's
// repeated notice) and announces it.
func (f *WeComKF) Deliver(t testing.TB, webhook string, n int, text string, forged bool) int {
	if !forged {
		f.mu.Lock()
		first := !f.added[n]
		f.added[n] = true
		f.mu.Unlock()
		if first {
			f.Add("msg"+strconv.Itoa(n), text)
		}
	}
	return f.Notify(t, webhook, forged)
}

// Replies are the texts (a menu's head_content) of send_msg calls to the
// fake's customer.
func (f *WeComKF) Replies() []string {
	var out []string
	for _, m := range f.Sent.All() {
		if m["touser"] != KFUser || m["open_kfid"] != KFID {
			continue
		}
		if s, ok := wxText(m); ok {
			out = append(out, s)
		}
	}
	return out
}
