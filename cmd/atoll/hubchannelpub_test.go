package main

import (
	"net/http"
	"strings"
	"testing"

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
