package fakes

import (
	"encoding/json"
	"fmt"
	"net/http"
	"testing"

	"atoll/channels"
	"atoll/channels/channeltest"
	"atoll/channels/whatsapp"
)

// The fake WhatsApp Cloud API's credentials.
const (
	WhatsAppToken     = "EAAJB-access-token"
	WhatsAppAppSecret = "meta-app-secret"
	WhatsAppVerify    = "my-verify-token"
	WhatsAppPhoneID   = "106540352242922"
)

// WhatsApp is POST /v21.0/{phone-number-id}/messages with a Bearer token:
// {"messaging_product":"whatsapp","contacts":[…],"messages":[{"id":"wamid…"}]},
// or 401 with an OAuthException for a bad token. Webhooks are signed with
// X-Hub-Signature-256 (HMAC-SHA256 of the body with the app secret).
type WhatsApp struct {
	platform
	Sent channeltest.Calls[map[string]any]
}

// NewWhatsApp starts the fake.
func NewWhatsApp(t testing.TB) *WhatsApp {
	f := &WhatsApp{platform: platform{kind: channels.WhatsApp, user: "16505551234", pull: false}}
	f.serve(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/v21.0/"+WhatsAppPhoneID+"/messages" || r.Header.Get("Authorization") != "Bearer "+WhatsAppToken {
			w.WriteHeader(http.StatusUnauthorized)
			fmt.Fprint(w, `{"error":{"message":"Invalid OAuth access token.","type":"OAuthException","code":190}}`)
			return
		}
		var m map[string]any
		json.NewDecoder(r.Body).Decode(&m)
		n := f.Sent.Add(m)
		// Each message its own wamid, as the Cloud API returns it.
		fmt.Fprintf(w, `{"messaging_product":"whatsapp","contacts":[{"input":"16315551234","wa_id":"16315551234"}],"messages":[{"id":"%s"}]}`, WhatsAppSentID(n))
	})
	return f
}

func (f *WhatsApp) Settings() map[string]string {
	return map[string]string{"access_token": WhatsAppToken, "app_secret": WhatsAppAppSecret, "verify_token": WhatsAppVerify, "phone_number_id": WhatsAppPhoneID}
}

// Notification is a text-message webhook as the Cloud API's webhook
// reference shows it.
func (f *WhatsApp) Notification(n int, text string) string {
	return fmt.Sprintf(`{"object":"whatsapp_business_account","entry":[{"id":"102290129340398","changes":[{"value":{"messaging_product":"whatsapp","metadata":{"display_phone_number":"15550783881","phone_number_id":%q},"contacts":[{"profile":{"name":"Sheena Nelson"},"wa_id":"16505551234"}],"messages":[{"from":"16505551234","id":"wamid.HBgLMTY1MDM4NzkxMDIVAgASGBQzQTRBNjU5OUFFRTAzODEwMTQ0RgA%d","timestamp":"1749416383","type":"text","text":{"body":%q}}]},"field":"messages"}]}]}`, WhatsAppPhoneID, n, text)
}

// Post delivers body signed with secret.
func (f *WhatsApp) Post(t testing.TB, webhook, body, secret string) int {
	st, _ := post(t, webhook, "application/json", body, map[string]string{"X-Hub-Signature-256": whatsapp.Sign(secret, []byte(body))})
	return st
}

func (f *WhatsApp) Deliver(t testing.TB, webhook string, n int, text string, forged bool) int {
	s := WhatsAppAppSecret
	if forged {
		s = "other-secret"
	}
	return f.Post(t, webhook, f.Notification(n, text), s)
}

// WhatsAppSentID is the wamid the fake gives the nth message sent.
func WhatsAppSentID(n int) string {
	return fmt.Sprintf("wamid.HBgLMTY1MDM4Nzk0MzkVAgARGBI3N0EyQUJDMjFEQzZCQUMz%04d", n)
}

// Reaction is a reaction-message webhook as the Cloud API's reference
// shows it: from reacted with emoji to the message messageID ("" emoji:
// the reaction removed, sent without the emoji field).
func (f *WhatsApp) Reaction(n int, from, messageID, emoji string) string {
	r := fmt.Sprintf(`{"message_id":%q,"emoji":%q}`, messageID, emoji)
	if emoji == "" {
		r = fmt.Sprintf(`{"message_id":%q}`, messageID)
	}
	return fmt.Sprintf(`{"object":"whatsapp_business_account","entry":[{"id":"102290129340398","changes":[{"value":{"messaging_product":"whatsapp","metadata":{"display_phone_number":"15550783881","phone_number_id":%q},"contacts":[{"profile":{"name":"Sheena Nelson"},"wa_id":%q}],"messages":[{"from":%q,"id":"wamid.HBgLMTY1MDM4NzkxMDIVAgASGBQzQTM0REVBQ0JERUVBMkVGRjZBOAA%d","timestamp":"1749416400","type":"reaction","reaction":%s}]},"field":"messages"}]}]}`,
		WhatsAppPhoneID, from, from, n, r)
}

func (f *WhatsApp) Vote(t testing.TB, webhook string, n, i, rating int, remove, forged bool) int {
	return f.VoteAs(t, webhook, f.User(), n, i, rating, remove, forged)
}

// VoteAs reacts 👍 or 👎 (👍🏽 for a vote up, to cover skin tones) to reply
// i as user, or removes the reaction.
func (f *WhatsApp) VoteAs(t testing.TB, webhook, user string, n, i, rating int, remove, forged bool) int {
	t.Helper()
	var sent []int
	for j, c := range f.Sent.All() {
		if c["to"] == f.User() {
			sent = append(sent, j+1)
		}
	}
	if i >= len(sent) {
		t.Fatalf("no reply %d to react to (%d sent)", i, len(sent))
	}
	emoji := "👍🏽"
	if rating < 0 {
		emoji = "👎"
	}
	if remove {
		emoji = ""
	}
	s := WhatsAppAppSecret
	if forged {
		s = "other-secret"
	}
	return f.Post(t, webhook, f.Reaction(n, user, WhatsAppSentID(sent[i]), emoji), s)
}

func (f *WhatsApp) Replies() []string {
	var out []string
	for _, c := range f.Sent.All() {
		if c["to"] != f.User() {
			continue
		}
		switch c["type"] {
		case "text":
			s, _ := c["text"].(map[string]any)["body"].(string)
			out = append(out, s)
		case "interactive":
			in, _ := c["interactive"].(map[string]any)
			b, _ := in["body"].(map[string]any)
			s, _ := b["text"].(string)
			out = append(out, s)
		}
	}
	return out
}
