// Package channeltest holds what the channel tests share: a scripted
// answerer, a fake clock, condition waits, and a hub-side server that
// mounts a dispatcher the way the hub does.
package channeltest

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"testing"
	"time"

	"atoll/channels"
)

// Answerer answers "answer: QUESTION" and records each question. With
// Gate set, every answer waits until the gate is closed (a slow model).
type Answerer struct {
	Gate      chan struct{}
	Followups []string
	Sources   []channels.Source

	mu sync.Mutex
	qs []channels.Question
}

// Answer implements channels.Answerer.
func (a *Answerer) Answer(ctx context.Context, q channels.Question) (channels.Reply, error) {
	a.mu.Lock()
	a.qs = append(a.qs, q)
	a.mu.Unlock()
	if a.Gate != nil {
		select {
		case <-a.Gate:
		case <-ctx.Done():
			return channels.Reply{}, ctx.Err()
		}
	}
	return channels.Reply{Text: "answer: " + q.Text, Followups: a.Followups, Sources: a.Sources}, nil
}

// Questions returns the questions asked so far.
func (a *Answerer) Questions() []channels.Question {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]channels.Question(nil), a.qs...)
}

// Clock is a settable clock.
type Clock struct {
	mu sync.Mutex
	t  time.Time
}

// NewClock starts at t.
func NewClock(t time.Time) *Clock { return &Clock{t: t} }

// Now returns the clock's time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

// Advance moves the clock on.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// WaitFor polls cond until it holds, failing the test after a generous
// deadline (the CI machine is busy).
func WaitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// Hub is a dispatcher mounted at /ch/{id} on a test server, as the hub
// mounts it.
type Hub struct {
	D   *channels.Dispatcher
	Srv *httptest.Server
}

// NewHub starts a dispatcher with opt and serves it.
func NewHub(t testing.TB, opt channels.Options) *Hub {
	t.Helper()
	d := channels.New(opt)
	mux := http.NewServeMux()
	mux.Handle("/ch/{id}", d)
	srv := httptest.NewServer(mux)
	t.Cleanup(func() { srv.Close(); d.Close() })
	return &Hub{D: d, Srv: srv}
}

// URL is a channel's webhook URL.
func (h *Hub) URL(id string) string { return h.Srv.URL + "/ch/" + id }

// Calls records the requests a fake platform's send API received.
type Calls[T any] struct {
	mu sync.Mutex
	l  []T
}

// Add records one call and returns how many there are now.
func (c *Calls[T]) Add(v T) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.l = append(c.l, v)
	return len(c.l)
}

// All returns the calls so far.
func (c *Calls[T]) All() []T {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]T(nil), c.l...)
}

// Len is the number of calls so far.
func (c *Calls[T]) Len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.l)
}

// VotingAnswerer is an Answerer that takes votes as the hub does, in
// memory: each answer's Ref is "rN" (its number), Sent maps the
// platform's message IDs to it, and votes combine with channels.Combine.
// Votes of a user on another user's answer are ignored.
type VotingAnswerer struct {
	Answerer

	vmu    sync.Mutex
	n      int
	owner  map[string]string // ref → user key
	sent   map[string]string // platform message ID → ref
	rating map[string]int    // ref → vote
	events []channels.VoteEvent
}

// Answer implements channels.Answerer, naming the answer.
func (a *VotingAnswerer) Answer(ctx context.Context, q channels.Question) (channels.Reply, error) {
	rep, err := a.Answerer.Answer(ctx, q)
	if err != nil {
		return rep, err
	}
	a.vmu.Lock()
	defer a.vmu.Unlock()
	a.n++
	rep.Ref = "r" + strconv.Itoa(a.n)
	if a.owner == nil {
		a.owner, a.sent, a.rating = map[string]string{}, map[string]string{}, map[string]int{}
	}
	a.owner[rep.Ref] = q.UserKey
	return rep, nil
}

// Sent implements channels.VoteAnswerer.
func (a *VotingAnswerer) Sent(_ context.Context, s channels.SentAnswer) error {
	a.vmu.Lock()
	defer a.vmu.Unlock()
	for _, id := range s.IDs {
		a.sent[id] = s.Ref
	}
	return nil
}

// Vote implements channels.VoteAnswerer.
func (a *VotingAnswerer) Vote(_ context.Context, v channels.VoteEvent) (channels.VoteResult, error) {
	a.vmu.Lock()
	defer a.vmu.Unlock()
	a.events = append(a.events, v)
	ref := v.Ref
	if ref == "" {
		ref = a.sent[v.Message]
	}
	if ref == "" || a.owner[ref] != v.UserKey {
		return channels.VoteIgnored, nil
	}
	r := channels.Combine(a.rating[ref], v)
	a.rating[ref] = r
	if r == 0 {
		return channels.VoteTakenBack, nil
	}
	return channels.VoteCounted, nil
}

// Rating is the vote answer n (1, 2, …) has.
func (a *VotingAnswerer) Rating(n int) int {
	a.vmu.Lock()
	defer a.vmu.Unlock()
	return a.rating["r"+strconv.Itoa(n)]
}

// Votes are the vote events the dispatcher passed on.
func (a *VotingAnswerer) Votes() []channels.VoteEvent {
	a.vmu.Lock()
	defer a.vmu.Unlock()
	return append([]channels.VoteEvent(nil), a.events...)
}
