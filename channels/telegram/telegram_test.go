package telegram_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"atoll/channels"
	"atoll/channels/channeltest"
	"atoll/channels/telegram"
)

const (
	botToken = "123456:ABC-DEF1234ghIkl-zyx57W2v1u123ew11"
	secret   = "s3cr3t_Webhook-token"
)

// fakeBotAPI is the Bot API's sendMessage, as documented: POST
// /bot<token>/sendMessage, {"ok":true,"result":…}; a wrong token is 401
// {"ok":false,"error_code":401,"description":"Unauthorized"}.
func fakeBotAPI(t *testing.T) (*httptest.Server, *channeltest.Calls[map[string]any]) {
	calls := &channeltest.Calls[map[string]any]{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/bot"+botToken+"/sendMessage" {
			w.WriteHeader(http.StatusUnauthorized)
			fmt.Fprint(w, `{"ok":false,"error_code":401,"description":"Unauthorized"}`)
			return
		}
		var m map[string]any
		if err := json.NewDecoder(r.Body).Decode(&m); err != nil {
			t.Errorf("sendMessage body: %v", err)
		}
		calls.Add(m)
		fmt.Fprint(w, `{"ok":true,"result":{"message_id":1}}`)
	}))
	t.Cleanup(srv.Close)
	return srv, calls
}

func setup(t *testing.T, a *channeltest.Answerer) (*channeltest.Hub, *channeltest.Calls[map[string]any]) {
	api, calls := fakeBotAPI(t)
	h := channeltest.NewHub(t, channels.Options{Answerer: a})
	if _, err := h.D.Add(channels.Config{ID: "tg1", Kind: channels.Telegram, Agent: "baker", APIBase: api.URL,
		Settings: map[string]string{"bot_token": botToken, "secret_token": secret}}); err != nil {
		t.Fatal(err)
	}
	return h, calls
}

// deliver posts an Update shaped like the Bot API's documented example
// (update_id, message.from, message.chat, message.text).
func deliver(t testing.TB, h *channeltest.Hub, updateID int, text, secretHeader string) int {
	body := fmt.Sprintf(`{"update_id":%d,"message":{"message_id":%d,"from":{"id":42,"is_bot":false,"first_name":"Ann"},"chat":{"id":42,"type":"private"},"date":1700000000,"text":%q}}`, updateID, updateID, text)
	req, _ := http.NewRequest(http.MethodPost, h.URL("tg1"), strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	if secretHeader != "" {
		req.Header.Set("X-Telegram-Bot-Api-Secret-Token", secretHeader)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

func TestTelegramScenario(t *testing.T) {
	a := &channeltest.Answerer{}
	h, calls := setup(t, a)
	f, _ := channels.Lookup(channels.Telegram)
	channeltest.Run(t, h, "tg1", a, channeltest.Platform{
		Ack: f.Ack,
		Deliver: func(t testing.TB, n int, forged bool) int {
			s := secret
			if forged {
				s = "not-the-secret"
			}
			return deliver(t, h, 9000+n, channeltest.Question(n), s)
		},
		Replies: func() []string {
			var out []string
			for _, c := range calls.All() {
				if c["chat_id"] != "42" || c["parse_mode"] != "HTML" {
					t.Errorf("sendMessage %v: want chat_id 42 and parse_mode HTML", c)
				}
				out = append(out, c["text"].(string))
			}
			return out
		},
	})
	if st := deliver(t, h, 1, "no header", ""); st != http.StatusUnauthorized {
		t.Errorf("an update without the secret header: %d, want 401", st)
	}
}

func TestTelegramFollowupsAsReplyKeyboardAndNumbers(t *testing.T) {
	a := &channeltest.Answerer{Followups: []string{"Do you deliver?", "Any vegan cakes?"}}
	h, calls := setup(t, a)
	if st := deliver(t, h, 1, "**menu**?", secret); st != 200 {
		t.Fatal(st)
	}
	channeltest.WaitFor(t, "the reply", func() bool { return calls.Len() == 1 })
	c := calls.All()[0]
	kb, _ := json.Marshal(c["reply_markup"])
	if !bytes.Contains(kb, []byte(`"keyboard":[[{"text":"Do you deliver?"}],[{"text":"Any vegan cakes?"}]]`)) || !bytes.Contains(kb, []byte(`"one_time_keyboard":true`)) {
		t.Errorf("reply_markup = %s", kb)
	}
	if got := c["text"]; got != "answer: <b>menu</b>?" {
		t.Errorf("text = %q, want the Markdown as Telegram HTML", got)
	}
	// A bare number asks that follow-up.
	if st := deliver(t, h, 2, "2", secret); st != 200 {
		t.Fatal(st)
	}
	channeltest.WaitFor(t, "the second reply", func() bool { return calls.Len() == 2 })
	if qs := a.Questions(); qs[1].Text != "Any vegan cakes?" {
		t.Errorf("the number was asked as %q", qs[1].Text)
	}
}

func TestTelegramLongAnswerSplit(t *testing.T) {
	a := &channeltest.Answerer{}
	h, calls := setup(t, a)
	long := strings.Repeat("crusty sourdough ", 600) // ~10 000 characters
	if st := deliver(t, h, 1, long, secret); st != 200 {
		t.Fatal(st)
	}
	channeltest.WaitFor(t, "the replies", func() bool { return calls.Len() >= 3 })
	ch, _ := h.D.Get("tg1")
	channeltest.WaitFor(t, "the answer to be counted", func() bool { return ch.Status().Answered == 1 })
	total := 0
	for _, c := range calls.All() {
		s := c["text"].(string)
		if len([]rune(s)) > telegram.Limit {
			t.Errorf("a part of %d characters", len([]rune(s)))
		}
		total += strings.Count(s, "sourdough")
	}
	if total != 600 {
		t.Errorf("%d of 600 words arrived", total)
	}
}

func TestTelegramSendErrorHidesToken(t *testing.T) {
	a := &channeltest.Answerer{}
	h := channeltest.NewHub(t, channels.Options{Answerer: a})
	// A Bot API that is down: the error must not carry the token (it is
	// part of the URL) into the channel status.
	dead := httptest.NewServer(http.NotFoundHandler())
	dead.Close()
	h.D.Add(channels.Config{ID: "tg1", Kind: channels.Telegram, Agent: "baker", APIBase: dead.URL,
		Settings: map[string]string{"bot_token": botToken, "secret_token": secret}})
	err := h.D.SendTest(t.Context(), "tg1", "42", "hello")
	if err == nil || strings.Contains(err.Error(), botToken) {
		t.Fatalf("err = %v", err)
	}
	ch, _ := h.D.Get("tg1")
	if strings.Contains(ch.Status().LastError, botToken) {
		t.Errorf("status shows the token: %s", ch.Status().LastError)
	}
}

func TestTelegramSettingsValidated(t *testing.T) {
	h := channeltest.NewHub(t, channels.Options{Answerer: &channeltest.Answerer{}})
	_, err := h.D.Add(channels.Config{ID: "x", Kind: channels.Telegram, Settings: map[string]string{"bot_token": "t"}})
	if err == nil || !strings.Contains(err.Error(), "secret_token") {
		t.Errorf("missing secret_token: %v", err)
	}
	_, err = h.D.Add(channels.Config{ID: "x", Kind: channels.Telegram, Settings: map[string]string{"bot_token": "t", "secret_token": "a b"}})
	if err == nil {
		t.Error("a secret_token with a space was accepted")
	}
	_, err = h.D.Add(channels.Config{ID: "x", Kind: channels.Telegram, Settings: map[string]string{"bot_token": "t", "secret_token": "ok", "colour": "red"}})
	if err == nil || !strings.Contains(err.Error(), "colour") {
		t.Errorf("unknown setting: %v", err)
	}
}
