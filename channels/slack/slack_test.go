package slack_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"atoll/channels"
	"atoll/channels/channeltest"
	"atoll/channels/slack"
)

// The worked example of "Verifying requests from Slack"
// (https://api.slack.com/authentication/verifying-requests-from-slack):
// its signing secret, timestamp, slash-command body and the signature the
// page says they give.
func TestSignMatchesSlackDocsExample(t *testing.T) {
	const (
		secret = "8f742231b10e8888abcd99yyyzzz85a5"
		ts     = "1531420618"
		body   = "token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&channel_id=G8PSS9T3V&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&command=%2Fwebhook-collect&text=&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN&trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c"
		want   = "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503"
	)
	if got := slack.Sign(secret, ts, []byte(body)); got != want {
		t.Fatalf("Sign = %s, want the docs' %s", got, want)
	}
	h := http.Header{"X-Slack-Request-Timestamp": {ts}, "X-Slack-Signature": {want}}
	if err := slack.Verify(secret, h, []byte(body), time.Unix(1531420618+60, 0)); err != nil {
		t.Errorf("a minute later: %v", err)
	}
	if err := slack.Verify(secret, h, []byte(body), time.Unix(1531420618+6*60, 0)); err == nil {
		t.Error("six minutes later the request was still accepted (replay window)")
	}
}

const (
	signing = "0123456789abcdef0123456789abcdef"
	token   = "xoxb-1-2-abc"
)

type post struct {
	Channel  string `json:"channel"`
	Text     string `json:"text"`
	ThreadTS string `json:"thread_ts"`
}

// fakeSlack is chat.postMessage as documented: Bearer token, JSON body,
// {"ok":true} or {"ok":false,"error":"invalid_auth"} with HTTP 200.
func fakeSlack(t *testing.T) (*httptest.Server, *channeltest.Calls[post]) {
	calls := &channeltest.Calls[post]{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/api/chat.postMessage" || r.Header.Get("Authorization") != "Bearer "+token {
			fmt.Fprint(w, `{"ok":false,"error":"invalid_auth"}`)
			return
		}
		var p post
		json.NewDecoder(r.Body).Decode(&p)
		calls.Add(p)
		fmt.Fprint(w, `{"ok":true,"channel":"D1","ts":"1.2"}`)
	}))
	t.Cleanup(srv.Close)
	return srv, calls
}

func setup(t *testing.T, a *channeltest.Answerer) (*channeltest.Hub, *channeltest.Calls[post]) {
	api, calls := fakeSlack(t)
	h := channeltest.NewHub(t, channels.Options{Answerer: a})
	if _, err := h.D.Add(channels.Config{ID: "sl1", Kind: channels.Slack, Agent: "baker", APIBase: api.URL,
		Settings: map[string]string{"bot_token": token, "signing_secret": signing}}); err != nil {
		t.Fatal(err)
	}
	return h, calls
}

func send(t testing.TB, h *channeltest.Hub, body string, ts time.Time, secret string, hdr map[string]string) (int, string) {
	req, _ := http.NewRequest(http.MethodPost, h.URL("sl1"), strings.NewReader(body))
	tss := strconv.FormatInt(ts.Unix(), 10)
	req.Header.Set("X-Slack-Request-Timestamp", tss)
	req.Header.Set("X-Slack-Signature", slack.Sign(secret, tss, []byte(body)))
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// event is an event_callback envelope shaped like the Events API's
// documented message.im example.
func event(eventID, typ, channelType, ts, text string) string {
	return fmt.Sprintf(`{"token":"XXYYZZ","team_id":"T061EG9R6","api_app_id":"A0PNCHHK2","event":{"type":%q,"channel":"D024BE91L","user":"U2147483697","text":%q,"ts":%q,"channel_type":%q,"event_ts":%q},"type":"event_callback","event_id":%q,"event_time":1355517523}`,
		typ, text, ts, channelType, ts, eventID)
}

func TestSlackURLVerification(t *testing.T) {
	h, _ := setup(t, &channeltest.Answerer{})
	body := `{"token":"Jhj5dZrVaK7ZwHHjRyZWjbDl","challenge":"3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P","type":"url_verification"}`
	st, got := send(t, h, body, time.Now(), signing, nil)
	if st != 200 || got != `{"challenge":"3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P"}` {
		t.Errorf("handshake: %d %s", st, got)
	}
	if st, _ := send(t, h, body, time.Now(), "wrong", nil); st != 401 {
		t.Errorf("unsigned handshake: %d, want 401", st)
	}
}

func TestSlackScenario(t *testing.T) {
	a := &channeltest.Answerer{}
	h, calls := setup(t, a)
	f, _ := channels.Lookup(channels.Slack)
	retries := 0
	channeltest.Run(t, h, "sl1", a, channeltest.Platform{
		Ack: f.Ack,
		Deliver: func(t testing.TB, n int, forged bool) int {
			sec := signing
			if forged {
				sec = "fedcba9876543210fedcba9876543210"
			}
			hdr := map[string]string{}
			if n == 1 {
				// Slack marks its retries; the second delivery of 1 is one.
				if retries > 0 {
					hdr["X-Slack-Retry-Num"] = strconv.Itoa(retries)
					hdr["X-Slack-Retry-Reason"] = "http_timeout"
				}
				retries++
			}
			st, _ := send(t, h, event(fmt.Sprintf("Ev%d", n), "message", "im", fmt.Sprintf("1700000000.00010%d", n), channeltest.Question(n)), time.Now(), sec, hdr)
			return st
		},
		Replies: func() []string {
			var out []string
			for _, p := range calls.All() {
				if p.Channel != "D024BE91L" || p.ThreadTS != "" {
					t.Errorf("postMessage %+v: want the DM channel, not a thread", p)
				}
				out = append(out, p.Text)
			}
			return out
		},
	})
}

func TestSlackStaleTimestampRefused(t *testing.T) {
	a := &channeltest.Answerer{}
	h, calls := setup(t, a)
	st, _ := send(t, h, event("Ev1", "message", "im", "1.1", "hello"), time.Now().Add(-10*time.Minute), signing, nil)
	if st != 401 {
		t.Fatalf("a 10-minute-old request: %d, want 401", st)
	}
	ch, _ := h.D.Get("sl1")
	if ch.Status().Received != 0 || calls.Len() != 0 || len(a.Questions()) != 0 {
		t.Error("a replayed request was taken")
	}
}

func TestSlackMentionAnsweredOnceInThread(t *testing.T) {
	a := &channeltest.Answerer{Followups: []string{"Opening hours?"}}
	h, calls := setup(t, a)
	// One channel message mentioning the bot arrives as two events.
	msg := strings.Replace(event("Ev1", "message", "channel", "1700000001.000200", "<@U0LAN0Z89> is it gluten free?"), "D024BE91L", "C024BE91L", 1)
	men := strings.Replace(event("Ev2", "app_mention", "channel", "1700000001.000200", "<@U0LAN0Z89> is it gluten free?"), "D024BE91L", "C024BE91L", 1)
	for _, b := range []string{msg, men} {
		if st, _ := send(t, h, b, time.Now(), signing, nil); st != 200 {
			t.Fatal(st)
		}
	}
	// The bot's own post must not be answered.
	own := strings.Replace(event("Ev3", "message", "channel", "1700000001.000300", "answer"), `"user":"U2147483697",`, `"bot_id":"B1",`, 1)
	send(t, h, own, time.Now(), signing, nil)
	ch, _ := h.D.Get("sl1")
	channeltest.WaitFor(t, "the answer", func() bool { return ch.Status().Answered == 1 })
	p := calls.All()
	if len(p) != 1 || p[0].ThreadTS != "1700000001.000200" || p[0].Channel != "C024BE91L" {
		t.Fatalf("posts = %+v, want one reply in the message's thread", p)
	}
	if a.Questions()[0].Text != "is it gluten free?" {
		t.Errorf("question %q still has the mention", a.Questions()[0].Text)
	}
	if !strings.Contains(p[0].Text, "1. Opening hours?") {
		t.Errorf("follow-ups not numbered: %q", p[0].Text)
	}
	if ch.Status().Duplicates != 1 {
		t.Errorf("duplicates = %d", ch.Status().Duplicates)
	}
}
