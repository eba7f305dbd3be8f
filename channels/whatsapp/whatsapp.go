// Package whatsapp is the WhatsApp channel: the Cloud API webhook
// (hub.challenge verification, X-Hub-Signature-256 over the body with the
// app secret) and the messages endpoint, per Meta's Cloud API
// documentation.
package whatsapp

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"atoll/channels"
	"atoll/channels/format"
)

// Limit is a text message body's limit; an interactive body holds 1024.
const (
	Limit            = 4096
	interactiveLimit = 1024
)

func init() {
	channels.Register(channels.Factory{
		Kind: channels.WhatsApp,
		Fields: []channels.Field{
			{Key: "access_token", Secret: true, Required: true, Help: "a system user's access token with whatsapp_business_messaging"},
			{Key: "app_secret", Secret: true, Required: true, Help: "the Meta app's App Secret (signs webhooks)"},
			{Key: "verify_token", Secret: true, Required: true, Help: "any string, also entered as the webhook's Verify token"},
			{Key: "phone_number_id", Required: true, Help: "the business phone number's ID"},
			{Key: "api_version", Help: "Graph API version, default v21.0"},
		},
		Ack:     10 * time.Second,
		Webhook: "App Dashboard → WhatsApp → Configuration → Callback URL = WEBHOOK, Verify token = VERIFY_TOKEN; subscribe to messages",
		New:     New,
	})
}

type adapter struct {
	env                           channels.Env
	base, ver, phone              string
	token, appSecret, verifyToken string
}

// New builds a WhatsApp adapter.
func New(env channels.Env) (channels.Adapter, error) {
	v := env.Settings["api_version"]
	if v == "" {
		v = "v21.0"
	}
	return &adapter{env: env, base: env.Base("https://graph.facebook.com"), ver: v, phone: env.Settings["phone_number_id"],
		token: env.Settings["access_token"], appSecret: env.Settings["app_secret"], verifyToken: env.Settings["verify_token"]}, nil
}

// Sign is X-Hub-Signature-256 of a body.
func Sign(appSecret string, body []byte) string {
	m := hmac.New(sha256.New, []byte(appSecret))
	m.Write(body)
	return "sha256=" + hex.EncodeToString(m.Sum(nil))
}

type notification struct {
	Object string `json:"object"`
	Entry  []struct {
		Changes []struct {
			Field string `json:"field"`
			Value struct {
				Metadata struct {
					PhoneNumberID string `json:"phone_number_id"`
				} `json:"metadata"`
				Messages []struct {
					From      string `json:"from"`
					ID        string `json:"id"`
					Timestamp string `json:"timestamp"`
					Type      string `json:"type"`
					Text      struct {
						Body string `json:"body"`
					} `json:"text"`
					Button struct {
						Text string `json:"text"`
					} `json:"button"`
					// A reaction names our message; without an emoji
					// it was removed.
					Reaction struct {
						MessageID string `json:"message_id"`
						Emoji     string `json:"emoji"`
					} `json:"reaction"`
					Interactive struct {
						ButtonReply struct {
							Title string `json:"title"`
						} `json:"button_reply"`
						ListReply struct {
							Title string `json:"title"`
						} `json:"list_reply"`
					} `json:"interactive"`
				} `json:"messages"`
			} `json:"value"`
		} `json:"changes"`
	} `json:"entry"`
}

func (a *adapter) Receive(r *http.Request, body []byte) (channels.Callback, error) {
	if r.Method == http.MethodGet {
		q := r.URL.Query()
		if q.Get("hub.mode") != "subscribe" || subtle.ConstantTimeCompare([]byte(q.Get("hub.verify_token")), []byte(a.verifyToken)) != 1 {
			return channels.Callback{}, channels.Unauthorized("hub.verify_token does not match")
		}
		return channels.Callback{ContentType: "text/plain", Body: []byte(q.Get("hub.challenge"))}, nil
	}
	if !hmac.Equal([]byte(r.Header.Get("X-Hub-Signature-256")), []byte(Sign(a.appSecret, body))) {
		return channels.Callback{}, channels.Unauthorized("X-Hub-Signature-256 does not match")
	}
	var n notification
	if err := json.Unmarshal(body, &n); err != nil {
		return channels.Callback{}, channels.BadRequest("the notification is not JSON")
	}
	var cb channels.Callback
	for _, e := range n.Entry {
		for _, c := range e.Changes {
			// Another number of the same business account is another
			// channel's.
			if c.Field != "messages" || c.Value.Metadata.PhoneNumberID != a.phone {
				continue
			}
			for _, m := range c.Value.Messages {
				text := m.Text.Body
				switch m.Type {
				case "reaction":
					if m.ID != "" && m.From != "" && m.Reaction.MessageID != "" {
						// A user has one reaction per message, so any
						// other emoji, or none, leaves no vote.
						cb.Votes = append(cb.Votes, channels.Vote{ID: m.ID, User: m.From, Message: m.Reaction.MessageID,
							Rating: emojiRating(m.Reaction.Emoji), Mode: channels.VoteSet})
					}
					continue
				case "interactive":
					text = m.Interactive.ButtonReply.Title + m.Interactive.ListReply.Title
				case "button":
					text = m.Button.Text
				case "text":
				default:
					continue
				}
				msg := channels.Message{ID: m.ID, User: m.From, Chat: m.From, Text: text}
				if s, err := strconv.ParseInt(m.Timestamp, 10, 64); err == nil {
					msg.Time = time.Unix(s, 0)
				}
				cb.Messages = append(cb.Messages, msg)
			}
		}
	}
	return cb, nil
}

// emojiRating is the vote a reaction emoji stands for: 👍 or 👎 in any
// skin tone; anything else is none.
func emojiRating(e string) int {
	e = strings.Map(func(r rune) rune {
		if r >= 0x1F3FB && r <= 0x1F3FF || r == 0xFE0F {
			return -1
		}
		return r
	}, e)
	switch e {
	case "👍":
		return 1
	case "👎":
		return -1
	}
	return 0
}

func (a *adapter) Send(ctx context.Context, msg channels.Message, rep channels.Reply) error {
	_, err := a.SendIDs(ctx, msg, rep)
	return err
}

// SendIDs implements channels.IDSender: a reaction names the message by
// the wamid the messages endpoint returned.
func (a *adapter) SendIDs(ctx context.Context, msg channels.Message, rep channels.Reply) ([]string, error) {
	var ids []string
	// Reply buttons (at most 3, titles of at most 20 characters) where
	// the follow-ups fit them; numbered text otherwise.
	buttons := len(rep.Followups) > 0 && len(rep.Followups) <= 3
	for _, f := range rep.Followups {
		if utf8.RuneCountInString(f) > 20 {
			buttons = false
		}
	}
	parts := format.Parts(rep, format.Options{Style: format.WhatsApp, Limit: Limit, Measure: format.UTF16, Numbered: !buttons})
	if buttons && format.UTF16(parts[len(parts)-1]) > interactiveLimit {
		buttons = false
		parts = format.Parts(rep, format.Options{Style: format.WhatsApp, Limit: Limit, Measure: format.UTF16, Numbered: true})
	}
	u := a.base + "/" + url.PathEscape(a.ver) + "/" + url.PathEscape(a.phone) + "/messages"
	hdr := http.Header{"Authorization": {"Bearer " + a.token}}
	for i, p := range parts {
		body := map[string]any{"messaging_product": "whatsapp", "recipient_type": "individual", "to": msg.User,
			"type": "text", "text": map[string]any{"preview_url": false, "body": p}}
		if buttons && i == len(parts)-1 {
			var bs []map[string]any
			for j, f := range rep.Followups {
				bs = append(bs, map[string]any{"type": "reply", "reply": map[string]string{"id": "f" + strconv.Itoa(j+1), "title": f}})
			}
			delete(body, "text")
			body["type"] = "interactive"
			body["interactive"] = map[string]any{"type": "button", "body": map[string]string{"text": p}, "action": map[string]any{"buttons": bs}}
		}
		var out struct {
			Error *struct {
				Message string `json:"message"`
				Code    int    `json:"code"`
			} `json:"error"`
			Messages []struct {
				ID string `json:"id"`
			} `json:"messages"`
		}
		if err := channels.CallJSON(ctx, a.env.HTTP, http.MethodPost, u, hdr, body, &out); err != nil {
			if out.Error != nil {
				return nil, fmt.Errorf("whatsapp refused the message (%d %s)", out.Error.Code, out.Error.Message)
			}
			return nil, err
		}
		for _, m := range out.Messages {
			if m.ID != "" {
				ids = append(ids, m.ID)
			}
		}
	}
	return ids, nil
}
