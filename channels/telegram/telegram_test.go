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

// TestTelegramVoteButtons: an answer carries 👍/👎 (and its follow-ups) as
// an inline keyboard; a press is a vote, answered with answerCallbackQuery
// in the webhook's response; pressing the same again takes it back, the
// other replaces it; a retried update counts once; a forged one is refused.
func TestTelegramVoteButtons(t *testing.T) {
	a := &channeltest.VotingAnswerer{Answerer: channeltest.Answerer{Followups: []string{"Do you deliver?", "Any vegan cakes?"}}}
	f := fakes.NewTelegram(t)
	h := channeltest.NewHub(t, channels.Options{Answerer: a})
	if _, err := h.D.Add(channels.Config{ID: "tg1", Kind: channels.Telegram, Agent: "baker", APIBase: f.APIBase(), Settings: f.Settings()}); err != nil {
		t.Fatal(err)
	}
	if st := f.Post(t, h.URL("tg1"), 1, "menu?", secret); st != 200 {
		t.Fatal(st)
	}
	channeltest.WaitFor(t, "the reply", func() bool { return f.Sent.Len() == 1 })
	sent := f.Sent.All()[0]
	b := fakes.Buttons(sent)
	if b["👍"] != "v+r1" || b["👎"] != "v-r1" || b["Do you deliver?"] != "q0" || b["Any vegan cakes?"] != "q1" {
		t.Fatalf("inline keyboard = %v", sent["reply_markup"])
	}
	for _, d := range b {
		if len(d) > 64 {
			t.Errorf("callback_data %q is longer than 64 bytes", d)
		}
	}
	press := func(update int, data, sec string) (int, map[string]string) {
		t.Helper()
		st, body := f.Press(t, h.URL("tg1"), update, sent, data, sec)
		var m map[string]string
		if st == 200 && body != "" {
			if err := json.Unmarshal([]byte(body), &m); err != nil {
				t.Fatalf("response %q: %v", body, err)
			}
		}
		return st, m
	}
	st, ack := press(10, "v-r1", secret)
	if st != 200 || ack["method"] != "answerCallbackQuery" || ack["callback_query_id"] != "cbq10" || ack["text"] != telegram.Thanks || a.Rating(1) != -1 {
		t.Fatalf("👎: %d %v, rating %d", st, ack, a.Rating(1))
	}
	if st, _ := press(10, "v-r1", secret); st != 200 || a.Rating(1) != -1 {
		t.Fatalf("a retried 👎 update: %d, rating %d (a retry must not take the vote back)", st, a.Rating(1))
	}
	if st, _ := press(11, "v+r1", "forged"); st != 401 || a.Rating(1) != -1 {
		t.Fatalf("a forged 👍: %d, rating %d", st, a.Rating(1))
	}
	if st, ack := press(12, "v+r1", secret); st != 200 || ack["text"] != telegram.Thanks || a.Rating(1) != 1 {
		t.Fatalf("👍 after 👎: %d %v, rating %d", st, ack, a.Rating(1))
	}
	if st, ack := press(13, "v+r1", secret); st != 200 || ack["text"] != telegram.TakenBack || a.Rating(1) != 0 {
		t.Fatalf("👍 again: %d %v, rating %d", st, ack, a.Rating(1))
	}
	ch, _ := h.D.Get("tg1")
	if s := ch.Status(); s.Votes != 3 || s.Duplicates != 1 || s.Rejected != 1 {
		t.Errorf("status %+v: want 3 votes, 1 duplicate, 1 rejected", s)
	}
	if vs := a.Votes(); len(vs) != 3 || vs[0].UserKey != "telegram:42" || vs[0].Mode != channels.VoteToggle || vs[0].Channel != "tg1" {
		t.Errorf("vote events %+v", vs)
	}
	// A follow-up button asks its question, as if typed.
	if st, ack := press(14, "q1", secret); st != 200 || ack["method"] != "answerCallbackQuery" {
		t.Fatalf("a follow-up press: %d %v", st, ack)
	}
	channeltest.WaitFor(t, "the follow-up answered", func() bool { return f.Sent.Len() == 2 })
	if qs := a.Questions(); qs[1].Text != "Any vegan cakes?" || qs[1].UserKey != "telegram:42" {
		t.Errorf("the follow-up was asked as %+v", qs[1])
	}
}

// TestTelegramVotesScenario: the scenario every kind with votes passes.
func TestTelegramVotesScenario(t *testing.T) {
	a := &channeltest.VotingAnswerer{}
	f := fakes.NewTelegram(t)
	h := channeltest.NewHub(t, channels.Options{Answerer: a})
	if _, err := h.D.Add(channels.Config{ID: "tg1", Kind: channels.Telegram, Agent: "baker", APIBase: f.APIBase(), Settings: f.Settings()}); err != nil {
		t.Fatal(err)
	}
	channeltest.RunVotes(t, h, "tg1", a, fakes.VoteScenario(f, h.URL("tg1"), "43"))
}
