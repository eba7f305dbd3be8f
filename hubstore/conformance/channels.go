package conformance

import (
	"encoding/json"
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
