package wecomkf_test

import (
	"io"
	"net/http"
	"net/url"
	"testing"

	"atoll/channels"
	"atoll/channels/channeltest"
	"atoll/channels/channeltest/fakes"
	"atoll/channels/crypto"
)

const (
	corpID = fakes.KFCorpID
	token  = fakes.KFToken
	aesKey = fakes.KFAESKey
	user   = fakes.KFUser
)

func setup(t *testing.T, a *channeltest.Answerer) (*channeltest.Hub, *fakes.WeComKF) {
	f := fakes.NewWeComKF(t)
	h := channeltest.NewHub(t, channels.Options{Answerer: a})
	if _, err := h.D.Add(channels.Config{ID: "kf", Kind: channels.WeComKF, Agent: "baker", APIBase: f.APIBase(), Settings: f.Settings()}); err != nil {
		t.Fatal(err)
	}
	return h, f
}

func TestWeComKFScenario(t *testing.T) {
	a := &channeltest.Answerer{}
	h, f := setup(t, a)
	channeltest.Run(t, h, "kf", a, fakes.Scenario(f, h.URL("kf")))
	if c := f.Cursors(); c[0] != "" || c[len(c)-1] == "" {
		t.Errorf("cursors %q: the first sync has none, later ones continue from the last", c)
	}
}

func TestWeComKFURLCheckReplayAndToken(t *testing.T) {
	a := &channeltest.Answerer{Followups: []string{"营业时间?"}}
	h, f := setup(t, a)
	// The URL check: echostr is encrypted; the plaintext goes back.
	wx, _ := crypto.NewWeChat(aesKey, corpID)
	echo := wx.Encrypt([]byte("1616140317555161061"))
	ts, nonce := "1409659589", "263014780"
	q := url.Values{"msg_signature": {crypto.WeChatSignature(token, ts, nonce, echo)}, "timestamp": {ts}, "nonce": {nonce}, "echostr": {echo}}
	resp, _ := http.Get(h.URL("kf") + "?" + q.Encode())
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || string(b) != "1616140317555161061" {
		t.Errorf("URL check: %d %q", resp.StatusCode, b)
	}
	q.Set("msg_signature", crypto.WeChatSignature("forged", ts, nonce, echo))
	resp, _ = http.Get(h.URL("kf") + "?" + q.Encode())
	resp.Body.Close()
	if resp.StatusCode != 401 {
		t.Errorf("forged URL check: %d", resp.StatusCode)
	}
	f.Add("m1", "hello")
	f.Notify(t, h.URL("kf"), false)
	channeltest.WaitFor(t, "reply 1", func() bool { return f.Sent.Len() == 1 })
	m := f.Sent.All()[0]
	if m["msgtype"] != "msgmenu" {
		t.Errorf("follow-ups not sent as a menu: %v", m)
	}
	// The platform serves m1 again (its cursor ignored) and the token is
	// revoked: a new token, m2 answered, m1 not again.
	f.ReplayAndRevoke()
	f.Add("m2", "again")
	f.Notify(t, h.URL("kf"), false)
	channeltest.WaitFor(t, "reply 2", func() bool { return f.Sent.Len() == 2 })
	ch, _ := h.D.Get("kf")
	channeltest.WaitFor(t, "the count", func() bool { return ch.Status().Answered == 2 })
	if st := ch.Status(); st.Duplicates != 1 || f.Issued() != 2 {
		t.Errorf("duplicates %d, tokens issued %d", st.Duplicates, f.Issued())
	}
	if qs := a.Questions(); len(qs) != 2 || qs[1].UserKey != "wecom-kf:"+user {
		t.Errorf("questions %+v", qs)
	}
}
