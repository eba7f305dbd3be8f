// Package wecomkf is the WeChat Customer Service channel through WeCom
// (微信客服): the encrypted callback (URL check with an encrypted echostr,
// kf_msg_or_event notices), sync_msg to fetch the customers' messages and
// send_msg to answer, with the corp access token, per WeCom's 微信客服
// documentation (接收消息和事件, 读取消息, 发送消息, 获取access_token,
// 加解密方案).
package wecomkf

import (
	"context"
	"encoding/xml"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"sync"
	"time"

	"atoll/channels"
	"atoll/channels/crypto"
	"atoll/channels/format"
)

// Limit is send_msg's text limit, in bytes.
const Limit = 2048

// firstSyncAge: without a cursor sync_msg returns up to three days of
// history; on the first sync after a start only this much is answered.
const firstSyncAge = 10 * time.Minute

func init() {
	channels.Register(channels.Factory{
		Kind: channels.WeComKF,
		Fields: []channels.Field{
			{Key: "corp_id", Required: true, Help: "the WeCom CorpID"},
			{Key: "secret", Secret: true, Required: true, Help: "the WeChat Customer Service Secret"},
			{Key: "token", Secret: true, Required: true, Help: "the callback Token"},
			{Key: "encoding_aes_key", Secret: true, Required: true, Help: "the callback EncodingAESKey (43 characters)"},
		},
		Ack:     5 * time.Second,
		Webhook: "WeChat Customer Service → API → callback URL = WEBHOOK, with the same Token and EncodingAESKey",
		New:     New,
	})
}

type adapter struct {
	env    channels.Env
	base   string
	corpID string
	secret string
	token  string
	wx     *crypto.WeChat
	tokens *channels.TokenCache

	mu      sync.Mutex
	cursors map[string]string // per open_kfid
	syncMu  sync.Mutex        // one sync at a time keeps the cursor consistent
}

// New builds a WeCom customer-service adapter.
func New(env channels.Env) (channels.Adapter, error) {
	a := &adapter{env: env, base: env.Base("https://qyapi.weixin.qq.com"), corpID: env.Settings["corp_id"],
		secret: env.Settings["secret"], token: env.Settings["token"], cursors: map[string]string{}}
	wx, err := crypto.NewWeChat(env.Settings["encoding_aes_key"], a.corpID)
	if err != nil {
		return nil, err
	}
	a.wx = wx
	a.tokens = &channels.TokenCache{Now: env.Now, Fetch: a.fetchToken}
	return a, nil
}

func (a *adapter) TokenExpiry() time.Time { return a.tokens.Expiry() }

type notice struct {
	Encrypt   string `xml:"Encrypt"`
	MsgType   string `xml:"MsgType"`
	Event     string `xml:"Event"`
	Token     string `xml:"Token"`
	OpenKfID  string `xml:"OpenKfId"`
	CreateTim int64  `xml:"CreateTime"`
}

func (a *adapter) Receive(r *http.Request, body []byte) (channels.Callback, error) {
	q := r.URL.Query()
	ts, nonce, sig := q.Get("timestamp"), q.Get("nonce"), q.Get("msg_signature")
	if r.Method == http.MethodGet {
		echo := q.Get("echostr")
		if !crypto.SignatureEqual(sig, crypto.WeChatSignature(a.token, ts, nonce, echo)) {
			return channels.Callback{}, channels.Unauthorized("msg_signature does not match")
		}
		plain, err := a.wx.Decrypt(echo)
		if err != nil {
			return channels.Callback{}, channels.Unauthorized(err.Error())
		}
		return channels.Callback{ContentType: "text/plain; charset=utf-8", Body: plain}, nil
	}
	var env notice
	if err := xml.Unmarshal(body, &env); err != nil || env.Encrypt == "" {
		return channels.Callback{}, channels.Unauthorized("the callback carries no Encrypt field")
	}
	if !crypto.SignatureEqual(sig, crypto.WeChatSignature(a.token, ts, nonce, env.Encrypt)) {
		return channels.Callback{}, channels.Unauthorized("msg_signature does not match")
	}
	plain, err := a.wx.Decrypt(env.Encrypt)
	if err != nil {
		return channels.Callback{}, channels.Unauthorized(err.Error())
	}
	var n notice
	if err := xml.Unmarshal(plain, &n); err != nil {
		return channels.Callback{}, channels.BadRequest("the decrypted callback is not XML")
	}
	cb := channels.Callback{ContentType: "text/plain; charset=utf-8", Body: []byte("success")}
	if n.MsgType == "event" && n.Event == "kf_msg_or_event" {
		// The notice carries no message: the messages are pulled with
		// sync_msg after the acknowledgement.
		cb.Fetch = func(ctx context.Context) ([]channels.Message, error) { return a.sync(ctx, n.Token, n.OpenKfID) }
	}
	return cb, nil
}

type apiErr struct {
	ErrCode int    `json:"errcode"`
	ErrMsg  string `json:"errmsg"`
}

func tokenErr(code int) bool { return code == 40014 || code == 42001 || code == 40001 }

func (a *adapter) fetchToken(ctx context.Context) (string, time.Duration, error) {
	var out struct {
		apiErr
		AccessToken string `json:"access_token"`
		ExpiresIn   int    `json:"expires_in"`
	}
	u := a.base + "/cgi-bin/gettoken?corpid=" + url.QueryEscape(a.corpID) + "&corpsecret=" + url.QueryEscape(a.secret)
	if err := channels.CallJSON(ctx, a.env.HTTP, http.MethodGet, u, nil, nil, &out); err != nil {
		return "", 0, channels.Redact(err, a.secret)
	}
	if out.ErrCode != 0 || out.AccessToken == "" {
		return "", 0, fmt.Errorf("wecom refused the access token request (%d %s); check corp_id and secret", out.ErrCode, out.ErrMsg)
	}
	return out.AccessToken, time.Duration(out.ExpiresIn) * time.Second, nil
}

func (a *adapter) call(ctx context.Context, path string, body, out any, code func() apiErr) error {
	return a.tokens.WithToken(ctx, func(tok string) (bool, error) {
		if err := channels.CallJSON(ctx, a.env.HTTP, http.MethodPost, a.base+path+"?access_token="+url.QueryEscape(tok), nil, body, out); err != nil {
			return false, channels.Redact(err, tok)
		}
		e := code()
		switch {
		case e.ErrCode == 0:
			return false, nil
		case tokenErr(e.ErrCode):
			return true, fmt.Errorf("wecom rejected the access token (%d %s)", e.ErrCode, e.ErrMsg)
		case e.ErrCode == -1:
			return false, channels.Retryable(fmt.Errorf("wecom is busy (%s)", e.ErrMsg))
		default:
			return false, fmt.Errorf("wecom %s failed (%d %s)", path, e.ErrCode, e.ErrMsg)
		}
	})
}

type syncResp struct {
	apiErr
	NextCursor string `json:"next_cursor"`
	HasMore    int    `json:"has_more"`
	MsgList    []struct {
		MsgID          string `json:"msgid"`
		OpenKfID       string `json:"open_kfid"`
		ExternalUserID string `json:"external_userid"`
		SendTime       int64  `json:"send_time"`
		Origin         int    `json:"origin"`
		MsgType        string `json:"msgtype"`
		Text           struct {
			Content string `json:"content"`
		} `json:"text"`
	} `json:"msg_list"`
}

// sync pulls the messages after the saved cursor (at most 10 pages).
func (a *adapter) sync(ctx context.Context, token, kf string) ([]channels.Message, error) {
	a.syncMu.Lock()
	defer a.syncMu.Unlock()
	a.mu.Lock()
	cursor := a.cursors[kf]
	a.mu.Unlock()
	first := cursor == ""
	var msgs []channels.Message
	for page := 0; page < 10; page++ {
		var out syncResp
		body := map[string]any{"cursor": cursor, "token": token, "limit": 1000, "open_kfid": kf}
		if err := a.call(ctx, "/cgi-bin/kf/sync_msg", body, &out, func() apiErr { return out.apiErr }); err != nil {
			return msgs, err
		}
		for _, m := range out.MsgList {
			// origin 3 is the customer; 4 system events, 5 servicers.
			if m.Origin != 3 || m.MsgType != "text" {
				continue
			}
			at := time.Unix(m.SendTime, 0)
			if first && a.env.Now().Sub(at) > firstSyncAge {
				continue
			}
			msgs = append(msgs, channels.Message{ID: m.MsgID, User: m.ExternalUserID, Chat: m.OpenKfID, Text: m.Text.Content, Time: at})
		}
		if out.NextCursor != "" {
			cursor = out.NextCursor
			a.mu.Lock()
			a.cursors[kf] = cursor
			a.mu.Unlock()
		}
		if out.HasMore != 1 {
			break
		}
	}
	return msgs, nil
}

func (a *adapter) Send(ctx context.Context, msg channels.Message, rep channels.Reply) error {
	if msg.Chat == "" {
		return fmt.Errorf("a WeCom customer-service message needs the customer-service account (open_kfid) and the customer")
	}
	parts := format.Parts(rep, format.Options{Style: format.Plain, Limit: Limit, Measure: format.Bytes})
	for i, p := range parts {
		body := map[string]any{"touser": msg.User, "open_kfid": msg.Chat, "msgtype": "text", "text": map[string]string{"content": p}}
		if i == len(parts)-1 && len(rep.Followups) > 0 {
			var list []map[string]any
			for j, f := range rep.Followups {
				list = append(list, map[string]any{"type": "click", "click": map[string]string{"id": strconv.Itoa(j + 1), "content": f}})
			}
			delete(body, "text")
			body["msgtype"] = "msgmenu"
			body["msgmenu"] = map[string]any{"head_content": p, "list": list}
		}
		var out apiErr
		if err := a.call(ctx, "/cgi-bin/kf/send_msg", body, &out, func() apiErr { return out }); err != nil {
			return err
		}
	}
	return nil
}
