package fakes

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"testing"
	"time"

	"atoll/channels"
	"atoll/channels/channeltest"
	"atoll/channels/dingtalk"
)

// DingTalkSecret is the fake robot's app secret.
const DingTalkSecret = "dingtalk-app-secret-xyz"

// DingTalkSent is one message posted to a sessionWebhook.
type DingTalkSent struct {
	Session string
	Text    string
}

// DingTalk is the robot's sessionWebhook: POST with a markdown message,
// {"errcode":0,"errmsg":"ok"}. Callbacks are signed in the timestamp and
// sign headers (HMAC-SHA256 of "timestamp\nsecret", base64).
type DingTalk struct {
	clock
	platform
	Sent channeltest.Calls[DingTalkSent]
}

// NewDingTalk starts the fake.
func NewDingTalk(t testing.TB) *DingTalk {
	f := &DingTalk{platform: platform{kind: channels.DingTalk, user: "user123", pull: false}}
	f.serve(t, func(w http.ResponseWriter, r *http.Request) {
		var in struct {
			MsgType  string            `json:"msgtype"`
			Markdown map[string]string `json:"markdown"`
		}
		json.NewDecoder(r.Body).Decode(&in)
		if r.URL.Path != "/robot/sendBySession" || in.MsgType != "markdown" || in.Markdown["title"] == "" {
			fmt.Fprint(w, `{"errcode":400,"errmsg":"bad request"}`)
			return
		}
		f.Sent.Add(DingTalkSent{Session: r.URL.Query().Get("session"), Text: in.Markdown["text"]})
		fmt.Fprint(w, `{"errcode":0,"errmsg":"ok"}`)
	})
	return f
}

func (f *DingTalk) Settings() map[string]string {
	return map[string]string{"app_secret": DingTalkSecret}
}

// Body is the robot callback's documented HTTP BODY; message n answers in
// session "sN".
func (f *DingTalk) Body(n int, text string) string {
	return fmt.Sprintf(`{"conversationId":"cid123","atUsers":[{"dingtalkId":"xxx","staffId":"xxx"}],"chatbotCorpId":"dinge8a565xxxx","chatbotUserId":"$:LWCP_v1:$Cxxxxx","msgId":"msg0xxxxx%d","senderNick":"杨xx","isAdmin":true,"senderStaffId":"user123","sessionWebhookExpiredTime":1613635652738,"createAt":1613630252678,"senderCorpId":"dinge8a565xxxx","conversationType":"2","senderId":"$:LWCP_v1:$Ff09GIxxxxx","conversationTitle":"机器人测试-TEST","isInAtList":true,"sessionWebhook":"https://oapi.dingtalk.com/robot/sendBySession?session=s%d","text":{"content":%q},"msgtype":"text"}`, n, n, text)
}

// Post delivers body signed with key at ts.
func (f *DingTalk) Post(t testing.TB, webhook, body string, ts time.Time, key string) int {
	tss := strconv.FormatInt(ts.UnixMilli(), 10)
	st, _ := post(t, webhook, "application/json", body, map[string]string{"timestamp": tss, "sign": dingtalk.Sign(key, tss)})
	return st
}

func (f *DingTalk) Deliver(t testing.TB, webhook string, n int, text string, forged bool) int {
	k := DingTalkSecret
	if forged {
		k = "other"
	}
	// The robot gets the text as typed after the @mention: a leading space.
	return f.Post(t, webhook, f.Body(n, " "+text), f.Now(), k)
}

// Replies are every text posted to a session (each session is this
// fake's user's).
func (f *DingTalk) Replies() []string {
	var out []string
	for _, c := range f.Sent.All() {
		out = append(out, c.Text)
	}
	return out
}
