package conformance

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"reflect"
	"sync"
	"testing"
	"time"

	"atoll/hubstore"
)

// snapshot is everything a workspace can read of itself.
type snapshot struct {
	Workspace hubstore.Workspace
	Tokens    []hubstore.Token
	Agents    []hubstore.Agent
	Versions  []hubstore.Version
	Keys      []hubstore.APIKey
	Convs     []hubstore.Conversation
	Turns     []hubstore.Turn
	Leads     []hubstore.Lead
	Memories  []hubstore.Fact
	Usage     []hubstore.UsageRow
	Bundle    []byte
}

func snap(t *testing.T, s hubstore.Storage, f fixture, conv string) snapshot {
	t.Helper()
	ws, a := f.ws.ID, f.agent
	var sn snapshot
	sn.Workspace = must[hubstore.Workspace](t)(s.Workspace(bg, ws))
	sn.Tokens = must[[]hubstore.Token](t)(s.Tokens(bg, ws))
	sn.Agents = must[[]hubstore.Agent](t)(s.Agents(bg, ws))
	sn.Versions = must[[]hubstore.Version](t)(s.Versions(bg, ws, a))
	sn.Keys = must[[]hubstore.APIKey](t)(s.Keys(bg, ws, a))
	sn.Convs = must[[]hubstore.Conversation](t)(s.Conversations(bg, ws, a, 100))
	sn.Turns = must[[]hubstore.Turn](t)(s.Turns(bg, ws, conv, 100))
	sn.Leads = must[[]hubstore.Lead](t)(s.Leads(bg, ws, a))
	sn.Memories = must[[]hubstore.Fact](t)(s.Memories(bg, ws, a, "u1"))
	sn.Usage = must[[]hubstore.UsageRow](t)(s.Usage(bg, ws, time.Now().Add(-48*time.Hour), time.Now().Add(48*time.Hour)))
	rc, _, err := s.OpenBundle(bg, ws, f.hash)
	ok(t, err)
	sn.Bundle, err = io.ReadAll(rc)
	rc.Close()
	ok(t, err)
	return sn
}

// testIsolation gives workspace A a full set of data, then tries every
// read and write path from workspace B with A's ids: each is refused or
// sees nothing, and A's data is unchanged.
func testIsolation(t *testing.T, open Opener) {
	s := mustOpen(t, open)
	A := newFixture(t, s, "alpha", "baker")
	B := newFixture(t, s, "beta", "clinic")
	a, b := A.ws.ID, B.ws.ID
	tokA := must[hubstore.Token](t)(s.CreateToken(bg, a, "a", "tok-a"))
	must[hubstore.Token](t)(s.CreateToken(bg, b, "b", "tok-b"))
	keyA := must[hubstore.APIKey](t)(s.CreateKey(bg, a, "baker", "site", "key-a"))
	must[hubstore.Version](t)(s.Publish(bg, a, "baker", json.RawMessage(`{"v":2}`), A.hash))
	must[hubstore.Turn](t)(first(s.AppendTurn(bg, a, "baker", "conv-a", hubstore.Turn{Key: "r1", Question: "secret question", Answer: "secret answer"})))
	must[hubstore.Lead](t)(first(s.SaveLead(bg, a, "baker", "lk", hubstore.Lead{Name: "Ann", Phone: "555 0100", Email: "ann@a.example"})))
	must[[]hubstore.Fact](t)(s.UpdateMemories(bg, a, "baker", "u1", addFact("A's secret")))
	ok(t, s.AddUsage(bg, a, keyA.ID, time.Now(), hubstore.Usage{Requests: 3, TokensIn: 30}))
	before := snap(t, s, A, "conv-a")

	refused := func(what string, err error) {
		t.Helper()
		if err == nil {
			t.Errorf("workspace B %s: allowed", what)
			return
		}
		if !errors.Is(err, hubstore.ErrNotFound) && !errors.Is(err, hubstore.ErrForbidden) && !errors.Is(err, hubstore.ErrAlreadyExists) {
			t.Errorf("workspace B %s: refused with an error that is no sentinel: %v", what, err)
		}
	}
	empty := func(what string, n int, err error) {
		t.Helper()
		if err == nil && n > 0 {
			t.Errorf("workspace B %s: saw %d of A's items", what, n)
		}
	}
	noFn := func(hubstore.Agent) (hubstore.Agent, error) {
		t.Error("UpdateAgent called fn with another workspace's agent")
		return hubstore.Agent{}, nil
	}

	// Agents and versions.
	_, err := s.Agent(bg, b, "baker")
	refused("reading A's agent", err)
	vs, err := s.Versions(bg, b, "baker")
	refused("listing A's versions", err)
	empty("listing A's versions", len(vs), err)
	_, err = s.Version(bg, b, "baker", 1)
	refused("reading A's version", err)
	_, err = s.Rollback(bg, b, "baker")
	refused("rolling back A's agent", err)
	refused("unpublishing A's agent", s.Unpublish(bg, b, "baker"))
	_, err = s.UpdateAgent(bg, b, "baker", noFn)
	refused("changing A's agent's access", err)
	_, err = s.Publish(bg, b, "baker", json.RawMessage(`{"hijack":true}`), B.hash)
	refused("publishing over A's agent", err)
	_, err = s.Publish(bg, b, "hijack", json.RawMessage(`{}`), A.hash)
	refused("publishing with A's bundle", err)
	ags, err := s.Agents(bg, b)
	ok(t, err)
	for _, ag := range ags {
		if ag.Name == "baker" || ag.Workspace != b {
			t.Errorf("workspace B's agents include %+v", ag)
		}
	}
	// Bundles.
	_, _, err = s.OpenBundle(bg, b, A.hash)
	refused("reading A's bundle", err)
	// Credentials.
	refused("revoking A's token", s.RevokeToken(bg, b, tokA.ID))
	toks, err := s.Tokens(bg, b)
	ok(t, err)
	for _, k := range toks {
		if k.Workspace != b || k.ID == tokA.ID {
			t.Errorf("workspace B's tokens include %+v", k)
		}
	}
	_, err = s.CreateKey(bg, b, "baker", "steal", "key-b")
	refused("creating a key for A's agent", err)
	ks, err := s.Keys(bg, b, "baker")
	refused("listing A's agent's keys", err)
	empty("listing A's agent's keys", len(ks), err)
	refused("revoking A's key", s.RevokeKey(bg, b, keyA.ID))
	// Conversations: B may use the same conversation id, but gets its own
	// conversation, and never A's turns.
	_, _, err = s.AppendTurn(bg, b, "baker", "conv-a", hubstore.Turn{Question: "q", Answer: "a"})
	refused("appending to A's agent's conversation", err)
	_, err = s.Conversation(bg, b, "conv-a")
	refused("reading A's conversation", err)
	_, err = s.SetFeedback(bg, b, "baker", "conv-a", 1, hubstore.Feedback{Rating: -1, Comment: "B's vote"})
	refused("voting on A's answer", err)
	cts, err := s.ChangedTurns(bg, b, "baker", hubstore.TurnCursor{}, 100)
	refused("listing A's agent's changed turns", err)
	empty("listing A's agent's changed turns", len(cts), err)
	ts, err := s.Turns(bg, b, "conv-a", 100)
	refused("reading A's turns", err)
	empty("reading A's turns", len(ts), err)
	cs, err := s.Conversations(bg, b, "baker", 100)
	refused("listing A's conversations", err)
	empty("listing A's conversations", len(cs), err)
	own, dup, err := s.AppendTurn(bg, b, "clinic", "conv-a", hubstore.Turn{Key: "r1", Question: "mine", Answer: "mine"})
	ok(t, err)
	if dup || own.Question != "mine" || own.Seq != 1 {
		t.Errorf("B's own conversation with A's id and key: %+v dup=%v", own, dup)
	}
	// Leads and memories.
	_, _, err = s.SaveLead(bg, b, "baker", "lk", hubstore.Lead{Name: "Ann", Phone: "555 0100"})
	refused("saving a lead for A's agent", err)
	ls, err := s.Leads(bg, b, "baker")
	refused("reading A's leads", err)
	empty("reading A's leads", len(ls), err)
	ms, err := s.Memories(bg, b, "baker", "u1")
	refused("reading A's memories", err)
	empty("reading A's memories", len(ms), err)
	_, err = s.UpdateMemories(bg, b, "baker", "u1", func(old []hubstore.Fact) ([]hubstore.Fact, error) {
		if len(old) > 0 {
			t.Errorf("UpdateMemories showed B A's memories: %+v", old)
		}
		return nil, nil
	})
	refused("changing A's memories", err)
	// Usage.
	refused("counting usage on A's key", s.AddUsage(bg, b, keyA.ID, time.Now(), hubstore.Usage{Requests: 1}))
	us, err := s.Usage(bg, b, time.Now().Add(-48*time.Hour), time.Now().Add(48*time.Hour))
	ok(t, err)
	for _, u := range us {
		if u.Key == keyA.ID {
			t.Errorf("workspace B's usage shows A's key: %+v", u)
		}
	}

	after := snap(t, s, A, "conv-a")
	if !reflect.DeepEqual(before, after) {
		t.Fatalf("workspace A's data changed under workspace B's attempts:\nbefore %+v\nafter  %+v", before, after)
	}
}

// testConcurrency writes from several goroutines on several instances at
// once: nothing is lost and nothing is counted twice.
func testConcurrency(t *testing.T, open Opener) {
	const instances, workers, each = 3, 4, 10
	stores := []hubstore.Storage{mustOpen(t, open)}
	for len(stores) < instances {
		stores = append(stores, mustOpen(t, open))
	}
	f := newFixture(t, stores[0], "w", "baker")
	ws := f.ws.ID
	key := must[hubstore.APIKey](t)(stores[0].CreateKey(bg, ws, "baker", "k", "kh"))
	at := time.Now()

	var wg sync.WaitGroup
	var mu sync.Mutex
	counts := map[int64]int{}
	seqs := map[int]string{}
	var errs []error
	fail := func(err error) {
		mu.Lock()
		errs = append(errs, err)
		mu.Unlock()
	}
	for i := range instances * workers {
		s := stores[i%instances]
		wg.Go(func() {
			for j := range each {
				// Every request is sent twice (a retry on another replica):
				// one turn per key, one lead per key.
				k := fmt.Sprintf("req-%d-%d", i, j)
				for try := range 2 {
					st := stores[(i+try)%instances]
					turn, _, err := st.AppendTurn(bg, ws, "baker", "shared", hubstore.Turn{Key: k, Question: k, Answer: "a"})
					if err != nil {
						fail(err)
						return
					}
					mu.Lock()
					if prev, seen := seqs[turn.Seq]; seen && prev != k {
						errs = append(errs, fmt.Errorf("seq %d given to %s and %s", turn.Seq, prev, k))
					}
					seqs[turn.Seq] = k
					mu.Unlock()
					if _, _, err := st.SaveLead(bg, ws, "baker", k, hubstore.Lead{Name: k, Email: k + "@example.com"}); err != nil {
						fail(err)
						return
					}
				}
				n, _, err := s.Incr(bg, ws, "rate", at, time.Hour)
				if err != nil {
					fail(err)
					return
				}
				mu.Lock()
				counts[n]++
				mu.Unlock()
				if err := s.AddUsage(bg, ws, key.ID, at, hubstore.Usage{Requests: 1, TokensIn: 2, TokensOut: 3}); err != nil {
					fail(err)
					return
				}
				if _, err := s.UpdateMemories(bg, ws, "baker", "u", addFact(k)); err != nil {
					fail(err)
					return
				}
			}
			// Publishing at once from every instance: distinct versions.
			if _, err := s.Publish(bg, ws, "baker", json.RawMessage(`{}`), f.hash); err != nil {
				fail(err)
			}
		})
	}
	wg.Wait()
	if len(errs) > 0 {
		t.Fatalf("%d concurrent operations failed, first: %v", len(errs), errs[0])
	}
	total := instances * workers * each
	s := stores[1]
	if c := must[hubstore.Conversation](t)(s.Conversation(bg, ws, "shared")); c.Turns != total {
		t.Errorf("conversation has %d turns, want %d", c.Turns, total)
	}
	turns := must[[]hubstore.Turn](t)(s.Turns(bg, ws, "shared", 2*total))
	seen := map[string]bool{}
	for i, tr := range turns {
		if tr.Seq != i+1 || seen[tr.Key] {
			t.Fatalf("turn %d: seq %d key %s (duplicate: %v)", i, tr.Seq, tr.Key, seen[tr.Key])
		}
		seen[tr.Key] = true
	}
	if len(turns) != total {
		t.Errorf("%d turns stored, want %d", len(turns), total)
	}
	if l := must[[]hubstore.Lead](t)(s.Leads(bg, ws, "baker")); len(l) != total {
		t.Errorf("%d leads stored, want %d", len(l), total)
	}
	for n := int64(1); n <= int64(total); n++ {
		if counts[n] != 1 {
			t.Fatalf("the shared counter returned %d %d times, want once each of 1..%d", n, counts[n], total)
		}
	}
	var wsRow, keyRow hubstore.Usage
	for _, r := range must[[]hubstore.UsageRow](t)(s.Usage(bg, ws, at, at)) {
		if r.Key == "" {
			wsRow = r.Usage
		} else {
			keyRow = r.Usage
		}
	}
	want := hubstore.Usage{Requests: int64(total), TokensIn: 2 * int64(total), TokensOut: 3 * int64(total)}
	if wsRow != want || keyRow != want {
		t.Errorf("usage: workspace %+v, key %+v, want %+v each", wsRow, keyRow, want)
	}
	if m := must[[]hubstore.Fact](t)(s.Memories(bg, ws, "baker", "u")); len(m) != total {
		t.Errorf("%d memories kept, want %d", len(m), total)
	}
	vs := must[[]hubstore.Version](t)(s.Versions(bg, ws, "baker"))
	if len(vs) != 1+instances*workers || vs[len(vs)-1].Number != len(vs) {
		t.Errorf("%d versions, last %d, want %d numbered without gaps", len(vs), vs[len(vs)-1].Number, 1+instances*workers)
	}
}
