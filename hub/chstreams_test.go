package hub

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"atoll/channels/channeltest"
	"atoll/channels/channeltest/fakes"
	"atoll/hubstore"
	"atoll/internal/ollamafake"
)

// streamsHub is a hub whose default workspace (agent baker) may run one
// answer at once, and a second workspace (agent rivalbot) without a
// limit, each with a Telegram channel; questions with "slow" in them wait
// for the gate.
type streamsHub struct {
	th         *testHub
	a, b       *fakes.Telegram
	aHook, bHk string
	aID        string
	gate       chan struct{}
	mu         sync.Mutex
	asked      []string
}

func newStreamsHub(t *testing.T, wait time.Duration) *streamsHub {
	old := channelBusyWait
	channelBusyWait = wait
	t.Cleanup(func() { channelBusyWait = old })
	s := &streamsHub{a: fakes.NewTelegram(t), b: fakes.NewTelegram(t), gate: make(chan struct{})}
	s.th = newTestHubAllowing(t, s.a.APIBase(), s.b.APIBase())
	s.th.fake.OnChat(func(req ollamafake.ChatRequest) ollamafake.Reply {
		q := req.Messages[len(req.Messages)-1].Content
		s.mu.Lock()
		s.asked = append(s.asked, q)
		s.mu.Unlock()
		if strings.Contains(q, "slow") {
			select {
			case <-s.gate:
			case <-t.Context().Done():
			}
		}
		return ollamafake.Reply{Text: "Birthday cakes need 48 hours notice."}
	})
	if _, err := s.th.h.st.UpdateWorkspace(context.Background(), s.th.ws, func(w hubstore.Workspace) (hubstore.Workspace, error) {
		w.MaxStreams = 1
		return w, nil
	}); err != nil {
		t.Fatal(err)
	}
	_, tokB := workspace(t, s.th.h, "rival")
	if code, body := s.th.as(t, tokB, "POST", "/api/publish", string(bundleFor(t, "rivalbot"))); code != 200 {
		t.Fatalf("publish in the second workspace: %d %s", code, body)
	}
	add := func(tok, agent string, p *fakes.Telegram) channelView {
		code, body := s.th.as(t, tok, "POST", "/api/agents/"+agent+"/channels", map[string]any{"kind": "telegram", "settings": p.Settings(), "api_base": p.APIBase()})
		if code != 200 {
			t.Fatalf("add a channel for %s: %d %s", agent, code, body)
		}
		var v channelView
		json.Unmarshal([]byte(body), &v)
		channeltest.WaitFor(t, "the hub serving the channel", func() bool { _, ok := s.th.h.Channels().Get(v.ID); return ok })
		return v
	}
	va := add(s.th.tok, "baker", s.a)
	s.aHook, s.aID = va.Webhook, va.ID
	s.bHk = add(tokB, "rivalbot", s.b).Webhook
	return s
}

func (s *streamsHub) askedAbout(word string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, q := range s.asked {
		if strings.Contains(q, word) {
			n++
		}
	}
	return n
}

func deliver(t *testing.T, p *fakes.Telegram, hook string, n int, text string) {
	t.Helper()
	if st := p.Deliver(t, hook, n, text, false); st != http.StatusOK {
		t.Fatalf("message %d: %d", n, st)
	}
}

// TestChannelStreamsQuotaWaits: a channel answer takes one of its
// workspace's streams. With MaxStreams 1 and one answer held, the
// workspace's next questions wait (the model is not asked) without
// holding the dispatcher's workers: another workspace's channel is
// answered meanwhile, though more questions wait than there are workers.
// Once the first answer is done, the waiting ones are answered.
func TestChannelStreamsQuotaWaits(t *testing.T) {
	s := newStreamsHub(t, 10*time.Minute) // longer than any WaitFor: a wait inside a worker would fail it
	deliver(t, s.a, s.aHook, 1, "A slow one: how much notice do birthday cakes need?")
	channeltest.WaitFor(t, "the first question to reach the model", func() bool { return s.askedAbout("slow") == 1 })
	const waiting = 6 // more than the dispatcher's 4 workers
	for i := range waiting {
		deliver(t, s.a, s.aHook, 2+i, "Queued question: how much notice do birthday cakes need?")
	}
	deliver(t, s.b, s.bHk, 1, "Rival question: do you bake bread?")
	channeltest.WaitFor(t, "the other workspace's answer", func() bool { return len(s.b.Replies()) == 1 })
	if n := s.askedAbout("Queued"); n != 0 {
		t.Fatalf("the model was asked %d of the queued questions while the workspace's one stream was in use", n)
	}
	if n := len(s.a.Replies()); n != 0 {
		t.Fatalf("%d replies on the busy workspace's channel before its answer finished", n)
	}
	close(s.gate)
	channeltest.WaitFor(t, "every answer on the busy workspace's channel", func() bool { return len(s.a.Replies()) == 1+waiting })
	for _, r := range s.a.Replies() {
		if !strings.Contains(r, "48 hours") {
			t.Errorf("a reply %q is not the agent's answer", r)
		}
	}
}

// TestChannelStreamsQuotaGivesUp: a question that finds no stream free
// for the whole wait gets a short sentence, the model never sees it, and
// the channel's status names the streams quota and the command raising it.
func TestChannelStreamsQuotaGivesUp(t *testing.T) {
	s := newStreamsHub(t, 300*time.Millisecond)
	defer close(s.gate)
	deliver(t, s.a, s.aHook, 1, "A slow one: how much notice do birthday cakes need?")
	channeltest.WaitFor(t, "the first question to reach the model", func() bool { return s.askedAbout("slow") == 1 })
	deliver(t, s.a, s.aHook, 2, "Queued question: how much notice do birthday cakes need?")
	channeltest.WaitFor(t, "the sentence to the second user", func() bool { return len(s.a.Replies()) == 1 })
	if r := s.a.Replies()[0]; r != StreamsSorry || len(r) > 200 {
		t.Fatalf("the waiting user got %q, want %q", r, StreamsSorry)
	}
	if n := s.askedAbout("Queued"); n != 0 {
		t.Fatalf("the model was asked the declined question %d times", n)
	}
	ch, _ := s.th.h.Channels().Get(s.aID)
	if e := ch.Status().LastError; !strings.Contains(e, "streams quota") || !strings.Contains(e, "--max-streams") {
		t.Fatalf("the status says %q, want the streams quota and how to raise it", e)
	}
}
