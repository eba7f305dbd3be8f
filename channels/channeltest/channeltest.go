// Package channeltest holds what the channel tests share: a scripted
// answerer, a fake clock, condition waits, and a hub-side server that
// mounts a dispatcher the way the hub does.
package channeltest

import (
	"context"
	"net/http"
	"net/http/httptest"
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

// Add records one call.
func (c *Calls[T]) Add(v T) {
	c.mu.Lock()
	c.l = append(c.l, v)
	c.mu.Unlock()
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
