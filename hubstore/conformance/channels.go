package conformance

import (
	"encoding/json"
	"strings"
	"sync"
	"testing"
	"time"

	"atoll/hubstore"
)

func testChannels(t *testing.T, open Opener) {
	s := mustOpen(t, open)
	r := mustOpen(t, open) // another replica
	feed := r.Watch(t.Context())
	f := newFixture(t, s, "w", "baker")
	g := newFixture(t, s, "other", "clinic")
	ws := f.ws.ID
	c := hubstore.Channel{ID: "ch1", Workspace: ws, Agent: "baker", Kind: "telegram", Config: json.RawMessage(`{"v":1}`)}
	isErr(t, s.PutChannel(bg, hubstore.Channel{ID: "x", Workspace: ws, Agent: "nobody", Kind: "telegram", Config: json.RawMessage(`{}`)}), hubstore.ErrNotFound, "a channel of an unpublished agent")
	isErr(t, s.PutChannel(bg, hubstore.Channel{ID: "x", Workspace: g.ws.ID, Agent: "baker", Kind: "telegram", Config: json.RawMessage(`{}`)}), hubstore.ErrNotFound, "a channel of another workspace's agent")
	ok(t, s.PutChannel(bg, c))
	waitChange(t, feed, 10*time.Second, func(ch hubstore.Change) bool {
		return ch.Kind == hubstore.ChangeChannel && ch.ID == "ch1" && ch.Workspace == ws
	}, "another replica told of a new channel")
	c.Config = json.RawMessage(`{"v":2}`)
	ok(t, s.PutChannel(bg, c))
	isErr(t, s.PutChannel(bg, hubstore.Channel{ID: "ch1", Workspace: g.ws.ID, Agent: "clinic", Kind: "slack", Config: json.RawMessage(`{}`)}), hubstore.ErrAlreadyExists, "another workspace taking a channel id")
	ok(t, s.PutChannel(bg, hubstore.Channel{ID: "ch2", Workspace: g.ws.ID, Agent: "clinic", Kind: "slack", Config: json.RawMessage(`{}`)}))
	all := must[[]hubstore.Channel](t)(r.AllChannels(bg))
	if len(all) != 2 || all[0].ID != "ch1" || string(all[0].Config) != `{"v":2}` || all[0].Agent != "baker" || all[0].Kind != "telegram" || all[0].Workspace != ws || all[0].Created.IsZero() || all[1].Workspace != g.ws.ID {
		t.Fatalf("channels after put, replace and another workspace's: %+v", all)
	}
	isErr(t, s.DeleteChannel(bg, g.ws.ID, "ch1"), hubstore.ErrNotFound, "deleting another workspace's channel")
	ok(t, s.DeleteChannel(bg, g.ws.ID, "ch2"))
	isErr(t, s.DeleteChannel(bg, g.ws.ID, "ch2"), hubstore.ErrNotFound, "deleting a channel twice")
	// Unpublishing disconnects the agent's channels.
	ok(t, s.Unpublish(bg, ws, "baker"))
	if all := must[[]hubstore.Channel](t)(s.AllChannels(bg)); len(all) != 0 {
		t.Fatalf("channels of an unpublished agent stayed: %+v", all)
	}

	// Message claims: once per key across replicas until they expire.
	at := time.Now()
	if !must[bool](t)(s.ClaimMessage(bg, "telegram:ch1:7", at, time.Minute)) {
		t.Fatal("a new message key was not new")
	}
	if must[bool](t)(r.ClaimMessage(bg, "telegram:ch1:7", at.Add(time.Second), time.Minute)) {
		t.Fatal("a retried message was claimed again on another replica")
	}
	if !must[bool](t)(r.ClaimMessage(bg, "telegram:ch1:7", at.Add(2*time.Minute), time.Minute)) {
		t.Fatal("an expired message key was not taken again")
	}
	ok(t, s.ReleaseMessage(bg, "telegram:ch1:7"))
	if !must[bool](t)(s.ClaimMessage(bg, "telegram:ch1:7", at.Add(2*time.Minute), time.Minute)) {
		t.Fatal("a released message key was not taken again")
	}
	ok(t, s.Sweep(bg, at.Add(10*time.Minute)))
	if !must[bool](t)(s.ClaimMessage(bg, "telegram:ch1:7", at.Add(2*time.Minute), time.Minute)) {
		t.Fatal("a swept message key was still held")
	}
}

// testChannelSent: the platform IDs an answer went out in map back to its
// turn on every replica, only in its workspace, and go with the
// conversation (retention and unpublish).
func testChannelSent(t *testing.T, open Opener) {
	s := mustOpen(t, open)
	r := mustOpen(t, open) // another replica
	f := newFixture(t, s, "w", "baker")
	g := newFixture(t, s, "other", "clinic")
	ws := f.ws.ID
	must[hubstore.Turn](t)(first(s.AppendTurn(bg, ws, "baker", "c1", hubstore.Turn{Question: "q1", Answer: "a1"})))
	must[hubstore.Turn](t)(first(s.AppendTurn(bg, ws, "baker", "c1", hubstore.Turn{Question: "q2", Answer: "a2"})))
	must[hubstore.Turn](t)(first(s.AppendTurn(bg, ws, "baker", "c2", hubstore.Turn{Question: "q", Answer: "a"})))
	must[hubstore.Turn](t)(first(s.AppendTurn(bg, g.ws.ID, "clinic", "c1", hubstore.Turn{Question: "q", Answer: "a"})))

	ok(t, s.MarkSent(bg, ws, "sl1", "c1", 2, []string{"D1/1.1", "D1/1.2"}))
	isErr(t, s.MarkSent(bg, ws, "sl1", "c1", 3, []string{"D1/9"}), hubstore.ErrNotFound, "marking an answer that does not exist")
	isErr(t, s.MarkSent(bg, ws, "sl1", "nope", 1, []string{"D1/9"}), hubstore.ErrNotFound, "marking an answer of an unknown conversation")
	isErr(t, s.MarkSent(bg, g.ws.ID, "sl1", "c2", 1, []string{"D1/9"}), hubstore.ErrNotFound, "marking another workspace's conversation")
	if err := s.MarkSent(bg, ws, "sl1", "c1", 1, []string{""}); err == nil {
		t.Fatal("an empty message ID was marked")
	}
	for _, id := range []string{"D1/1.1", "D1/1.2"} {
		conv, seq, err := r.SentTurn(bg, ws, "sl1", id)
		if err != nil || conv != "c1" || seq != 2 {
			t.Fatalf("SentTurn(%s) on another replica = %q %d %v, want c1 2", id, conv, seq, err)
		}
	}
	_, _, err := r.SentTurn(bg, ws, "sl2", "D1/1.1")
	isErr(t, err, hubstore.ErrNotFound, "a message of another channel")
	_, _, err = r.SentTurn(bg, g.ws.ID, "sl1", "D1/1.1")
	isErr(t, err, hubstore.ErrNotFound, "a message looked up from another workspace")
	_, _, err = r.SentTurn(bg, ws, "sl1", "D1/unknown")
	isErr(t, err, hubstore.ErrNotFound, "a message never marked")
	// Marked again (a resent answer), an ID moves to the new turn.
	ok(t, s.MarkSent(bg, ws, "sl1", "c2", 1, []string{"D1/1.2"}))
	if conv, seq, err := r.SentTurn(bg, ws, "sl1", "D1/1.2"); err != nil || conv != "c2" || seq != 1 {
		t.Fatalf("a re-marked message = %q %d %v, want c2 1", conv, seq, err)
	}

	// Retention: the marks go with the pruned conversation.
	ok(t, s.MarkSent(bg, g.ws.ID, "wa1", "c1", 1, []string{"wamid.1"}))
	must[int](t)(s.PruneConversations(bg, time.Now().Add(time.Hour)))
	_, _, err = r.SentTurn(bg, ws, "sl1", "D1/1.1")
	isErr(t, err, hubstore.ErrNotFound, "a message of a pruned conversation")
	_, _, err = r.SentTurn(bg, g.ws.ID, "wa1", "wamid.1")
	isErr(t, err, hubstore.ErrNotFound, "a message of another pruned conversation")

	// Unpublish: the marks go with the agent's conversations.
	must[hubstore.Turn](t)(first(s.AppendTurn(bg, ws, "baker", "c3", hubstore.Turn{Question: "q", Answer: "a"})))
	ok(t, s.MarkSent(bg, ws, "sl1", "c3", 1, []string{"D1/3"}))
	ok(t, s.Unpublish(bg, ws, "baker"))
	_, _, err = r.SentTurn(bg, ws, "sl1", "D1/3")
	isErr(t, err, hubstore.ErrNotFound, "a message of an unpublished agent")
}

// testChannelStatus: replicas add to one channel status (counts summed,
// the later times and error kept); it goes with the channel and on
// unpublish, and a channel that is gone takes nothing.
func testChannelStatus(t *testing.T, open Opener) {
	s := mustOpen(t, open)
	r := mustOpen(t, open) // another replica
	f := newFixture(t, s, "w", "baker")
	g := newFixture(t, s, "other", "clinic")
	ws := f.ws.ID
	for _, id := range []string{"ch1", "ch2"} {
		ok(t, s.PutChannel(bg, hubstore.Channel{ID: id, Workspace: ws, Agent: "baker", Kind: "telegram", Config: json.RawMessage(`{}`)}))
	}
	ok(t, s.PutChannel(bg, hubstore.Channel{ID: "ch3", Workspace: g.ws.ID, Agent: "clinic", Kind: "slack", Config: json.RawMessage(`{}`)}))
	t0 := time.Unix(1_800_000_000, 0).UTC()
	long := strings.Repeat("é", hubstore.MaxChannelError) // 2 bytes each
	// Many adds at once from two replicas: none is lost.
	var wg sync.WaitGroup
	for i := range 20 {
		st := s
		if i%2 == 1 {
			st = r
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := st.AddChannelStatus(bg, ws, "ch1", hubstore.ChannelStatus{Received: 1, Answered: 1, LastMessage: t0.Add(time.Duration(i) * time.Second)}); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	ok(t, r.AddChannelStatus(bg, ws, "ch1", hubstore.ChannelStatus{Failed: 2, Duplicates: 3, Rejected: 4, Votes: 5, LastReply: t0, LastErrorAt: t0.Add(time.Minute), LastError: long}))
	ok(t, s.AddChannelStatus(bg, ws, "ch1", hubstore.ChannelStatus{Failed: 1, LastReply: t0.Add(-time.Hour), LastErrorAt: t0, LastError: "older"}))
	ok(t, s.AddChannelStatus(bg, g.ws.ID, "ch1", hubstore.ChannelStatus{Received: 100}))         // not that workspace's channel
	ok(t, s.AddChannelStatus(bg, ws, "ch-gone", hubstore.ChannelStatus{Received: 100}))          // no such channel
	ok(t, s.AddChannelStatus(bg, g.ws.ID, "ch3", hubstore.ChannelStatus{Received: 7, Votes: 1})) // another workspace's
	ok(t, s.AddChannelStatus(bg, ws, "ch2", hubstore.ChannelStatus{Rejected: 1}))
	got := must[map[string]hubstore.ChannelStatus](t)(r.ChannelStatuses(bg, ws))
	c := got["ch1"]
	if len(got) != 2 || c.Received != 20 || c.Answered != 20 || c.Failed != 3 || c.Duplicates != 3 || c.Rejected != 4 || c.Votes != 5 ||
		!c.LastMessage.Equal(t0.Add(19*time.Second)) || !c.LastReply.Equal(t0) || !c.LastErrorAt.Equal(t0.Add(time.Minute)) ||
		len(c.LastError) > hubstore.MaxChannelError || !strings.HasPrefix(long, c.LastError) || len(c.LastError) < hubstore.MaxChannelError-1 || got["ch2"].Rejected != 1 {
		t.Fatalf("statuses after adds from two replicas: %+v", got)
	}
	if all := must[map[string]hubstore.ChannelStatus](t)(s.ChannelStatuses(bg, "")); len(all) != 3 || all["ch3"].Received != 7 {
		t.Fatalf("every workspace's statuses: %+v", all)
	}
	ok(t, s.DeleteChannel(bg, ws, "ch2"))
	if got := must[map[string]hubstore.ChannelStatus](t)(r.ChannelStatuses(bg, ws)); len(got) != 1 || got["ch1"].Received != 20 {
		t.Fatalf("statuses after deleting a channel: %+v", got)
	}
	// A channel added again under the same ID starts from nothing.
	ok(t, s.PutChannel(bg, hubstore.Channel{ID: "ch2", Workspace: ws, Agent: "baker", Kind: "telegram", Config: json.RawMessage(`{}`)}))
	if got := must[map[string]hubstore.ChannelStatus](t)(r.ChannelStatuses(bg, ws)); len(got) != 1 {
		t.Fatalf("a channel added again kept its old status: %+v", got)
	}
	ok(t, s.Unpublish(bg, ws, "baker"))
	if got := must[map[string]hubstore.ChannelStatus](t)(r.ChannelStatuses(bg, ws)); len(got) != 0 {
		t.Fatalf("statuses of an unpublished agent's channels stayed: %+v", got)
	}
	if got := must[map[string]hubstore.ChannelStatus](t)(r.ChannelStatuses(bg, g.ws.ID)); len(got) != 1 || got["ch3"].Received != 7 {
		t.Fatalf("another workspace's status after an unpublish: %+v", got)
	}
}
