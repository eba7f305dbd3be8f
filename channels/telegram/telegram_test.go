package telegram_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"atoll/channels"
	"atoll/channels/channeltest"
	"atoll/channels/channeltest/fakes"
	"atoll/channels/telegram"
)

const (
	botToken = fakes.TelegramBotToken
	secret   = fakes.TelegramSecret
)

func setup(t *testing.T, a *channeltest.Answerer) (*channeltest.Hub, *fakes.Telegram) {
	f := fakes.NewTelegram(t)
	h := channeltest.NewHub(t, channels.Options{Answerer: a})
	if _, err := h.D.Add(channels.Config{ID: "tg1", Kind: channels.Telegram, Agent: "baker", APIBase: f.APIBase(), Settings: f.Settings()}); err != nil {
		t.Fatal(err)
	}
	return h, f
}

func deliver(t testing.TB, h *channeltest.Hub, f *fakes.Telegram, updateID int, text, secretHeader string) int {
	return f.Post(t, h.URL("tg1"), updateID, text, secretHeader)
}

func TestTelegramScenario(t *testing.T) {
	a := &channeltest.Answerer{}
	h, f := setup(t, a)
	channeltest.Run(t, h, "tg1", a, fakes.Scenario(f, h.URL("tg1")))
	for _, c := range f.Sent.All() {
		if c["chat_id"] != "42" || c["parse_mode"] != "HTML" {
			t.Errorf("sendMessage %v: want chat_id 42 and parse_mode HTML", c)
		}
	}
	if st := deliver(t, h, f, 1, "no header", ""); st != http.StatusUnauthorized {
		t.Errorf("an update without the secret header: %d, want 401", st)
	}
}

func TestTelegramFollowupsAsReplyKeyboardAndNumbers(t *testing.T) {
	a := &channeltest.Answerer{Followups: []string{"Do you deliver?", "Any vegan cakes?"}}
	h, f := setup(t, a)
	if st := deliver(t, h, f, 1, "**menu**?", secret); st != 200 {
		t.Fatal(st)
	}
	channeltest.WaitFor(t, "the reply", func() bool { return f.Sent.Len() == 1 })
	c := f.Sent.All()[0]
	kb, _ := json.Marshal(c["reply_markup"])
	if !bytes.Contains(kb, []byte(`"keyboard":[[{"text":"Do you deliver?"}],[{"text":"Any vegan cakes?"}]]`)) || !bytes.Contains(kb, []byte(`"one_time_keyboard":true`)) {
		t.Errorf("reply_markup = %s", kb)
	}
	if got := c["text"]; got != "answer: <b>menu</b>?" {
		t.Errorf("text = %q, want the Markdown as Telegram HTML", got)
	}
	// A bare number asks that follow-up.
	if st := deliver(t, h, f, 2, "2", secret); st != 200 {
		t.Fatal(st)
	}
	channeltest.WaitFor(t, "the second reply", func() bool { return f.Sent.Len() == 2 })
	if qs := a.Questions(); qs[1].Text != "Any vegan cakes?" {
		t.Errorf("the number was asked as %q", qs[1].Text)
	}
}

func TestTelegramLongAnswerSplit(t *testing.T) {
	a := &channeltest.Answerer{}
	h, f := setup(t, a)
	long := strings.Repeat("crusty sourdough ", 600) // ~10 000 characters
	if st := deliver(t, h, f, 1, long, secret); st != 200 {
		t.Fatal(st)
	}
	channeltest.WaitFor(t, "the replies", func() bool { return f.Sent.Len() >= 3 })
	ch, _ := h.D.Get("tg1")
	channeltest.WaitFor(t, "the answer to be counted", func() bool { return ch.Status().Answered == 1 })
	total := 0
	for _, c := range f.Sent.All() {
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
