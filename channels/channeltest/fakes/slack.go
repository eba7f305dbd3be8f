package fakes

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"sync"
	"testing"
	"time"

	"atoll/channels"
	"atoll/channels/channeltest"
	"atoll/channels/slack"
)

// The fake Slack app's credentials, and the DM channel its user writes in.
const (
	SlackSigning   = "0123456789abcdef0123456789abcdef"
	SlackToken     = "xoxb-1-2-abc"
	SlackDMChannel = "D024BE91L"
)

// SlackPost is one chat.postMessage call.
type SlackPost struct {
	Channel  string `json:"channel"`
	Text     string `json:"text"`
	ThreadTS string `json:"thread_ts"`
	TS       string `json:"-"` // the ts the fake gave the message
}

// Slack is chat.postMessage as documented: Bearer token, JSON body,
// {"ok":true} or {"ok":false,"error":"invalid_auth"} with HTTP 200. Events
// are signed v0 HMAC-SHA256 over "v0:timestamp:body"; a retry carries
// X-Slack-Retry-Num and X-Slack-Retry-Reason.
type Slack struct {
	clock
	platform
	Sent  channeltest.Calls[SlackPost]
	tries seen

	mu     sync.Mutex
	posted int
}

// NewSlack starts the fake.
func NewSlack(t testing.TB) *Slack {
	f := &Slack{platform: platform{kind: channels.Slack, user: "U2147483697", pull: false}}
	f.serve(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/api/chat.postMessage" || r.Header.Get("Authorization") != "Bearer "+SlackToken {
			fmt.Fprint(w, `{"ok":false,"error":"invalid_auth"}`)
			return
		}
		var p SlackPost
		json.NewDecoder(r.Body).Decode(&p)
		// Each message its own ts, returned with its channel as
		// chat.postMessage documents.
		f.mu.Lock()
		f.posted++
		p.TS = fmt.Sprintf("1700000500.%06d", f.posted)
		f.mu.Unlock()
		f.Sent.Add(p)
		b, _ := json.Marshal(map[string]any{"ok": true, "channel": p.Channel, "ts": p.TS})
		w.Write(b)
	})
	return f
}

func (f *Slack) Settings() map[string]string {
	return map[string]string{"bot_token": SlackToken, "signing_secret": SlackSigning}
}

// Event is an event_callback envelope shaped like the Events API's
// documented message.im example.
func (f *Slack) Event(eventID, typ, channelType, ts, text string) string {
	return fmt.Sprintf(`{"token":"XXYYZZ","team_id":"T061EG9R6","api_app_id":"A0PNCHHK2","event":{"type":%q,"channel":%q,"user":"U2147483697","text":%q,"ts":%q,"channel_type":%q,"event_ts":%q},"type":"event_callback","event_id":%q,"event_time":1355517523}`,
		typ, SlackDMChannel, text, ts, channelType, ts, eventID)
}

// Send posts body signed with secret at ts, with extra headers.
func (f *Slack) Send(t testing.TB, webhook, body string, ts time.Time, secret string, hdr map[string]string) (int, string) {
	tss := strconv.FormatInt(ts.Unix(), 10)
	h := map[string]string{"X-Slack-Request-Timestamp": tss, "X-Slack-Signature": slack.Sign(secret, tss, []byte(body))}
	for k, v := range hdr {
		h[k] = v
	}
	return post(t, webhook, "application/json", body, h)
}

func (f *Slack) Deliver(t testing.TB, webhook string, n int, text string, forged bool) int {
	sec := SlackSigning
	if forged {
		sec = "fedcba9876543210fedcba9876543210"
	}
	hdr := map[string]string{}
	if retry := f.tries.next(n); retry > 0 {
		hdr["X-Slack-Retry-Num"] = strconv.Itoa(retry)
		hdr["X-Slack-Retry-Reason"] = "http_timeout"
	}
	st, _ := f.Send(t, webhook, f.Event(fmt.Sprintf("Ev%d", n), "message", "im", fmt.Sprintf("1700000000.%06d", 100+n), text), f.Now(), sec, hdr)
	return st
}

func (f *Slack) Replies() []string {
	var out []string
	for _, p := range f.Sent.All() {
		if p.Channel == SlackDMChannel {
			out = append(out, p.Text)
		}
	}
	return out
}

// Reaction is a reaction_added or reaction_removed event_callback shaped
// like the Events API's documented example: user reacted with reaction to
// the message at ts in channel.
func (f *Slack) Reaction(eventID, typ, user, reaction, channel, ts string) string {
	return fmt.Sprintf(`{"token":"XXYYZZ","team_id":"T061EG9R6","api_app_id":"A0PNCHHK2","event":{"type":%q,"user":%q,"reaction":%q,"item_user":"U0BOT","item":{"type":"message","channel":%q,"ts":%q,"channel_type":"im"},"event_ts":"1700000900.000100"},"type":"event_callback","event_id":%q,"event_time":1700000900}`,
		typ, user, reaction, channel, ts, eventID)
}

func (f *Slack) Vote(t testing.TB, webhook string, n, i, rating int, remove, forged bool) int {
	return f.VoteAs(t, webhook, f.User(), n, i, rating, remove, forged)
}

// VoteAs adds (or removes) :thumbsup: or :-1: on reply i as user.
func (f *Slack) VoteAs(t testing.TB, webhook, user string, n, i, rating int, remove, forged bool) int {
	t.Helper()
	var sent []SlackPost
	for _, p := range f.Sent.All() {
		if p.Channel == SlackDMChannel {
			sent = append(sent, p)
		}
	}
	if i >= len(sent) {
		t.Fatalf("no reply %d to react to (%d sent)", i, len(sent))
	}
	typ, name := "reaction_added", "thumbsup"
	if remove {
		typ = "reaction_removed"
	}
	if rating < 0 {
		name = "-1"
	}
	sec := SlackSigning
	if forged {
		sec = "fedcba9876543210fedcba9876543210"
	}
	hdr := map[string]string{}
	if retry := f.tries.next(-n); retry > 0 {
		hdr["X-Slack-Retry-Num"] = strconv.Itoa(retry)
		hdr["X-Slack-Retry-Reason"] = "http_timeout"
	}
	st, _ := f.Send(t, webhook, f.Reaction(fmt.Sprintf("EvR%d", n), typ, user, name, SlackDMChannel, sent[i].TS), f.Now(), sec, hdr)
	return st
}
