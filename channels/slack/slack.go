// Package slack is the Slack channel: the Events API (signed requests,
// url_verification, event_callback) and chat.postMessage, per
// https://api.slack.com/authentication/verifying-requests-from-slack and
// https://api.slack.com/apis/events-api.
package slack

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"time"

	"atoll/channels"
	"atoll/channels/format"
)

// Limit is the text length the channel sends in one message: Slack
// truncates text past 40 000 characters and advises staying under 4 000.
const Limit = 4000

// Window is how old a request's timestamp may be before it is treated as a
// replay (Slack's advice: five minutes).
const Window = 5 * time.Minute

func init() {
	channels.Register(channels.Factory{
		Kind: channels.Slack,
		Fields: []channels.Field{
			{Key: "bot_token", Secret: true, Required: true, Help: "the Bot User OAuth Token (xoxb-…), with chat:write"},
			{Key: "signing_secret", Secret: true, Required: true, Help: "Basic Information → App Credentials → Signing Secret"},
		},
		Ack:     3 * time.Second, // Slack retries when not answered within 3 s
		Webhook: "Event Subscriptions → Request URL = WEBHOOK; subscribe the bot to message.im, app_mention, and reaction_added and reaction_removed (scope reactions:read) for 👍/👎 votes",
		New:     New,
	})
}

type adapter struct {
	env    channels.Env
	base   string
	token  string
	secret string
}

// New builds a Slack adapter.
func New(env channels.Env) (channels.Adapter, error) {
	return &adapter{env: env, base: env.Base("https://slack.com"), token: env.Settings["bot_token"], secret: env.Settings["signing_secret"]}, nil
}

// Sign is Slack's v0 signature of a request body at a timestamp.
func Sign(secret, timestamp string, body []byte) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte("v0:" + timestamp + ":"))
	m.Write(body)
	return "v0=" + hex.EncodeToString(m.Sum(nil))
}

// Verify checks a request's signature and its timestamp window.
func Verify(secret string, h http.Header, body []byte, now time.Time) error {
	ts := h.Get("X-Slack-Request-Timestamp")
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return channels.Unauthorized("no X-Slack-Request-Timestamp")
	}
	if math.Abs(now.Sub(time.Unix(sec, 0)).Seconds()) > Window.Seconds() {
		return channels.Unauthorized("the timestamp is outside the 5-minute window (a replay?)")
	}
	if !hmac.Equal([]byte(h.Get("X-Slack-Signature")), []byte(Sign(secret, ts, body))) {
		return channels.Unauthorized("X-Slack-Signature does not match")
	}
	return nil
}

type envelope struct {
	Type      string `json:"type"`
	Challenge string `json:"challenge"`
	EventID   string `json:"event_id"`
	Event     struct {
		Type        string `json:"type"`
		Subtype     string `json:"subtype"`
		User        string `json:"user"`
		BotID       string `json:"bot_id"`
		Text        string `json:"text"`
		Channel     string `json:"channel"`
		ChannelType string `json:"channel_type"`
		TS          string `json:"ts"`
		ThreadTS    string `json:"thread_ts"`
		// reaction_added and reaction_removed
		Reaction string `json:"reaction"`
		Item     struct {
			Type    string `json:"type"`
			Channel string `json:"channel"`
			TS      string `json:"ts"`
		} `json:"item"`
	} `json:"event"`
}

// reactionRating is the vote a reaction's name stands for (0: none): the
// thumbs under their Slack names, with any skin tone.
func reactionRating(name string) int {
	name, _, _ = strings.Cut(name, "::")
	switch name {
	case "+1", "thumbsup":
		return 1
	case "-1", "thumbsdown":
		return -1
	}
	return 0
}

// messageRef names a posted message for votes: its channel and ts (a ts is
// unique only within its channel).
func messageRef(channel, ts string) string { return channel + "/" + ts }

var mentionRe = regexp.MustCompile(`<@[A-Z0-9]+>\s*`)

func (a *adapter) Receive(r *http.Request, body []byte) (channels.Callback, error) {
	if err := Verify(a.secret, r.Header, body, a.env.Now()); err != nil {
		return channels.Callback{}, err
	}
	var e envelope
	if err := json.Unmarshal(body, &e); err != nil {
		return channels.Callback{}, channels.BadRequest("the event is not JSON")
	}
	switch e.Type {
	case "url_verification":
		b, _ := json.Marshal(map[string]string{"challenge": e.Challenge})
		return channels.Callback{ContentType: "application/json", Body: b}, nil
	case "event_callback":
	default:
		return channels.Callback{}, nil
	}
	ev := e.Event
	if ev.Type == "reaction_added" || ev.Type == "reaction_removed" {
		r := reactionRating(ev.Reaction)
		if r == 0 || ev.Item.Type != "message" || ev.User == "" || e.EventID == "" {
			return channels.Callback{}, nil
		}
		v := channels.Vote{ID: e.EventID, User: ev.User, Message: messageRef(ev.Item.Channel, ev.Item.TS), Rating: r, Mode: channels.VoteSet}
		if ev.Type == "reaction_removed" {
			// A user may have put both thumbs on; taking one off takes
			// back only the vote it stands for.
			v.Mode = channels.VoteRemove
		}
		return channels.Callback{Votes: []channels.Vote{v}}, nil
	}
	// Skip the bot's own posts and edits, or it would answer itself.
	if (ev.Type != "message" && ev.Type != "app_mention") || ev.BotID != "" || ev.Subtype != "" || ev.User == "" {
		return channels.Callback{}, nil
	}
	// A mention in a channel arrives twice (message and app_mention,
	// with different event IDs): the message's channel and ts name it
	// once.
	m := channels.Message{ID: ev.Channel + ":" + ev.TS, User: ev.User, Chat: ev.Channel,
		Text: strings.TrimSpace(mentionRe.ReplaceAllString(ev.Text, ""))}
	if ev.ChannelType != "im" {
		m.Thread = ev.ThreadTS
		if m.Thread == "" {
			m.Thread = ev.TS
		}
	}
	if sec, err := strconv.ParseFloat(ev.TS, 64); err == nil {
		m.Time = time.Unix(int64(sec), 0)
	}
	return channels.Callback{Messages: []channels.Message{m}}, nil
}

type postResp struct {
	OK      bool   `json:"ok"`
	Error   string `json:"error"`
	Channel string `json:"channel"`
	TS      string `json:"ts"`
}

func (a *adapter) Send(ctx context.Context, msg channels.Message, rep channels.Reply) error {
	_, err := a.SendIDs(ctx, msg, rep)
	return err
}

// SendIDs implements channels.IDSender: a posted message is named by its
// channel and ts, as reaction events name the message reacted to.
func (a *adapter) SendIDs(ctx context.Context, msg channels.Message, rep channels.Reply) ([]string, error) {
	var ids []string
	ch := msg.Chat
	if ch == "" {
		ch = msg.User // a user ID opens the app's DM with them
	}
	hdr := http.Header{"Authorization": {"Bearer " + a.token}}
	for _, p := range format.Parts(rep, format.Options{Style: format.SlackMrkdwn, Limit: Limit, Numbered: true}) {
		body := map[string]any{"channel": ch, "text": p, "mrkdwn": true, "unfurl_links": false}
		if msg.Thread != "" {
			body["thread_ts"] = msg.Thread
		}
		var out postResp
		if err := channels.CallJSON(ctx, a.env.HTTP, http.MethodPost, a.base+"/api/chat.postMessage", hdr, body, &out); err != nil {
			return nil, err
		}
		if !out.OK {
			if out.Error == "ratelimited" {
				return nil, channels.Retryable(fmt.Errorf("slack chat.postMessage: %s", out.Error))
			}
			return nil, fmt.Errorf("slack chat.postMessage failed: %s", out.Error)
		}
		if out.Channel != "" && out.TS != "" {
			ids = append(ids, messageRef(out.Channel, out.TS))
		}
	}
	return ids, nil
}
