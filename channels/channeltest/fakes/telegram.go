package fakes

import (
	"encoding/json"
	"fmt"
	"net/http"
	"testing"

	"atoll/channels"
	"atoll/channels/channeltest"
)

// Telegram's bot token and webhook secret_token of the fake.
const (
	TelegramBotToken = "123456:ABC-DEF1234ghIkl-zyx57W2v1u123ew11"
	TelegramSecret   = "s3cr3t_Webhook-token"
)

// Telegram is the Bot API's sendMessage, as documented: POST
// /bot<token>/sendMessage, {"ok":true,"result":…}; a wrong token is 401
// {"ok":false,"error_code":401,"description":"Unauthorized"}. Updates come
// with the X-Telegram-Bot-Api-Secret-Token header.
type Telegram struct {
	platform
	Sent channeltest.Calls[map[string]any] // sendMessage bodies
}

// NewTelegram starts the fake.
func NewTelegram(t testing.TB) *Telegram {
	f := &Telegram{platform: platform{kind: channels.Telegram, user: "42", pull: false}}
	f.serve(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/bot"+TelegramBotToken+"/sendMessage" {
			w.WriteHeader(http.StatusUnauthorized)
			fmt.Fprint(w, `{"ok":false,"error_code":401,"description":"Unauthorized"}`)
			return
		}
		var m map[string]any
		if err := json.NewDecoder(r.Body).Decode(&m); err != nil {
			t.Errorf("sendMessage body: %v", err)
		}
		f.Sent.Add(m)
		fmt.Fprint(w, `{"ok":true,"result":{"message_id":1}}`)
	})
	return f
}

func (f *Telegram) Settings() map[string]string {
	return map[string]string{"bot_token": TelegramBotToken, "secret_token": TelegramSecret}
}

// Update is an Update shaped like the Bot API's documented example
// (update_id, message.from, message.chat, message.text).
func (f *Telegram) Update(updateID int, text string) string {
	return fmt.Sprintf(`{"update_id":%d,"message":{"message_id":%d,"from":{"id":42,"is_bot":false,"first_name":"Ann"},"chat":{"id":42,"type":"private"},"date":1700000000,"text":%q}}`, updateID, updateID, text)
}

// Post delivers an update with secretHeader ("" sends no header).
func (f *Telegram) Post(t testing.TB, webhook string, updateID int, text, secretHeader string) int {
	hdr := map[string]string{}
	if secretHeader != "" {
		hdr["X-Telegram-Bot-Api-Secret-Token"] = secretHeader
	}
	st, _ := post(t, webhook, "application/json", f.Update(updateID, text), hdr)
	return st
}

func (f *Telegram) Deliver(t testing.TB, webhook string, n int, text string, forged bool) int {
	s := TelegramSecret
	if forged {
		s = "not-the-secret"
	}
	return f.Post(t, webhook, n, text, s)
}

func (f *Telegram) Replies() []string {
	var out []string
	for _, c := range f.Sent.All() {
		if fmt.Sprint(c["chat_id"]) == f.User() {
			s, _ := c["text"].(string)
			out = append(out, s)
		}
	}
	return out
}
