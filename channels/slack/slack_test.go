package slack_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"atoll/channels"
	"atoll/channels/channeltest"
	"atoll/channels/channeltest/fakes"
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

const signing = fakes.SlackSigning

func setup(t *testing.T, a *channeltest.Answerer) (*channeltest.Hub, *fakes.Slack) {
	f := fakes.NewSlack(t)
	h := channeltest.NewHub(t, channels.Options{Answerer: a})
	if _, err := h.D.Add(channels.Config{ID: "sl1", Kind: channels.Slack, Agent: "baker", APIBase: f.APIBase(), Settings: f.Settings()}); err != nil {
		t.Fatal(err)
	}
	return h, f
}

func TestSlackURLVerification(t *testing.T) {
	h, f := setup(t, &channeltest.Answerer{})
	body := `{"token":"Jhj5dZrVaK7ZwHHjRyZWjbDl","challenge":"3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P","type":"url_verification"}`
	st, got := f.Send(t, h.URL("sl1"), body, time.Now(), signing, nil)
	if st != 200 || got != `{"challenge":"3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P"}` {
		t.Errorf("handshake: %d %s", st, got)
	}
	if st, _ := f.Send(t, h.URL("sl1"), body, time.Now(), "wrong", nil); st != 401 {
		t.Errorf("unsigned handshake: %d, want 401", st)
	}
}

func TestSlackScenario(t *testing.T) {
	a := &channeltest.Answerer{}
	h, f := setup(t, a)
	channeltest.Run(t, h, "sl1", a, fakes.Scenario(f, h.URL("sl1")))
	for _, p := range f.Sent.All() {
		if p.Channel != "D024BE91L" || p.ThreadTS != "" {
			t.Errorf("postMessage %+v: want the DM channel, not a thread", p)
		}
	}
}

func TestSlackStaleTimestampRefused(t *testing.T) {
	a := &channeltest.Answerer{}
	h, f := setup(t, a)
	st, _ := f.Send(t, h.URL("sl1"), f.Event("Ev1", "message", "im", "1.1", "hello"), time.Now().Add(-10*time.Minute), signing, nil)
	if st != 401 {
		t.Fatalf("a 10-minute-old request: %d, want 401", st)
	}
	ch, _ := h.D.Get("sl1")
	if ch.Status().Received != 0 || f.Sent.Len() != 0 || len(a.Questions()) != 0 {
		t.Error("a replayed request was taken")
	}
}

func TestSlackMentionAnsweredOnceInThread(t *testing.T) {
	a := &channeltest.Answerer{Followups: []string{"Opening hours?"}}
	h, f := setup(t, a)
	// One channel message mentioning the bot arrives as two events.
	msg := strings.Replace(f.Event("Ev1", "message", "channel", "1700000001.000200", "<@U0LAN0Z89> is it gluten free?"), "D024BE91L", "C024BE91L", 1)
	men := strings.Replace(f.Event("Ev2", "app_mention", "channel", "1700000001.000200", "<@U0LAN0Z89> is it gluten free?"), "D024BE91L", "C024BE91L", 1)
	for _, b := range []string{msg, men} {
		if st, _ := f.Send(t, h.URL("sl1"), b, time.Now(), signing, nil); st != 200 {
			t.Fatal(st)
		}
	}
	// The bot's own post must not be answered.
	own := strings.Replace(f.Event("Ev3", "message", "channel", "1700000001.000300", "answer"), `"user":"U2147483697",`, `"bot_id":"B1",`, 1)
	f.Send(t, h.URL("sl1"), own, time.Now(), signing, nil)
	ch, _ := h.D.Get("sl1")
	channeltest.WaitFor(t, "the answer", func() bool { return ch.Status().Answered == 1 })
	p := f.Sent.All()
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

// TestSlackVotes: 👍/👎 reactions on the bot's answer are votes, the
// answer found by the channel and ts chat.postMessage returned.
func TestSlackVotes(t *testing.T) {
	a := &channeltest.VotingAnswerer{}
	f := fakes.NewSlack(t)
	h := channeltest.NewHub(t, channels.Options{Answerer: a})
	if _, err := h.D.Add(channels.Config{ID: "sl1", Kind: channels.Slack, Agent: "baker", APIBase: f.APIBase(), Settings: f.Settings()}); err != nil {
		t.Fatal(err)
	}
	channeltest.RunVotes(t, h, "sl1", a, fakes.VoteScenario(f, h.URL("sl1"), "U0OTHER"))
	if e := a.Votes()[0]; e.Message != fakes.SlackDMChannel+"/"+f.Sent.All()[0].TS || e.Mode != channels.VoteSet || e.Rating != -1 {
		t.Errorf("the 👎 event %+v does not name the answer's channel and ts", e)
	}
	if e := a.Votes()[3]; e.Mode != channels.VoteRemove || e.Rating != 1 {
		t.Errorf("reaction_removed of 👍 is %+v, want VoteRemove of 1", e)
	}
}
