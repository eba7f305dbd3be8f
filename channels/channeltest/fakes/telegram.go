package fakes

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
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
		n := f.Sent.Add(m)
		fmt.Fprintf(w, `{"ok":true,"result":{"message_id":%d}}`, n)
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

// Press delivers a callback_query update shaped like the Bot API's: the
// user pressing the button with callbackData under the message that sent
// call carried (its reply_markup echoed back, as Telegram does). It
// returns the status and the webhook's response (a method call such as
// answerCallbackQuery).
func (f *Telegram) Press(t testing.TB, webhook string, updateID int, sent map[string]any, callbackData, secretHeader string) (int, string) {
	return f.PressAs(t, webhook, 42, updateID, sent, callbackData, secretHeader)
}

// PressAs is Press by the user with ID from (in a group, anyone can press
// the buttons under the bot's answer).
func (f *Telegram) PressAs(t testing.TB, webhook string, from int64, updateID int, sent map[string]any, callbackData, secretHeader string) (int, string) {
	t.Helper()
	msg := map[string]any{"message_id": 1, "date": 1700000000, "chat": map[string]any{"id": 42, "type": "private"}, "text": sent["text"]}
	if rm, ok := sent["reply_markup"]; ok {
		msg["reply_markup"] = rm
	}
	u := map[string]any{"update_id": updateID, "callback_query": map[string]any{
		"id": fmt.Sprintf("cbq%d", updateID), "from": map[string]any{"id": from, "is_bot": false, "first_name": "Ann"},
		"message": msg, "chat_instance": "-7702", "data": callbackData}}
	b, _ := json.Marshal(u)
	hdr := map[string]string{}
	if secretHeader != "" {
		hdr["X-Telegram-Bot-Api-Secret-Token"] = secretHeader
	}
	return post(t, webhook, "application/json", string(b), hdr)
}

// Buttons are the inline keyboard's buttons of a sendMessage call, text
// → callback_data.
func Buttons(sent map[string]any) map[string]string {
	out := map[string]string{}
	rm, _ := sent["reply_markup"].(map[string]any)
	rows, _ := rm["inline_keyboard"].([]any)
	for _, r := range rows {
		bs, _ := r.([]any)
		for _, b := range bs {
			bm, _ := b.(map[string]any)
			txt, _ := bm["text"].(string)
			data, _ := bm["callback_data"].(string)
			out[txt] = data
		}
	}
	return out
}

// toUser are the sendMessage calls to the fake's user, in order.
func (f *Telegram) toUser() []map[string]any {
	var out []map[string]any
	for _, c := range f.Sent.All() {
		if fmt.Sprint(c["chat_id"]) == f.User() {
			out = append(out, c)
		}
	}
	return out
}

// Vote presses 👍 or 👎 under reply i (pressing the same again takes the
// vote back, so remove presses it too).
func (f *Telegram) Vote(t testing.TB, webhook string, n, i, rating int, remove, forged bool) int {
	return f.VoteAs(t, webhook, f.User(), n, i, rating, remove, forged)
}

func (f *Telegram) VoteAs(t testing.TB, webhook, user string, n, i, rating int, remove, forged bool) int {
	t.Helper()
	sent := f.toUser()
	if i >= len(sent) {
		t.Fatalf("no reply %d to vote on (%d sent)", i, len(sent))
	}
	label := "👍"
	if rating < 0 {
		label = "👎"
	}
	data, ok := Buttons(sent[i])[label]
	if !ok {
		t.Fatalf("reply %d has no %s button: %v", i, label, sent[i]["reply_markup"])
	}
	s := TelegramSecret
	if forged {
		s = "not-the-secret"
	}
	from, err := strconv.ParseInt(user, 10, 64)
	if err != nil {
		t.Fatalf("a Telegram user ID is a number, not %q", user)
	}
	st, _ := f.PressAs(t, webhook, from, 1_000_000+n, sent[i], data, s)
	return st
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
