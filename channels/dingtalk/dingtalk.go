// Package dingtalk is the DingTalk channel: an enterprise robot's HTTP
// callback (timestamp and sign headers, HMAC-SHA256 with the AppSecret,
// one hour window) answered through the message's sessionWebhook, per
// DingTalk's robot receive-message documentation.
package dingtalk

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"atoll/channels"
	"atoll/channels/format"
)

// Limit bounds one markdown message, in characters.
const Limit = 4000

// Window is the documented bound on the timestamp header.
const Window = time.Hour

func init() {
	channels.Register(channels.Factory{
		Kind: channels.DingTalk,
		Fields: []channels.Field{
			{Key: "app_secret", Secret: true, Required: true, Help: "the robot app's AppSecret (signs callbacks)"},
		},
		Ack:     5 * time.Second,
		Webhook: "the robot's message receiving mode HTTP → message receiving address = WEBHOOK",
		New:     New,
	})
}

type adapter struct {
	env    channels.Env
	secret string
}

// New builds a DingTalk adapter. With api_base set, sessionWebhook calls
// go to its origin (a proxy, a test's fake) with the same path and query.
func New(env channels.Env) (channels.Adapter, error) {
	return &adapter{env: env, secret: env.Settings["app_secret"]}, nil
}

// Sign is the sign header: base64(HMAC-SHA256(secret, timestamp+"\n"+secret)).
func Sign(secret, timestamp string) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte(timestamp + "\n" + secret))
	return base64.StdEncoding.EncodeToString(m.Sum(nil))
}

type callback struct {
	MsgID                     string                   `json:"msgId"`
	MsgType                   string                   `json:"msgtype"`
	Text                      struct{ Content string } `json:"text"`
	SenderID                  string                   `json:"senderId"`
	SenderStaffID             string                   `json:"senderStaffId"`
	ConversationID            string                   `json:"conversationId"`
	SessionWebhook            string                   `json:"sessionWebhook"`
	SessionWebhookExpiredTime int64                    `json:"sessionWebhookExpiredTime"`
	CreateAt                  int64                    `json:"createAt"`
}

func (a *adapter) Receive(r *http.Request, body []byte) (channels.Callback, error) {
	ts := r.Header.Get("timestamp")
	ms, err := strconv.ParseInt(ts, 10, 64)
	if err != nil || math.Abs(a.env.Now().Sub(time.UnixMilli(ms)).Seconds()) > Window.Seconds() {
		return channels.Callback{}, channels.Unauthorized("the timestamp header is missing or more than an hour off")
	}
	if !hmac.Equal([]byte(r.Header.Get("sign")), []byte(Sign(a.secret, ts))) {
		return channels.Callback{}, channels.Unauthorized("the sign header does not match")
	}
	var c callback
	if err := json.Unmarshal(body, &c); err != nil {
		return channels.Callback{}, channels.BadRequest("the message is not JSON")
	}
	ack := channels.Callback{ContentType: "application/json", Body: []byte(`{}`)}
	if c.MsgType != "text" {
		return ack, nil
	}
	user := c.SenderStaffID
	if user == "" {
		user = c.SenderID
	}
	ack.Messages = []channels.Message{{ID: c.MsgID, User: user, Chat: c.ConversationID, Text: c.Text.Content,
		ReplyURL: c.SessionWebhook, Time: time.UnixMilli(c.CreateAt)}}
	return ack, nil
}

// target checks a sessionWebhook and points it at api_base if set.
func (a *adapter) target(raw string) (string, error) {
	u, err := url.Parse(raw)
	if err != nil || u.Scheme != "https" && a.env.APIBase == "" {
		return "", errors.New("the message's sessionWebhook is not an https URL")
	}
	if a.env.APIBase == "" {
		if !strings.HasSuffix(u.Hostname(), ".dingtalk.com") {
			return "", fmt.Errorf("the sessionWebhook points at %s, not DingTalk", u.Hostname())
		}
		return u.String(), nil
	}
	base, _ := url.Parse(a.env.APIBase)
	u.Scheme, u.Host = base.Scheme, base.Host
	return u.String(), nil
}

func (a *adapter) Send(ctx context.Context, msg channels.Message, rep channels.Reply) error {
	if msg.ReplyURL == "" {
		return errors.New("a DingTalk robot answers only within a conversation: send the robot a message, then try again")
	}
	u, err := a.target(msg.ReplyURL)
	if err != nil {
		return err
	}
	text := rep
	if len(rep.Followups) > 0 {
		// dtmd links send their text as the user's message when tapped:
		// DingTalk's quick replies inside a markdown message.
		var b strings.Builder
		b.WriteString(rep.Text)
		b.WriteString("\n\n")
		for i, f := range rep.Followups {
			fmt.Fprintf(&b, "%d. [%s](dtmd://dingtalkclient/sendMessage?content=%s)\n", i+1, f, url.QueryEscape(f))
		}
		text.Text, text.Followups = strings.TrimSpace(b.String()), nil
	}
	for _, p := range format.Parts(text, format.Options{Style: format.DingTalkMD, Limit: Limit}) {
		title := []rune(strings.TrimSpace(strings.SplitN(p, "\n", 2)[0]))
		if len(title) > 20 {
			title = title[:20]
		}
		body := map[string]any{"msgtype": "markdown", "markdown": map[string]string{"title": string(title), "text": p}}
		var out struct {
			ErrCode int    `json:"errcode"`
			ErrMsg  string `json:"errmsg"`
		}
		if err := channels.CallJSON(ctx, a.env.HTTP, http.MethodPost, u, nil, body, &out); err != nil {
			return channels.Redact(err, u)
		}
		if out.ErrCode != 0 {
			return fmt.Errorf("dingtalk refused the message (%d %s)", out.ErrCode, out.ErrMsg)
		}
	}
	return nil
}
