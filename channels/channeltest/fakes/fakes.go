// Package fakes holds one fake platform per channel kind: the send API (and
// token API) as a test server that checks what it is sent the way the
// platform documents it, and the callback side that signs (and, where the
// platform does, encrypts) messages as the platform sends them. The
// adapters' own tests and the hub's end-to-end tests use the same fakes.
package fakes

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"atoll/channels"
	"atoll/channels/channeltest"
)

// Platform is what every fake offers a kind-independent test.
type Platform interface {
	Kind() channels.Kind
	// APIBase is the fake's origin, for the channel's api_base.
	APIBase() string
	// Settings configure a channel that this fake accepts.
	Settings() map[string]string
	// Deliver sends message n with text to webhook as the platform does:
	// signed (encrypted where the channel is), or with a wrong signature
	// when forged. Delivering the same n again is the platform's retry
	// (marked where the platform marks retries). It returns the status.
	Deliver(t testing.TB, webhook string, n int, text string, forged bool) int
	// Replies are the texts the send API received for the fake's user, in
	// order.
	Replies() []string
	// User is the platform's ID of the end user the fake writes as.
	User() string
	// Pull: see channeltest.Platform.
	Pull() bool
}

// New starts the fake of kind with its default (encrypted, where the
// platform has it) settings; it is closed by t.Cleanup.
func New(t testing.TB, kind channels.Kind) Platform {
	t.Helper()
	switch kind {
	case channels.WeChatOA:
		return NewWeChatOA(t, true)
	case channels.WeComKF:
		return NewWeComKF(t)
	case channels.Feishu:
		return NewFeishu(t, FeishuEncryptKey)
	case channels.DingTalk:
		return NewDingTalk(t)
	case channels.Telegram:
		return NewTelegram(t)
	case channels.Slack:
		return NewSlack(t)
	case channels.WhatsApp:
		return NewWhatsApp(t)
	}
	t.Fatalf("no fake platform for kind %q", kind)
	return nil
}

// Scenario adapts p, reached at webhook, to channeltest.Run.
func Scenario(p Platform, webhook string) channeltest.Platform {
	f, _ := channels.Lookup(p.Kind())
	return channeltest.Platform{
		Ack:  f.Ack,
		Pull: p.Pull(),
		Deliver: func(t testing.TB, n int, forged bool) int {
			return p.Deliver(t, webhook, n, channeltest.Question(n), forged)
		},
		Replies: p.Replies,
	}
}

// do sends req and returns the status and body.
func do(t testing.TB, req *http.Request) (int, string) {
	t.Helper()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	return resp.StatusCode, string(b)
}

func post(t testing.TB, url, contentType, body string, hdr map[string]string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	return do(t, req)
}

// clock is a fake's time source for the timestamps it signs.
type clock struct {
	cmu sync.Mutex
	now func() time.Time
}

// SetNow makes the fake sign with now's time (a test's clock).
func (c *clock) SetNow(now func() time.Time) {
	c.cmu.Lock()
	c.now = now
	c.cmu.Unlock()
}

func (c *clock) Now() time.Time {
	c.cmu.Lock()
	defer c.cmu.Unlock()
	if c.now == nil {
		return time.Now()
	}
	return c.now()
}

// seen counts deliveries per message number (a repeat is a retry).
type seen struct {
	mu sync.Mutex
	n  map[int]int
}

// next records one delivery of n and returns how many came before it.
func (s *seen) next(n int) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.n == nil {
		s.n = map[int]int{}
	}
	s.n[n]++
	return s.n[n] - 1
}

// platform is what every fake answers the same way.
type platform struct {
	Srv  *httptest.Server // the send API
	kind channels.Kind
	user string
	pull bool
}

func (p *platform) Kind() channels.Kind { return p.kind }
func (p *platform) APIBase() string     { return p.Srv.URL }
func (p *platform) User() string        { return p.user }
func (p *platform) Pull() bool          { return p.pull }

// serve starts the send API with h, closed by t.Cleanup.
func (p *platform) serve(t testing.TB, h http.HandlerFunc) {
	p.Srv = httptest.NewServer(h)
	t.Cleanup(p.Srv.Close)
}

// tokens is a fake's access-token state; its mutex also guards the rest
// of the fake's state.
type tokens struct {
	mu     sync.Mutex
	issued int
	valid  string
}

// issue hands out a new token (mu held).
func (k *tokens) issue(prefix string) string {
	k.issued++
	k.valid = prefix + strconv.Itoa(k.issued)
	return k.valid
}

// Issued is how many access tokens the fake has handed out.
func (k *tokens) Issued() int {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.issued
}

// Revoke makes the fake refuse its current token (another server fetched
// a new one, or it expired early).
func (k *tokens) Revoke() {
	k.mu.Lock()
	k.valid = "revoked"
	k.mu.Unlock()
}

// wxText is the text of a WeChat or WeCom customer-service message: its
// text content, or a menu's head_content.
func wxText(m map[string]any) (string, bool) {
	if t, ok := m["text"].(map[string]any); ok {
		s, _ := t["content"].(string)
		return s, true
	}
	if mm, ok := m["msgmenu"].(map[string]any); ok {
		s, _ := mm["head_content"].(string)
		return s, true
	}
	return "", false
}

// send answers a WeChat-style send call (token in the query): refused
// for a token the fake no longer honours, else the JSON body recorded in
// calls and ok (mu held).
func (k *tokens) send(w http.ResponseWriter, r *http.Request, calls *channeltest.Calls[map[string]any], refused, ok string) {
	if r.URL.Query().Get("access_token") != k.valid {
		fmt.Fprint(w, refused)
		return
	}
	var m map[string]any
	json.NewDecoder(r.Body).Decode(&m)
	calls.Add(m)
	fmt.Fprint(w, ok)
}

// Voting is a fake of a platform where an end user votes on an answer
// natively (a button under it or a reaction to it).
type Voting interface {
	Platform
	// Vote sends event n (the same n again is the platform's retry) in
	// which the fake's user votes rating (1 or -1) on reply i (an index
	// into Replies), or takes that vote back when remove is set, signed
	// (or forged). It returns the webhook's status.
	Vote(t testing.TB, webhook string, n, i, rating int, remove, forged bool) int
	// VoteAs is Vote by another user of the platform (in a group chat
	// or channel where others see the answer).
	VoteAs(t testing.TB, webhook, user string, n, i, rating int, remove, forged bool) int
}

// VoteScenario adapts p, reached at webhook, to channeltest.RunVotes; other
// votes as the user "other".
func VoteScenario(p Voting, webhook, other string) channeltest.VotePlatform {
	return channeltest.VotePlatform{Platform: Scenario(p, webhook),
		Vote: func(t testing.TB, n, i, rating int, remove, o, forged bool) int {
			if o {
				return p.VoteAs(t, webhook, other, n, i, rating, remove, forged)
			}
			return p.Vote(t, webhook, n, i, rating, remove, forged)
		}}
}
