package whatsapp_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"atoll/channels"
	"atoll/channels/channeltest"
	"atoll/channels/channeltest/fakes"
)

const (
	appSecret = fakes.WhatsAppAppSecret
	verify    = fakes.WhatsAppVerify
	phoneID   = fakes.WhatsAppPhoneID
)

func setup(t *testing.T, a *channeltest.Answerer) (*channeltest.Hub, *fakes.WhatsApp) {
	f := fakes.NewWhatsApp(t)
	h := channeltest.NewHub(t, channels.Options{Answerer: a})
	if _, err := h.D.Add(channels.Config{ID: "wa", Kind: channels.WhatsApp, Agent: "baker", APIBase: f.APIBase(), Settings: f.Settings()}); err != nil {
		t.Fatal(err)
	}
	return h, f
}

func TestWhatsAppScenario(t *testing.T) {
	a := &channeltest.Answerer{}
	h, f := setup(t, a)
	channeltest.Run(t, h, "wa", a, fakes.Scenario(f, h.URL("wa")))
	for _, c := range f.Sent.All() {
		if c["to"] != "16505551234" || c["messaging_product"] != "whatsapp" || c["type"] != "text" {
			t.Errorf("message %v", c)
		}
	}
}

func TestWhatsAppVerificationAndButtons(t *testing.T) {
	a := &channeltest.Answerer{Followups: []string{"Delivery?", "Vegan options?"}}
	h, f := setup(t, a)
	q := url.Values{"hub.mode": {"subscribe"}, "hub.challenge": {"1158201444"}, "hub.verify_token": {verify}}
	resp, _ := http.Get(h.URL("wa") + "?" + q.Encode())
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || string(b) != "1158201444" {
		t.Errorf("verification: %d %q", resp.StatusCode, b)
	}
	q.Set("hub.verify_token", "wrong")
	resp, _ = http.Get(h.URL("wa") + "?" + q.Encode())
	resp.Body.Close()
	if resp.StatusCode != 401 {
		t.Errorf("wrong verify token: %d", resp.StatusCode)
	}
	// A status update (no messages) and another number's message: nothing to answer.
	f.Post(t, h.URL("wa"), strings.Replace(f.Notification(7, "other number"), phoneID, "999", 1), appSecret)
	f.Post(t, h.URL("wa"), f.Notification(1, "**hi**"), appSecret)
	channeltest.WaitFor(t, "the reply", func() bool { return f.Sent.Len() == 1 })
	c, _ := json.Marshal(f.Sent.All()[0])
	if !strings.Contains(string(c), `"type":"interactive"`) || !strings.Contains(string(c), `"title":"Vegan options?"`) || !strings.Contains(string(c), `"text":"answer: *hi*"`) {
		t.Errorf("interactive message %s", c)
	}
	// The tapped button comes back as an interactive reply.
	tap := strings.Replace(f.Notification(2, ""), `"type":"text","text":{"body":""}`, `"type":"interactive","interactive":{"type":"button_reply","button_reply":{"id":"f2","title":"Vegan options?"}}`, 1)
	f.Post(t, h.URL("wa"), tap, appSecret)
	channeltest.WaitFor(t, "the second reply", func() bool { return f.Sent.Len() == 2 })
	qs := a.Questions()
	if len(qs) != 2 || qs[1].Text != "Vegan options?" {
		t.Errorf("questions %+v", qs)
	}
}

// TestWhatsAppVotes: 👍/👎 reaction messages on an answer are votes, the
// answer found by the wamid the messages endpoint returned; a reaction
// removed (no emoji) takes the vote back.
func TestWhatsAppVotes(t *testing.T) {
	a := &channeltest.VotingAnswerer{}
	f := fakes.NewWhatsApp(t)
	h := channeltest.NewHub(t, channels.Options{Answerer: a})
	if _, err := h.D.Add(channels.Config{ID: "wa1", Kind: channels.WhatsApp, Agent: "baker", APIBase: f.APIBase(), Settings: f.Settings()}); err != nil {
		t.Fatal(err)
	}
	channeltest.RunVotes(t, h, "wa1", a, fakes.VoteScenario(f, h.URL("wa1"), "16315550000"))
	if e := a.Votes()[0]; e.Message != fakes.WhatsAppSentID(1) || e.Rating != -1 {
		t.Errorf("the 👎 event %+v does not name the answer's wamid", e)
	}
	if e := a.Votes()[3]; e.Rating != 0 || e.Mode != channels.VoteSet {
		t.Errorf("a removed reaction is %+v, want a vote of 0", e)
	}
}
