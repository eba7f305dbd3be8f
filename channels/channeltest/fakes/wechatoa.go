package fakes

import (
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"testing"

	"atoll/channels"
	"atoll/channels/channeltest"
	"atoll/channels/crypto"
)

// The fake Official Account's credentials.
const (
	WeChatAppID  = "wxb11529c136998cb6"
	WeChatSecret = "app-secret-1234567890"
	WeChatToken  = "pamtest"
	WeChatAESKey = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"
	WeChatOpenID = "oyORnuP8q7ou2gfYjqLzSIWZf0rs"
)

// WeChatOA is the documented access-token and customer-service APIs: GET
// /cgi-bin/token → {"access_token","expires_in":7200}; POST
// /cgi-bin/message/custom/send?access_token= → {"errcode":0,"errmsg":"ok"},
// or 40001 for a token it no longer honours. Messages reach the message
// server signed in the query (SHA-1 of the sorted token, timestamp and
// nonce) and, in safe mode, AES-encrypted with msg_signature.
type WeChatOA struct {
	clock
	platform
	Safe bool // the channel has encoding_aes_key: callbacks are encrypted
	Sent channeltest.Calls[map[string]any]

	tokens
}

// NewWeChatOA starts the fake; safe encrypts callbacks.
func NewWeChatOA(t testing.TB, safe bool) *WeChatOA {
	f := &WeChatOA{Safe: safe, platform: platform{kind: channels.WeChatOA, user: WeChatOpenID, pull: false}}
	f.serve(t, func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		defer f.mu.Unlock()
		q := r.URL.Query()
		switch r.URL.Path {
		case "/cgi-bin/token":
			if q.Get("appid") != WeChatAppID || q.Get("secret") != WeChatSecret || q.Get("grant_type") != "client_credential" {
				fmt.Fprint(w, `{"errcode":40013,"errmsg":"invalid appid"}`)
				return
			}
			fmt.Fprintf(w, `{"access_token":%q,"expires_in":7200}`, f.issue("ACCESS_TOKEN_"))
		case "/cgi-bin/message/custom/send":
			f.send(w, r, &f.Sent, `{"errcode":40001,"errmsg":"invalid credential, access_token is invalid or not latest"}`, `{"errcode":0,"errmsg":"ok"}`)
		default:
			http.NotFound(w, r)
		}
	})
	return f
}

func (f *WeChatOA) Settings() map[string]string {
	s := map[string]string{"app_id": WeChatAppID, "app_secret": WeChatSecret, "token": WeChatToken}
	if f.Safe {
		s["encoding_aes_key"] = WeChatAESKey
	}
	return s
}

// TextXML is a text message as the 接收普通消息 page shows it.
func TextXML(msgID int, content string) string {
	return fmt.Sprintf(`<xml><ToUserName><![CDATA[gh_10f6c3c3ac5a]]></ToUserName><FromUserName><![CDATA[%s]]></FromUserName><CreateTime>1409735668</CreateTime><MsgType><![CDATA[text]]></MsgType><Content><![CDATA[%s]]></Content><MsgId>%d</MsgId></xml>`, WeChatOpenID, content, msgID)
}

// Post calls the message server as WeChat does: signature (and in safe
// mode encrypt_type=aes and msg_signature) in the query, the XML (or its
// Encrypt envelope) in the body. A 200 must say "success".
func (f *WeChatOA) Post(t testing.TB, webhook string, msgID int, content string, safe, forged bool) int {
	ts := strconv.FormatInt(f.Now().Unix(), 10)
	nonce := "1320562132"
	tok := WeChatToken
	if forged {
		tok = "not-the-token"
	}
	q := url.Values{"timestamp": {ts}, "nonce": {nonce}, "signature": {crypto.WeChatSignature(tok, ts, nonce)}, "openid": {WeChatOpenID}}
	body := TextXML(msgID, content)
	if safe {
		wx, err := crypto.NewWeChat(WeChatAESKey, WeChatAppID)
		if err != nil {
			t.Fatal(err)
		}
		enc := wx.Encrypt([]byte(body))
		q.Set("encrypt_type", "aes")
		q.Set("msg_signature", crypto.WeChatSignature(tok, ts, nonce, enc))
		body = "<xml><ToUserName><![CDATA[gh_10f6c3c3ac5a]]></ToUserName><Encrypt><![CDATA[" + enc + "]]></Encrypt></xml>"
	}
	st, b := post(t, webhook+"?"+q.Encode(), "text/xml", body, nil)
	if st == 200 && b != "success" {
		t.Errorf("acknowledged with %q, want success", b)
	}
	return st
}

func (f *WeChatOA) Deliver(t testing.TB, webhook string, n int, text string, forged bool) int {
	return f.Post(t, webhook, 7000+n, text, f.Safe, forged)
}

// Replies are the texts of custom/send calls to the fake's user (a menu's
// head_content for a message with follow-ups).
func (f *WeChatOA) Replies() []string {
	var out []string
	for _, m := range f.Sent.All() {
		if m["touser"] != WeChatOpenID {
			continue
		}
		if s, ok := wxText(m); ok {
			out = append(out, s)
		}
	}
	return out
}
