// Package feishu is the Feishu/Lark channel: a bot's event subscription v2
// (url_verification challenge, Verification Token, optional Encrypt Key
// with the X-Lark-Signature check) for im.message.receive_v1, answered by
// replying to the message with the tenant access token, per Feishu's
// event-subscription and messaging documentation.
package feishu

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"

	"atoll/channels"
	"atoll/channels/crypto"
	"atoll/channels/format"
)

// Limit bounds one card's markdown, in bytes (a card may be 30 KB).
const Limit = 20000

// Window bounds X-Lark-Request-Timestamp: Feishu's last retry comes 6 h
// after the first attempt; older replays are refused and newer ones are
// deduplicated.
const Window = 7 * time.Hour

func init() {
	channels.Register(channels.Factory{
		Kind: channels.Feishu,
		Fields: []channels.Field{
			{Key: "app_id", Required: true, Help: "the app's App ID (cli_…)"},
			{Key: "app_secret", Secret: true, Required: true, Help: "the app's App Secret"},
			{Key: "verification_token", Secret: true, Required: true, Help: "Events and callbacks → Verification Token"},
			{Key: "encrypt_key", Secret: true, Help: "Events and callbacks → Encrypt Key (recommended: events are then encrypted and signed)"},
		},
		Ack:     3 * time.Second, // Feishu retries an event not answered 200 within 3 s
		Webhook: "Events and callbacks → Request URL = WEBHOOK; add the event im.message.receive_v1, and im.message.reaction.created_v1 and deleted_v1 for 👍/👎 votes",
		New:     New,
	})
}

type adapter struct {
	env    channels.Env
	base   string
	appID  string
	secret string
	vtoken string
	ekey   string
	tokens *channels.TokenCache
}

// New builds a Feishu adapter; api_base https://open.larksuite.com serves Lark.
func New(env channels.Env) (channels.Adapter, error) {
	a := &adapter{env: env, base: env.Base("https://open.feishu.cn"), appID: env.Settings["app_id"],
		secret: env.Settings["app_secret"], vtoken: env.Settings["verification_token"], ekey: env.Settings["encrypt_key"]}
	a.tokens = &channels.TokenCache{Now: env.Now, Fetch: a.fetchToken}
	return a, nil
}

func (a *adapter) TokenExpiry() time.Time { return a.tokens.Expiry() }

type event struct {
	Encrypt   string `json:"encrypt"`
	Type      string `json:"type"`
	Challenge string `json:"challenge"`
	Token     string `json:"token"`
	Header    struct {
		EventID   string `json:"event_id"`
		EventType string `json:"event_type"`
		Token     string `json:"token"`
		AppID     string `json:"app_id"`
	} `json:"header"`
	Event struct {
		Sender struct {
			SenderID struct {
				OpenID string `json:"open_id"`
			} `json:"sender_id"`
			SenderType string `json:"sender_type"`
		} `json:"sender"`
		Message struct {
			MessageID   string `json:"message_id"`
			ChatID      string `json:"chat_id"`
			ChatType    string `json:"chat_type"`
			MessageType string `json:"message_type"`
			Content     string `json:"content"`
			CreateTime  string `json:"create_time"`
		} `json:"message"`
		// im.message.reaction.created_v1 and deleted_v1
		MessageID    string `json:"message_id"`
		OperatorType string `json:"operator_type"`
		UserID       struct {
			OpenID string `json:"open_id"`
		} `json:"user_id"`
		ReactionType struct {
			EmojiType string `json:"emoji_type"`
		} `json:"reaction_type"`
	} `json:"event"`
}

// emojiRating is the vote a reaction's emoji_type stands for (0: none).
// The emoji list spells thumbs down "ThumbsDown" beside "THUMBSUP", so the
// case is not relied on.
func emojiRating(t string) int {
	switch {
	case strings.EqualFold(t, "THUMBSUP"):
		return 1
	case strings.EqualFold(t, "THUMBSDOWN"):
		return -1
	}
	return 0
}

var mentionRe = regexp.MustCompile(`@_user_\d+\s*`)

func (a *adapter) Receive(r *http.Request, body []byte) (channels.Callback, error) {
	signed := r.Header.Get("X-Lark-Signature") != ""
	if signed {
		if a.ekey == "" {
			return channels.Callback{}, channels.Unauthorized("the event is signed but no encrypt_key is set")
		}
		ts := r.Header.Get("X-Lark-Request-Timestamp")
		sec, err := strconv.ParseInt(ts, 10, 64)
		if err != nil || math.Abs(a.env.Now().Sub(time.Unix(sec, 0)).Seconds()) > Window.Seconds() {
			return channels.Callback{}, channels.Unauthorized("the timestamp is outside the replay window")
		}
		want := crypto.FeishuSignature(ts, r.Header.Get("X-Lark-Request-Nonce"), a.ekey, body)
		if !crypto.SignatureEqual(r.Header.Get("X-Lark-Signature"), want) {
			return channels.Callback{}, channels.Unauthorized("X-Lark-Signature does not match")
		}
	}
	var e event
	if err := json.Unmarshal(body, &e); err != nil {
		return channels.Callback{}, channels.BadRequest("the event is not JSON")
	}
	if a.ekey != "" {
		if e.Encrypt == "" {
			return channels.Callback{}, channels.Unauthorized("an encrypt_key is set but the event is not encrypted")
		}
		plain, err := crypto.FeishuDecrypt(a.ekey, e.Encrypt)
		if err != nil {
			return channels.Callback{}, channels.Unauthorized(err.Error())
		}
		e = event{}
		if err := json.Unmarshal(plain, &e); err != nil {
			return channels.Callback{}, channels.Unauthorized("the decrypted event is not JSON")
		}
	}
	// The Verification Token is in every event (v2: in the header).
	tok := e.Header.Token
	if e.Type == "url_verification" {
		tok = e.Token
	}
	if !crypto.SignatureEqual(tok, a.vtoken) {
		return channels.Callback{}, channels.Unauthorized("the Verification Token does not match")
	}
	if e.Type == "url_verification" {
		b, _ := json.Marshal(map[string]string{"challenge": e.Challenge})
		return channels.Callback{ContentType: "application/json", Body: b}, nil
	}
	// With an Encrypt Key only the URL check may come unsigned.
	if a.ekey != "" && !signed {
		return channels.Callback{}, channels.Unauthorized("the event is not signed")
	}
	ack := channels.Callback{ContentType: "application/json", Body: []byte("{}")}
	if t := e.Header.EventType; t == "im.message.reaction.created_v1" || t == "im.message.reaction.deleted_v1" {
		ev := e.Event
		r := emojiRating(ev.ReactionType.EmojiType)
		if r == 0 || ev.OperatorType != "user" || ev.UserID.OpenID == "" || ev.MessageID == "" || e.Header.EventID == "" {
			return ack, nil
		}
		v := channels.Vote{ID: e.Header.EventID, User: ev.UserID.OpenID, Message: ev.MessageID, Rating: r, Mode: channels.VoteSet}
		if t == "im.message.reaction.deleted_v1" {
			// Both thumbs may be on: taking one off takes back only
			// the vote it stands for.
			v.Mode = channels.VoteRemove
		}
		ack.Votes = []channels.Vote{v}
		return ack, nil
	}
	m := e.Event.Message
	if e.Header.EventType != "im.message.receive_v1" || e.Event.Sender.SenderType != "user" || m.MessageType != "text" {
		return ack, nil
	}
	var content struct {
		Text string `json:"text"`
	}
	if err := json.Unmarshal([]byte(m.Content), &content); err != nil {
		return channels.Callback{}, channels.BadRequest("the message content is not JSON")
	}
	msg := channels.Message{ID: m.MessageID, User: e.Event.Sender.SenderID.OpenID, Chat: m.ChatID, Thread: m.MessageID,
		Text: strings.TrimSpace(mentionRe.ReplaceAllString(content.Text, ""))}
	if ms, err := strconv.ParseInt(m.CreateTime, 10, 64); err == nil {
		msg.Time = time.UnixMilli(ms)
	}
	ack.Messages = []channels.Message{msg}
	return ack, nil
}

type apiResp struct {
	Code int    `json:"code"`
	Msg  string `json:"msg"`
}

func (a *adapter) fetchToken(ctx context.Context) (string, time.Duration, error) {
	var out struct {
		apiResp
		Token  string `json:"tenant_access_token"`
		Expire int    `json:"expire"`
	}
	err := channels.CallJSON(ctx, a.env.HTTP, http.MethodPost, a.base+"/open-apis/auth/v3/tenant_access_token/internal", nil,
		map[string]string{"app_id": a.appID, "app_secret": a.secret}, &out)
	if err != nil {
		return "", 0, err
	}
	if out.Code != 0 || out.Token == "" {
		return "", 0, fmt.Errorf("feishu refused the tenant access token (%d %s); check app_id and app_secret", out.Code, out.Msg)
	}
	return out.Token, time.Duration(out.Expire) * time.Second, nil
}

// tokenErr: the tenant access token is invalid or expired.
func tokenErr(code int) bool { return code == 99991663 || code == 99991661 || code == 99991668 }

func card(md string) string {
	b, _ := json.Marshal(map[string]any{
		"config":   map[string]bool{"wide_screen_mode": true},
		"elements": []map[string]string{{"tag": "markdown", "content": md}},
	})
	return string(b)
}

func (a *adapter) Send(ctx context.Context, msg channels.Message, rep channels.Reply) error {
	_, err := a.SendIDs(ctx, msg, rep)
	return err
}

// SendIDs implements channels.IDSender: a reaction event names the message
// by the message_id the send and reply APIs return.
func (a *adapter) SendIDs(ctx context.Context, msg channels.Message, rep channels.Reply) ([]string, error) {
	var ids []string
	for _, p := range format.Parts(rep, format.Options{Style: format.LarkMD, Limit: Limit, Measure: format.Bytes, Numbered: true}) {
		var u string
		body := map[string]any{"msg_type": "interactive", "content": card(p)}
		if msg.Thread != "" {
			u = a.base + "/open-apis/im/v1/messages/" + url.PathEscape(msg.Thread) + "/reply"
		} else {
			u = a.base + "/open-apis/im/v1/messages?receive_id_type=open_id"
			body["receive_id"] = msg.User
		}
		err := a.tokens.WithToken(ctx, func(tok string) (bool, error) {
			var out struct {
				apiResp
				Data struct {
					MessageID string `json:"message_id"`
				} `json:"data"`
			}
			err := channels.CallJSON(ctx, a.env.HTTP, http.MethodPost, u, http.Header{"Authorization": {"Bearer " + tok}}, body, &out)
			if err != nil && out.Code == 0 {
				return false, err
			}
			switch {
			case out.Code == 0:
				if out.Data.MessageID != "" {
					ids = append(ids, out.Data.MessageID)
				}
				return false, nil
			case tokenErr(out.Code):
				return true, fmt.Errorf("feishu rejected the tenant access token (%d %s)", out.Code, out.Msg)
			default:
				return false, fmt.Errorf("feishu refused the message (%d %s)", out.Code, out.Msg)
			}
		})
		if err != nil {
			return nil, err
		}
	}
	return ids, nil
}
