package dingtalk_test

import (
	"strings"
	"testing"
	"time"

	"atoll/channels"
	"atoll/channels/channeltest"
	"atoll/channels/channeltest/fakes"
)

const secret = fakes.DingTalkSecret

func TestDingTalkScenario(t *testing.T) {
	f := fakes.NewDingTalk(t)
	a := &channeltest.Answerer{}
	h := channeltest.NewHub(t, channels.Options{Answerer: a})
	if _, err := h.D.Add(channels.Config{ID: "dt", Kind: channels.DingTalk, Agent: "baker", APIBase: f.APIBase(), Settings: f.Settings()}); err != nil {
		t.Fatal(err)
	}
	channeltest.Run(t, h, "dt", a, fakes.Scenario(f, h.URL("dt")))
	for i, c := range f.Sent.All() {
		if want := []string{"s1", "s3"}[min(i, 1)]; c.Session != want {
			t.Errorf("reply %d went to session %q, want %q", i, c.Session, want)
		}
	}
	if a.Questions()[0].UserKey != "dingtalk:user123" {
		t.Errorf("user key %q", a.Questions()[0].UserKey)
	}
	// More than an hour off: refused.
	if st := f.Post(t, h.URL("dt"), f.Body(9, "late"), time.Now().Add(-61*time.Minute), secret); st != 401 {
		t.Errorf("stale timestamp: %d", st)
	}
	// A test message has no session to answer in: a clear error.
	if err := h.D.SendTest(t.Context(), "dt", "user123", "hi"); err == nil || !strings.Contains(err.Error(), "send the robot a message") {
		t.Errorf("SendTest: %v", err)
	}
}

func TestDingTalkQuickRepliesAndForeignWebhook(t *testing.T) {
	f := fakes.NewDingTalk(t)
	a := &channeltest.Answerer{Followups: []string{"送货吗?"}}
	h := channeltest.NewHub(t, channels.Options{Answerer: a})
	h.D.Add(channels.Config{ID: "dt", Kind: channels.DingTalk, Agent: "baker", APIBase: f.APIBase(), Settings: f.Settings()})
	f.Post(t, h.URL("dt"), f.Body(1, "hi"), time.Now(), secret)
	channeltest.WaitFor(t, "the reply", func() bool { return f.Sent.Len() == 1 })
	if txt := f.Sent.All()[0].Text; !strings.Contains(txt, "[送货吗?](dtmd://dingtalkclient/sendMessage?content=%E9%80%81%E8%B4%A7%E5%90%97%3F)") {
		t.Errorf("no dtmd quick reply in %q", txt)
	}
	// Without api_base the adapter only posts to DingTalk's own hosts,
	// whatever a (signed) callback names.
	h2 := channeltest.NewHub(t, channels.Options{Answerer: a})
	ch, _ := h2.D.Add(channels.Config{ID: "dt2", Kind: channels.DingTalk, Agent: "baker", Settings: map[string]string{"app_secret": secret}})
	err := ch.Adapter().Send(t.Context(), channels.Message{ReplyURL: "https://evil.example/robot/sendBySession?session=1"}, channels.Reply{Text: "x"})
	if err == nil || !strings.Contains(err.Error(), "not DingTalk") {
		t.Errorf("foreign sessionWebhook: %v", err)
	}
}
