// Package telegram is the Telegram channel: a bot's webhook (setWebhook
// with a secret_token) and sendMessage, per the Bot API documentation
// (https://core.telegram.org/bots/api#setwebhook).
package telegram

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"atoll/channels"
	"atoll/channels/format"
)

// Limit is sendMessage's text limit (1-4096 characters after entities
// parsing; UTF-16 units are the safe count).
const Limit = 4096

func init() {
	channels.Register(channels.Factory{
		Kind: channels.Telegram,
		Fields: []channels.Field{
			{Key: "bot_token", Secret: true, Required: true, Help: "the token @BotFather gave the bot"},
			{Key: "secret_token", Secret: true, Required: true, Help: "a random string (1-256 of A-Z a-z 0-9 _ -) also passed to setWebhook as secret_token"},
		},
		// Telegram documents no deadline; it retries an unanswered
		// update, so answer well within a typical client timeout.
		Ack:     10 * time.Second,
		Webhook: "call setWebhook with url=WEBHOOK and secret_token=SECRET_TOKEN",
		New:     New,
	})
}

type adapter struct {
	env    channels.Env
	base   string
	token  string
	secret string
}

// New builds a Telegram adapter.
func New(env channels.Env) (channels.Adapter, error) {
	s := env.Settings["secret_token"]
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_' || r == '-') {
			return nil, errors.New("telegram secret_token may only hold A-Z, a-z, 0-9, _ and -; choose another")
		}
	}
	if len(s) > 256 {
		return nil, errors.New("telegram secret_token is longer than 256 characters; choose a shorter one")
	}
	return &adapter{env: env, base: env.Base("https://api.telegram.org"), token: env.Settings["bot_token"], secret: s}, nil
}

// update is the part of an Update the channel reads.
type update struct {
	UpdateID int64 `json:"update_id"`
	Message  *struct {
		MessageID int64 `json:"message_id"`
		Date      int64 `json:"date"`
		From      *struct {
			ID    int64 `json:"id"`
			IsBot bool  `json:"is_bot"`
		} `json:"from"`
		Chat struct {
			ID int64 `json:"id"`
		} `json:"chat"`
		Text    string `json:"text"`
		Caption string `json:"caption"`
	} `json:"message"`
	CallbackQuery *callbackQuery `json:"callback_query"`
}

// callbackQuery is a press of an inline keyboard button
// (https://core.telegram.org/bots/api#callbackquery).
type callbackQuery struct {
	ID   string `json:"id"`
	From struct {
		ID    int64 `json:"id"`
		IsBot bool  `json:"is_bot"`
	} `json:"from"`
	// Message is the message the button was under; older than 48 hours
	// it comes as an InaccessibleMessage, without reply_markup.
	Message *struct {
		Chat struct {
			ID int64 `json:"id"`
		} `json:"chat"`
		ReplyMarkup *struct {
			InlineKeyboard [][]inlineButton `json:"inline_keyboard"`
		} `json:"reply_markup"`
	} `json:"message"`
	Data string `json:"data"`
}

type inlineButton struct {
	Text         string `json:"text"`
	CallbackData string `json:"callback_data"`
}

// The callback_data of the buttons under an answer: a vote ("v+" or "v-"
// and the answer's Ref, pressed again to take it back) or follow-up i
// ("q" and i, its question read back from the button's own text, so that
// nothing is kept between the answer and the press).
const (
	dataUp       = "v+"
	dataDown     = "v-"
	dataFollowup = "q"
)

// Thanks and TakenBack are the notifications a voter sees.
const (
	Thanks    = "Thanks for your feedback"
	TakenBack = "Vote taken back"
)

func (a *adapter) Receive(r *http.Request, body []byte) (channels.Callback, error) {
	got := r.Header.Get("X-Telegram-Bot-Api-Secret-Token")
	if subtle.ConstantTimeCompare([]byte(got), []byte(a.secret)) != 1 {
		return channels.Callback{}, channels.Unauthorized("X-Telegram-Bot-Api-Secret-Token does not match")
	}
	if r.Method != http.MethodPost {
		return channels.Callback{}, channels.BadRequest("Telegram posts updates")
	}
	var u update
	if err := json.Unmarshal(body, &u); err != nil {
		return channels.Callback{}, channels.BadRequest("the update is not JSON")
	}
	if q := u.CallbackQuery; q != nil {
		return a.press(u.UpdateID, q), nil
	}
	m := u.Message
	if m == nil || m.From == nil || m.From.IsBot {
		return channels.Callback{}, nil // edits, joins, other bots: nothing to answer
	}
	text := m.Text
	if text == "" {
		text = m.Caption
	}
	// The update_id is what Telegram resends on a retry.
	return channels.Callback{Messages: []channels.Message{{
		ID:   strconv.FormatInt(u.UpdateID, 10),
		User: strconv.FormatInt(m.From.ID, 10),
		Chat: strconv.FormatInt(m.Chat.ID, 10),
		Text: text,
		Time: time.Unix(m.Date, 0),
	}}}, nil
}

// press reads a button press. Every press is answered with
// answerCallbackQuery (as the webhook's response, which the Bot API takes
// as a method call), or the user's client shows a progress bar until it
// gives up.
func (a *adapter) press(updateID int64, q *callbackQuery) channels.Callback {
	ack := func(text string) (string, []byte) {
		b, _ := json.Marshal(map[string]string{"method": "answerCallbackQuery", "callback_query_id": q.ID, "text": text})
		return "application/json", b
	}
	ct, body := ack("")
	cb := channels.Callback{ContentType: ct, Body: body}
	if q.From.IsBot || q.ID == "" {
		return cb
	}
	user := strconv.FormatInt(q.From.ID, 10)
	switch {
	case strings.HasPrefix(q.Data, dataUp), strings.HasPrefix(q.Data, dataDown):
		rating := 1
		if strings.HasPrefix(q.Data, dataDown) {
			rating = -1
		}
		cb.Votes = []channels.Vote{{ID: "cb" + q.ID, User: user, Ref: q.Data[len(dataUp):], Rating: rating, Mode: channels.VoteToggle}}
		cb.VoteAck = func(r channels.VoteResult) (string, []byte) {
			switch r {
			case channels.VoteCounted:
				return ack(Thanks)
			case channels.VoteTakenBack:
				return ack(TakenBack)
			}
			return ack("")
		}
	case strings.HasPrefix(q.Data, dataFollowup) && q.Message != nil && q.Message.ReplyMarkup != nil:
		for _, row := range q.Message.ReplyMarkup.InlineKeyboard {
			for _, b := range row {
				if b.CallbackData == q.Data && strings.TrimSpace(b.Text) != "" {
					// As if the user had typed the question.
					cb.Messages = []channels.Message{{ID: strconv.FormatInt(updateID, 10), User: user,
						Chat: strconv.FormatInt(q.Message.Chat.ID, 10), Text: b.Text}}
					return cb
				}
			}
		}
	}
	return cb
}

type sendReq struct {
	ChatID      string `json:"chat_id"`
	Text        string `json:"text"`
	ParseMode   string `json:"parse_mode,omitempty"`
	ReplyMarkup any    `json:"reply_markup,omitempty"`
	LinkPreview *struct {
		IsDisabled bool `json:"is_disabled"`
	} `json:"link_preview_options,omitempty"`
}

type apiResp struct {
	OK          bool   `json:"ok"`
	Description string `json:"description"`
	Parameters  *struct {
		RetryAfter int `json:"retry_after"`
	} `json:"parameters"`
}

type button struct {
	Text string `json:"text"`
}

func (a *adapter) Send(ctx context.Context, msg channels.Message, rep channels.Reply) error {
	chat := msg.Chat
	if chat == "" {
		chat = msg.User
	}
	parts := format.Parts(rep, format.Options{Style: format.TelegramHTML, Limit: Limit, Measure: format.UTF16})
	for i, p := range parts {
		req := sendReq{ChatID: chat, Text: p, ParseMode: "HTML"}
		if i == len(parts)-1 && rep.Ref != "" && channels.CheckRef(rep.Ref) == nil {
			// An inline keyboard under the answer: its follow-ups, then
			// the vote. A message has one keyboard, so the follow-ups
			// move from the reply keyboard to inline buttons here.
			var rows [][]inlineButton
			for j, f := range rep.Followups {
				rows = append(rows, []inlineButton{{Text: f, CallbackData: dataFollowup + strconv.Itoa(j)}})
			}
			rows = append(rows, []inlineButton{{Text: "👍", CallbackData: dataUp + rep.Ref}, {Text: "👎", CallbackData: dataDown + rep.Ref}})
			req.ReplyMarkup = map[string]any{"inline_keyboard": rows}
		} else if i == len(parts)-1 && len(rep.Followups) > 0 {
			// A one-time reply keyboard: tapping a button sends its
			// text as the user's next message.
			var rows [][]button
			for _, f := range rep.Followups {
				rows = append(rows, []button{{Text: f}})
			}
			req.ReplyMarkup = map[string]any{"keyboard": rows, "one_time_keyboard": true, "resize_keyboard": true}
		}
		var out apiResp
		err := channels.CallJSON(ctx, a.env.HTTP, http.MethodPost, a.base+"/bot"+a.token+"/sendMessage", nil, req, &out)
		if err != nil {
			return a.redact(err)
		}
		if !out.OK {
			return fmt.Errorf("telegram sendMessage failed: %s", out.Description)
		}
	}
	return nil
}

// redact keeps the bot token (part of the URL) out of error messages.
func (a *adapter) redact(err error) error {
	if a.token == "" {
		return err
	}
	msg := err.Error()
	red := errors.New(strings.ReplaceAll(msg, a.token, "<bot_token>"))
	if channels.IsRetryable(err) {
		return channels.Retryable(red)
	}
	return red
}
