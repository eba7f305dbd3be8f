// Package wechatoa is the WeChat Official Account channel: the message
// server (URL check with echostr, plain or safe-mode messages, answered
// "success" within 5 s) and the customer-service message API for the
// answer, with the account's access token, per the Official Account
// documentation (接入指南, 接收普通消息, 消息加解密, 客服消息, 获取Access token).
package wechatoa

import (
	"context"
	"encoding/xml"
	"fmt"
	"math"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"atoll/channels"
	"atoll/channels/crypto"
	"atoll/channels/format"
)

// Limit is the customer-service text message's limit, in bytes.
const Limit = 2048

// Window bounds a callback's timestamp; replays inside it are caught by
// deduplication.
const Window = 5 * time.Minute

func init() {
	channels.Register(channels.Factory{
		Kind: channels.WeChatOA,
		Fields: []channels.Field{
			{Key: "app_id", Required: true, Help: "the account's AppID"},
			{Key: "app_secret", Secret: true, Required: true, Help: "the account's AppSecret"},
			{Key: "token", Secret: true, Required: true, Help: "the Token entered in the server configuration"},
			{Key: "encoding_aes_key", Secret: true, Help: "the EncodingAESKey (43 characters): set for safe mode, which then is required"},
		},
		Ack:     5 * time.Second, // WeChat gives up after 5 s and retries, three times
		Webhook: "Settings and Development → Basic configuration → Server URL = WEBHOOK, the same Token (and EncodingAESKey with safe mode)",
		New:     New,
	})
}

type adapter struct {
	env    channels.Env
	base   string
	appID  string
	secret string
	token  string
	wx     *crypto.WeChat // nil: plain mode
	tokens *channels.TokenCache
}

// New builds an Official Account adapter.
func New(env channels.Env) (channels.Adapter, error) {
	a := &adapter{env: env, base: env.Base("https://api.weixin.qq.com"), appID: env.Settings["app_id"],
		secret: env.Settings["app_secret"], token: env.Settings["token"]}
	if k := env.Settings["encoding_aes_key"]; k != "" {
		wx, err := crypto.NewWeChat(k, a.appID)
		if err != nil {
			return nil, err
		}
		a.wx = wx
	}
	a.tokens = &channels.TokenCache{Now: env.Now, Fetch: a.fetchToken}
	return a, nil
}

func (a *adapter) TokenExpiry() time.Time { return a.tokens.Expiry() }

type inbound struct {
	ToUserName   string `xml:"ToUserName"`
	FromUserName string `xml:"FromUserName"`
	CreateTime   int64  `xml:"CreateTime"`
	MsgType      string `xml:"MsgType"`
	Content      string `xml:"Content"`
	MsgID        string `xml:"MsgId"`
	Encrypt      string `xml:"Encrypt"`
}

func (a *adapter) Receive(r *http.Request, body []byte) (channels.Callback, error) {
	q := r.URL.Query()
	ts, nonce := q.Get("timestamp"), q.Get("nonce")
	// The URL check and every message carry signature over the token.
	if !crypto.SignatureEqual(q.Get("signature"), crypto.WeChatSignature(a.token, ts, nonce)) {
		return channels.Callback{}, channels.Unauthorized("signature does not match the token")
	}
	if r.Method == http.MethodGet {
		return channels.Callback{ContentType: "text/plain; charset=utf-8", Body: []byte(q.Get("echostr"))}, nil
	}
	if sec, err := strconv.ParseInt(ts, 10, 64); err != nil || math.Abs(a.env.Now().Sub(time.Unix(sec, 0)).Seconds()) > Window.Seconds() {
		return channels.Callback{}, channels.Unauthorized("the timestamp is outside the replay window")
	}
	var in inbound
	if err := xml.Unmarshal(body, &in); err != nil {
		return channels.Callback{}, channels.BadRequest("the message is not XML")
	}
	if a.wx != nil {
		// Safe mode: plaintext posts are refused, so nobody can
		// bypass encryption by leaving it out.
		if q.Get("encrypt_type") != "aes" || in.Encrypt == "" {
			return channels.Callback{}, channels.Unauthorized("safe mode is set but the message is not encrypted")
		}
		if !crypto.SignatureEqual(q.Get("msg_signature"), crypto.WeChatSignature(a.token, ts, nonce, in.Encrypt)) {
			return channels.Callback{}, channels.Unauthorized("msg_signature does not match")
		}
		plain, err := a.wx.Decrypt(in.Encrypt)
		if err != nil {
			return channels.Callback{}, channels.Unauthorized(err.Error())
		}
		in = inbound{}
		if err := xml.Unmarshal(plain, &in); err != nil {
			return channels.Callback{}, channels.BadRequest("the decrypted message is not XML")
		}
	}
	cb := channels.Callback{ContentType: "text/plain; charset=utf-8", Body: []byte("success")}
	if in.MsgType != "text" || in.MsgID == "" {
		return cb, nil // events, images, voice: acknowledged, not answered
	}
	cb.Messages = []channels.Message{{ID: in.MsgID, User: in.FromUserName, Text: in.Content, Time: time.Unix(in.CreateTime, 0)}}
	return cb, nil
}

type apiErr struct {
	ErrCode int    `json:"errcode"`
	ErrMsg  string `json:"errmsg"`
}

// tokenErr reports whether an error code means the access token is invalid
// or expired (40001, 40014, 42001).
func tokenErr(code int) bool { return code == 40001 || code == 40014 || code == 42001 }

func (a *adapter) fetchToken(ctx context.Context) (string, time.Duration, error) {
	var out struct {
		apiErr
		AccessToken string `json:"access_token"`
		ExpiresIn   int    `json:"expires_in"`
	}
	u := a.base + "/cgi-bin/token?grant_type=client_credential&appid=" + url.QueryEscape(a.appID) + "&secret=" + url.QueryEscape(a.secret)
	if err := channels.CallJSON(ctx, a.env.HTTP, http.MethodGet, u, nil, nil, &out); err != nil {
		return "", 0, redact(err, a.secret)
	}
	if out.AccessToken == "" {
		return "", 0, fmt.Errorf("wechat refused the access token request (%d %s); check app_id, app_secret and the IP allowlist", out.ErrCode, out.ErrMsg)
	}
	return out.AccessToken, time.Duration(out.ExpiresIn) * time.Second, nil
}

func (a *adapter) Send(ctx context.Context, msg channels.Message, rep channels.Reply) error {
	parts := format.Parts(rep, format.Options{Style: format.Plain, Limit: Limit, Measure: format.Bytes})
	for i, p := range parts {
		body := map[string]any{"touser": msg.User, "msgtype": "text", "text": map[string]string{"content": p}}
		if i == len(parts)-1 && len(rep.Followups) > 0 {
			// A menu message: each follow-up is a tappable line that
			// sends it back as the user's message.
			var list []map[string]string
			for j, f := range rep.Followups {
				list = append(list, map[string]string{"id": strconv.Itoa(j + 1), "content": f})
			}
			body = map[string]any{"touser": msg.User, "msgtype": "msgmenu",
				"msgmenu": map[string]any{"head_content": p, "list": list, "tail_content": ""}}
		}
		if err := a.post(ctx, "/cgi-bin/message/custom/send", body); err != nil {
			return err
		}
	}
	return nil
}

func (a *adapter) post(ctx context.Context, path string, body any) error {
	return a.tokens.WithToken(ctx, func(tok string) (bool, error) {
		var out apiErr
		if err := channels.CallJSON(ctx, a.env.HTTP, http.MethodPost, a.base+path+"?access_token="+url.QueryEscape(tok), nil, body, &out); err != nil {
			return false, redact(err, tok)
		}
		switch {
		case out.ErrCode == 0:
			return false, nil
		case tokenErr(out.ErrCode):
			return true, fmt.Errorf("wechat rejected the access token (%d %s)", out.ErrCode, out.ErrMsg)
		case out.ErrCode == -1: // system busy
			return false, channels.Retryable(fmt.Errorf("wechat is busy (%s)", out.ErrMsg))
		default:
			return false, fmt.Errorf("wechat refused the message (%d %s)", out.ErrCode, out.ErrMsg)
		}
	})
}

// redact keeps a secret in a URL out of an error message.
func redact(err error, secret string) error {
	return channels.Redact(err, secret)
}
