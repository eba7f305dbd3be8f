package dingtalk_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"atoll/channels"
	"atoll/channels/channeltest"
	"atoll/channels/dingtalk"
)

const secret = "dingtalk-app-secret-xyz"

type sent struct {
	Session string
	Text    string
}

// fakeSession is the sessionWebhook: POST with a markdown message,
// {"errcode":0,"errmsg":"ok"}.
func fakeSession(t *testing.T) (*httptest.Server, *channeltest.Calls[sent]) {
	calls := &channeltest.Calls[sent]{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var in struct {
			MsgType  string            `json:"msgtype"`
			Markdown map[string]string `json:"markdown"`
		}
		json.NewDecoder(r.Body).Decode(&in)
		if r.URL.Path != "/robot/sendBySession" || in.MsgType != "markdown" || in.Markdown["title"] == "" {
			fmt.Fprint(w, `{"errcode":400,"errmsg":"bad request"}`)
			return
		}
		calls.Add(sent{Session: r.URL.Query().Get("session"), Text: in.Markdown["text"]})
		fmt.Fprint(w, `{"errcode":0,"errmsg":"ok"}`)
	}))
	t.Cleanup(srv.Close)
	return srv, calls
}

// body is the robot callback's documented HTTP BODY.
func body(n int, text string) string {
	return fmt.Sprintf(`{"conversationId":"cid123","atUsers":[{"dingtalkId":"xxx","staffId":"xxx"}],"chatbotCorpId":"dinge8a565xxxx","chatbotUserId":"$:LWCP_v1:$Cxxxxx","msgId":"msg0xxxxx%d","senderNick":"杨xx","isAdmin":true,"senderStaffId":"user123","sessionWebhookExpiredTime":1613635652738,"createAt":1613630252678,"senderCorpId":"dinge8a565xxxx","conversationType":"2","senderId":"$:LWCP_v1:$Ff09GIxxxxx","conversationTitle":"机器人测试-TEST","isInAtList":true,"sessionWebhook":"https://oapi.dingtalk.com/robot/sendBySession?session=s%d","text":{"content":%q},"msgtype":"text"}`, n, n, text)
}

func deliver(t testing.TB, url string, b string, ts time.Time, key string) int {
	req, _ := http.NewRequest(http.MethodPost, url, strings.NewReader(b))
	tss := strconv.FormatInt(ts.UnixMilli(), 10)
	req.Header.Set("timestamp", tss)
	req.Header.Set("sign", dingtalk.Sign(key, tss))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

func TestDingTalkScenario(t *testing.T) {
	api, calls := fakeSession(t)
	a := &channeltest.Answerer{}
	h := channeltest.NewHub(t, channels.Options{Answerer: a})
	if _, err := h.D.Add(channels.Config{ID: "dt", Kind: channels.DingTalk, Agent: "baker", APIBase: api.URL, Settings: map[string]string{"app_secret": secret}}); err != nil {
		t.Fatal(err)
	}
	f, _ := channels.Lookup(channels.DingTalk)
	channeltest.Run(t, h, "dt", a, channeltest.Platform{
		Ack: f.Ack,
		Deliver: func(t testing.TB, n int, forged bool) int {
			k := secret
			if forged {
				k = "other"
			}
			return deliver(t, h.URL("dt"), body(n, " "+channeltest.Question(n)), time.Now(), k)
		},
		Replies: func() []string {
			var out []string
			for i, c := range calls.All() {
				if want := []string{"s1", "s3"}[min(i, 1)]; c.Session != want {
					t.Errorf("reply %d went to session %q, want %q", i, c.Session, want)
				}
				out = append(out, c.Text)
			}
			return out
		},
	})
	if a.Questions()[0].UserKey != "dingtalk:user123" {
		t.Errorf("user key %q", a.Questions()[0].UserKey)
	}
	// More than an hour off: refused.
	if st := deliver(t, h.URL("dt"), body(9, "late"), time.Now().Add(-61*time.Minute), secret); st != 401 {
		t.Errorf("stale timestamp: %d", st)
	}
	// A test message has no session to answer in: a clear error.
	if err := h.D.SendTest(t.Context(), "dt", "user123", "hi"); err == nil || !strings.Contains(err.Error(), "send the robot a message") {
		t.Errorf("SendTest: %v", err)
	}
}

func TestDingTalkQuickRepliesAndForeignWebhook(t *testing.T) {
	api, calls := fakeSession(t)
	a := &channeltest.Answerer{Followups: []string{"送货吗?"}}
	h := channeltest.NewHub(t, channels.Options{Answerer: a})
	h.D.Add(channels.Config{ID: "dt", Kind: channels.DingTalk, Agent: "baker", APIBase: api.URL, Settings: map[string]string{"app_secret": secret}})
	deliver(t, h.URL("dt"), body(1, "hi"), time.Now(), secret)
	channeltest.WaitFor(t, "the reply", func() bool { return calls.Len() == 1 })
	if txt := calls.All()[0].Text; !strings.Contains(txt, "[送货吗?](dtmd://dingtalkclient/sendMessage?content=%E9%80%81%E8%B4%A7%E5%90%97%3F)") {
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
