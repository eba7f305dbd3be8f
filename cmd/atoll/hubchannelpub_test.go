package main

import (
	"fmt"
	"net/http"
	"strings"
	"testing"

	"atoll/channels"
	"atoll/channels/channeltest"
	"atoll/channels/channeltest/fakes"
)

// TestHubChannelQuota: channel answers count against the workspace's
// requests a day, as chat answers do; past the quota the end user gets a
// short polite sentence instead of the model, and the channel's status
// says why.
func TestHubChannelQuota(t *testing.T) {
	c := newChannelHub(t)
	if r := atoll(t, "--data", c.hubDir, "hub", "workspace", "quota", "default", "--requests-per-day", "1"); r.code != 0 {
		t.Fatalf("quota: %d %s", r.code, r.stderr)
	}
	p := fakes.NewTelegram(t)
	id, webhook := c.addChannel(t, p)
	if st := p.Deliver(t, webhook, 1, "How much notice do birthday cakes need?", false); st != http.StatusOK {
		t.Fatal(st)
	}
	channeltest.WaitFor(t, "the first answer", func() bool { return len(p.Replies()) == 1 })
	if r := p.Replies()[0]; !strings.Contains(r, "48 hours") {
		t.Fatalf("the first reply %q is not the agent's", r)
	}
	// The channel's answer used the day's one request: the chat API is
	// over quota too.
	res, err := http.Post(c.srv.URL+"/v1/chat/completions", "application/json", strings.NewReader(`{"model":"baker","messages":[{"role":"user","content":"Do you deliver?"}]}`))
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusTooManyRequests {
		t.Errorf("a chat after the channel used the quota: %d, want 429", res.StatusCode)
	}
	if st := p.Deliver(t, webhook, 2, "Do you make vegan cakes?", false); st != http.StatusOK {
		t.Fatal(st)
	}
	channeltest.WaitFor(t, "the second reply", func() bool { return len(p.Replies()) == 2 })
	r := p.Replies()[1]
	if strings.Contains(r, "48 hours") || !strings.Contains(strings.ToLower(r), "today") || len(r) > 200 {
		t.Errorf("over quota the user got %q, want a short sentence about today's limit", r)
	}
	if n := c.asked("vegan"); n != 0 {
		t.Errorf("the model was asked %d times over quota", n)
	}
	channeltest.WaitFor(t, "the status to record the quota", func() bool { return strings.Contains(c.status(id).LastError, "quota") })
}

// TestHubChannelsFollowPublish: one publish, every channel. A channel of
// each kind answers with the agent's current version: a new version is
// answered on all of them at once, a rollback returns them all to the old
// one, and unpublishing disconnects them (their webhooks refuse, the list
// no longer shows them).
func TestHubChannelsFollowPublish(t *testing.T) {
	c := newChannelHub(t)
	type hooked struct {
		p           fakes.Platform
		id, webhook string
	}
	var all []hooked
	for _, kind := range channels.Kinds() {
		p := fakes.New(t, kind)
		id, webhook := c.addChannel(t, p)
		all = append(all, hooked{p, id, webhook})
	}
	// askAll sends message n on every channel and wants the n-th reply of
	// each to come from edition.
	askAll := func(n int, edition string) {
		t.Helper()
		for _, h := range all {
			if st := h.p.Deliver(t, h.webhook, n, "How much notice do birthday cakes need?", false); st != http.StatusOK {
				t.Fatalf("%s: message %d: %d", h.p.Kind(), n, st)
			}
		}
		for _, h := range all {
			channeltest.WaitFor(t, fmt.Sprintf("reply %d on %s", n, h.p.Kind()), func() bool { return len(h.p.Replies()) >= n })
			if r := h.p.Replies(); len(r) != n || !strings.Contains(r[n-1], "edition "+edition) {
				t.Errorf("%s: replies %q, want reply %d from edition %s", h.p.Kind(), r, n, edition)
			}
		}
	}
	askAll(1, "ONE")
	c.publish(t, "TWO")
	askAll(2, "TWO")
	if r := atoll(t, "--data", c.data, "publish", "--agent", "baker", "--rollback"); r.code != 0 {
		t.Fatalf("rollback: %d %s %s", r.code, r.stdout, r.stderr)
	}
	askAll(3, "ONE")

	req, _ := http.NewRequest(http.MethodDelete, c.srv.URL+"/api/agents/baker", nil)
	req.Header.Set("Authorization", "Bearer "+c.token)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusOK {
		t.Fatalf("unpublish: %d", res.StatusCode)
	}
	for _, h := range all {
		channeltest.WaitFor(t, "the hub disconnecting "+string(h.p.Kind()), func() bool { _, ok := c.h.Channels().Get(h.id); return !ok })
		if st := h.p.Deliver(t, h.webhook, 4, "Still there?", false); st != http.StatusNotFound {
			t.Errorf("%s: a message after unpublishing: %d, want 404", h.p.Kind(), st)
		}
	}
	r := atoll(t, "--data", c.hubDir, "hub", "channel", "list")
	for _, h := range all {
		if strings.Contains(r.stdout, h.id) {
			t.Errorf("channel list still shows %s's channel after unpublishing: %s", h.p.Kind(), r.stdout)
		}
	}
	for _, h := range all {
		if n := len(h.p.Replies()); n != 3 {
			t.Errorf("%s: %d replies, want 3", h.p.Kind(), n)
		}
	}
}
