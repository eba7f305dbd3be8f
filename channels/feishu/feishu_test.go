package feishu_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"atoll/channels"
	"atoll/channels/channeltest"
	"atoll/channels/channeltest/fakes"
)

const (
	vtoken = fakes.FeishuToken
	ekey   = fakes.FeishuEncryptKey
)

type env struct {
	h     *channeltest.Hub
	f     *fakes.Feishu
	a     *channeltest.Answerer
	clock *channeltest.Clock
}

func setup(t *testing.T, key string) *env {
	e := &env{f: fakes.NewFeishu(t, key), a: &channeltest.Answerer{}, clock: channeltest.NewClock(time.Now())}
	e.f.SetNow(e.clock.Now)
	e.h = channeltest.NewHub(t, channels.Options{Answerer: e.a, Now: e.clock.Now})
	if _, err := e.h.D.Add(channels.Config{ID: "fs", Kind: channels.Feishu, Agent: "baker", APIBase: e.f.APIBase(), Settings: e.f.Settings()}); err != nil {
		t.Fatal(err)
	}
	return e
}

func (e *env) post(t testing.TB, plain string, forged bool) (int, string) {
	return e.f.Post(t, e.h.URL("fs"), plain, forged)
}

func TestFeishuEncryptedScenario(t *testing.T) {
	e := setup(t, ekey)
	channeltest.Run(t, e.h, "fs", e.a, fakes.Scenario(e.f, e.h.URL("fs")))
	if n := e.f.Sent.Len(); n != len(e.f.Replies()) {
		t.Errorf("%d of %d replies went to other messages", n-len(e.f.Replies()), n)
	}
	if e.a.Questions()[0].Text != "question 1" || e.a.Questions()[0].UserKey != "feishu:ou_84aad35d084aa403a838cf73ee18467" {
		t.Errorf("question %+v", e.a.Questions()[0])
	}
}

func TestFeishuChallengeAndTokens(t *testing.T) {
	e := setup(t, ekey)
	// The URL check, encrypted like every event once an Encrypt Key is set.
	st, body := e.post(t, `{"challenge":"1b6aef1a-401f-406a-be41-f48911eabcef","token":"`+vtoken+`","type":"url_verification"}`, false)
	if st != 200 || body != `{"challenge":"1b6aef1a-401f-406a-be41-f48911eabcef"}` {
		t.Errorf("challenge: %d %s", st, body)
	}
	if st, _ := e.post(t, `{"challenge":"x","token":"other","type":"url_verification"}`, false); st != 401 {
		t.Errorf("challenge with another Verification Token: %d", st)
	}
	// An event encrypted with the key but with a wrong Verification Token.
	if st, _ := e.post(t, e.f.MessageEvent(5, "hi", "other"), false); st != 401 {
		t.Errorf("wrong Verification Token: %d", st)
	}
	// Unsigned and unencrypted, claiming the right token: refused.
	resp, _ := http.Post(e.h.URL("fs"), "application/json", strings.NewReader(e.f.MessageEvent(6, "hi", vtoken)))
	resp.Body.Close()
	if resp.StatusCode != 401 {
		t.Errorf("plaintext with an Encrypt Key set: %d", resp.StatusCode)
	}
	// Expired tenant token: refetched, reply sent once.
	e.post(t, e.f.MessageEvent(1, "one", vtoken), false)
	channeltest.WaitFor(t, "reply 1", func() bool { return e.f.Sent.Len() == 1 })
	e.f.Revoke()
	e.post(t, e.f.MessageEvent(2, "two", vtoken), false)
	channeltest.WaitFor(t, "reply 2", func() bool { return e.f.Sent.Len() == 2 })
	if e.f.Issued() != 2 || e.f.Sent.Len() != 2 {
		t.Errorf("issued %d, sent %d", e.f.Issued(), e.f.Sent.Len())
	}
	ch, _ := e.h.D.Get("fs")
	if ch.Status().TokenExpiry.IsZero() {
		t.Error("no token expiry in the status")
	}
}

func TestFeishuWithoutEncryptKeyChecksToken(t *testing.T) {
	e := setup(t, "")
	e.a.Followups = []string{"Prices?"}
	if st, _ := e.post(t, e.f.MessageEvent(1, "**hours**", vtoken), false); st != 200 {
		t.Fatal(st)
	}
	if st, _ := e.post(t, e.f.MessageEvent(2, "hi", "forged"), false); st != 401 {
		t.Errorf("forged token: %d", st)
	}
	channeltest.WaitFor(t, "the reply", func() bool { return e.f.Sent.Len() == 1 })
	md := e.f.Sent.All()[0].Markdown
	if !strings.Contains(md, "answer: **hours**") || !strings.Contains(md, "1. Prices?") {
		t.Errorf("card markdown %q", md)
	}
}

// TestFeishuVotes: THUMBSUP/ThumbsDown reactions on the bot's reply are
// votes, the reply found by the message_id the reply API returned; with
// an Encrypt Key (encrypted and signed) and without one (the Verification
// Token).
func TestFeishuVotes(t *testing.T) {
	for _, key := range []string{fakes.FeishuEncryptKey, ""} {
		t.Run("key="+key, func(t *testing.T) {
			a := &channeltest.VotingAnswerer{}
			f := fakes.NewFeishu(t, key)
			h := channeltest.NewHub(t, channels.Options{Answerer: a})
			if _, err := h.D.Add(channels.Config{ID: "fs1", Kind: channels.Feishu, Agent: "baker", APIBase: f.APIBase(), Settings: f.Settings()}); err != nil {
				t.Fatal(err)
			}
			channeltest.RunVotes(t, h, "fs1", a, fakes.VoteScenario(f, h.URL("fs1"), "ou_other"))
			if e := a.Votes()[0]; e.Message != f.Sent.All()[0].SentID || e.Rating != -1 || e.Mode != channels.VoteSet {
				t.Errorf("the ThumbsDown event %+v does not name the reply's message_id", e)
			}
			if e := a.Votes()[3]; e.Mode != channels.VoteRemove || e.Rating != 1 {
				t.Errorf("a deleted THUMBSUP is %+v, want VoteRemove of 1", e)
			}
		})
	}
}
