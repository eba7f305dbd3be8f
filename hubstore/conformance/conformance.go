// Package conformance is the one test suite every hubstore engine passes:
// each method, isolation between two workspaces on every read and write
// path, concurrency from several goroutines and several instances
// (replicas), the change feed across instances, and migrations racing on
// an empty store.
package conformance

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"sync"
	"testing"
	"time"

	"atoll/hubstore"
)

// Opener opens one more instance (a replica, another process) on the same
// data; the first call on empty data creates the schema.
type Opener func() (hubstore.Storage, error)

// NewStorage gives a test fresh, empty data and an Opener on it; the
// engine cleans the data up when t ends.
type NewStorage func(t *testing.T) Opener

// Migrator is what the migration test needs of an engine.
type Migrator interface {
	AppliedMigrations(ctx context.Context) ([]int, error)
	LatestMigration() int
}

// RunTests runs the suite.
func RunTests(t *testing.T, newStorage NewStorage) {
	tests := []struct {
		name string
		fn   func(t *testing.T, open Opener)
	}{
		{"Workspaces", testWorkspaces},
		{"Tokens", testTokens},
		{"Bundles", testBundles},
		{"PublishRollback", testPublish},
		{"Unpublish", testUnpublish},
		{"Keys", testKeys},
		{"Conversations", testConversations},
		{"Feedback", testFeedback},
		{"Leads", testLeads},
		{"Memories", testMemories},
		{"Usage", testUsage},
		{"RecordAnswer", testRecordAnswer},
		{"SweepBundles", testSweepBundles},
		{"Leases", testLeases},
		{"Incr", testIncr},
		{"Watch", testWatch},
		{"Channels", testChannels},
		{"ChannelSent", testChannelSent},
		{"ChannelStatus", testChannelStatus},
		{"Isolation", testIsolation},
		{"Concurrency", testConcurrency},
		{"Migrations", testMigrations},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { tc.fn(t, newStorage(t)) })
	}
}

var bg = context.Background()

func mustOpen(t *testing.T, open Opener) hubstore.Storage {
	t.Helper()
	s, err := open()
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func must[T any](t *testing.T) func(v T, err error) T {
	return func(v T, err error) T {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
}

func ok(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func isErr(t *testing.T, err, want error, what string) {
	t.Helper()
	if !errors.Is(err, want) {
		t.Fatalf("%s: got error %v, want %v", what, err, want)
	}
}

func hashOf(b []byte) string {
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:])
}

// fixture is a workspace with a published agent.
type fixture struct {
	ws     hubstore.Workspace
	agent  string
	bundle []byte
	hash   string
}

func newFixture(t *testing.T, s hubstore.Storage, ws, agent string) fixture {
	t.Helper()
	w := must[hubstore.Workspace](t)(s.CreateWorkspace(bg, ws))
	b := []byte("bundle of " + agent + " in " + ws)
	f := fixture{ws: w, agent: agent, bundle: b, hash: hashOf(b)}
	ok(t, s.PutBundle(bg, w.ID, f.hash, int64(len(b)), bytes.NewReader(b)))
	must[hubstore.Version](t)(s.Publish(bg, w.ID, agent, json.RawMessage(`{"name":"`+agent+`"}`), f.hash))
	return f
}

func testWorkspaces(t *testing.T, open Opener) {
	s := mustOpen(t, open)
	a := must[hubstore.Workspace](t)(s.CreateWorkspace(bg, "bakery"))
	if a.ID == "" || a.Name != "bakery" || a.Created.IsZero() {
		t.Fatalf("created %+v", a)
	}
	_, err := s.CreateWorkspace(bg, "bakery")
	isErr(t, err, hubstore.ErrAlreadyExists, "a second workspace of the same name")
	b := must[hubstore.Workspace](t)(s.CreateWorkspace(bg, "dentist"))
	if got := must[hubstore.Workspace](t)(s.Workspace(bg, a.ID)); got.Name != "bakery" || !got.Created.Equal(a.Created) {
		t.Fatalf("Workspace = %+v", got)
	}
	if got := must[hubstore.Workspace](t)(s.WorkspaceByName(bg, "dentist")); got.ID != b.ID {
		t.Fatalf("WorkspaceByName = %+v", got)
	}
	_, err = s.Workspace(bg, "nope")
	isErr(t, err, hubstore.ErrNotFound, "an unknown workspace")
	_, err = s.WorkspaceByName(bg, "nope")
	isErr(t, err, hubstore.ErrNotFound, "an unknown workspace name")
	all := must[[]hubstore.Workspace](t)(s.Workspaces(bg))
	if len(all) != 2 || all[0].Name != "bakery" || all[1].Name != "dentist" {
		t.Fatalf("Workspaces = %+v", all)
	}
	up := must[hubstore.Workspace](t)(s.UpdateWorkspace(bg, a.ID, func(w hubstore.Workspace) (hubstore.Workspace, error) {
		w.RequestsPerDay, w.MaxStreams, w.Name = 1000, 4, "renamed"
		return w, nil
	}))
	if up.RequestsPerDay != 1000 || up.MaxStreams != 4 || up.Name != "bakery" {
		t.Fatalf("UpdateWorkspace = %+v", up)
	}
	boom := errors.New("boom")
	_, err = s.UpdateWorkspace(bg, a.ID, func(w hubstore.Workspace) (hubstore.Workspace, error) {
		w.RequestsPerDay = 1
		return w, boom
	})
	isErr(t, err, boom, "fn's error")
	if got := must[hubstore.Workspace](t)(s.Workspace(bg, a.ID)); got.RequestsPerDay != 1000 || got.MaxStreams != 4 {
		t.Fatalf("after a failed update: %+v", got)
	}
	_, err = s.UpdateWorkspace(bg, "nope", func(w hubstore.Workspace) (hubstore.Workspace, error) { return w, nil })
	isErr(t, err, hubstore.ErrNotFound, "updating an unknown workspace")
}

func testTokens(t *testing.T, open Opener) {
	s := mustOpen(t, open)
	w := must[hubstore.Workspace](t)(s.CreateWorkspace(bg, "w"))
	k1 := must[hubstore.Token](t)(s.CreateToken(bg, w.ID, "laptop", "h1"))
	k2 := must[hubstore.Token](t)(s.CreateToken(bg, w.ID, "ci", "h2"))
	_, err := s.CreateToken(bg, w.ID, "again", "h1")
	isErr(t, err, hubstore.ErrAlreadyExists, "a token with a stored hash")
	_, err = s.CreateToken(bg, "nope", "x", "h3")
	isErr(t, err, hubstore.ErrNotFound, "a token for an unknown workspace")
	got := must[hubstore.Token](t)(s.TokenByHash(bg, "h1"))
	if got.ID != k1.ID || got.Workspace != w.ID || got.Label != "laptop" || !got.Revoked.IsZero() {
		t.Fatalf("TokenByHash = %+v", got)
	}
	_, err = s.TokenByHash(bg, "unknown")
	isErr(t, err, hubstore.ErrNotFound, "an unknown hash")
	ok(t, s.RevokeToken(bg, w.ID, k1.ID))
	ok(t, s.RevokeToken(bg, w.ID, k1.ID)) // twice is fine
	_, err = s.TokenByHash(bg, "h1")
	isErr(t, err, hubstore.ErrNotFound, "a revoked token")
	isErr(t, s.RevokeToken(bg, w.ID, "nope"), hubstore.ErrNotFound, "revoking an unknown token")
	list := must[[]hubstore.Token](t)(s.Tokens(bg, w.ID))
	if len(list) != 2 || list[0].ID != k1.ID || list[0].Revoked.IsZero() || list[1].ID != k2.ID || !list[1].Revoked.IsZero() {
		t.Fatalf("Tokens = %+v", list)
	}
	if f := must[hubstore.Token](t)(s.FindToken(bg, k2.ID)); f.Workspace != w.ID || f.Hash != "h2" {
		t.Fatalf("FindToken = %+v", f)
	}
	_, err = s.FindToken(bg, "nope")
	isErr(t, err, hubstore.ErrNotFound, "finding an unknown token")
}

// failReader fails the test if a stored bundle is read again.
type failReader struct{ t *testing.T }

func (f failReader) Read([]byte) (int, error) {
	f.t.Error("a bundle already stored was read again")
	return 0, io.EOF
}

func testBundles(t *testing.T, open Opener) {
	s := mustOpen(t, open)
	w := must[hubstore.Workspace](t)(s.CreateWorkspace(bg, "w"))
	big := make([]byte, 5<<19+123) // several chunks and a partial one
	for i := range big {
		big[i] = byte(i * 7 % 251)
	}
	h := hashOf(big)
	ok(t, s.PutBundle(bg, w.ID, h, int64(len(big)), bytes.NewReader(big)))
	ok(t, s.PutBundle(bg, w.ID, h, int64(len(big)), failReader{t}))
	rc, size, err := s.OpenBundle(bg, w.ID, h)
	ok(t, err)
	got, err := io.ReadAll(rc)
	rc.Close()
	ok(t, err)
	if size != int64(len(big)) || !bytes.Equal(got, big) {
		t.Fatalf("read back %d bytes (size %d), want %d identical", len(got), size, len(big))
	}
	// Wrong bytes for the hash, or a wrong size: refused and not kept.
	other := hashOf([]byte("other"))
	isErr(t, s.PutBundle(bg, w.ID, other, 5, bytes.NewReader([]byte("wrong"))), hubstore.ErrConflict, "bytes that do not match the hash")
	isErr(t, s.PutBundle(bg, w.ID, other, 4, bytes.NewReader([]byte("other"))), hubstore.ErrConflict, "more bytes than announced")
	isErr(t, s.PutBundle(bg, w.ID, "short", 5, bytes.NewReader([]byte("other"))), hubstore.ErrConflict, "a hash that is not SHA-256")
	_, _, err = s.OpenBundle(bg, w.ID, other)
	isErr(t, err, hubstore.ErrNotFound, "a refused bundle")
	ok(t, s.PutBundle(bg, w.ID, other, 5, bytes.NewReader([]byte("other"))))
}

func testPublish(t *testing.T, open Opener) {
	s := mustOpen(t, open)
	f := newFixture(t, s, "w", "baker")
	ws := f.ws.ID
	a := must[hubstore.Agent](t)(s.Agent(bg, ws, "baker"))
	if a.Current != 1 || a.Latest != 1 || a.Access != hubstore.AccessOpen || a.Workspace != ws {
		t.Fatalf("after the first publish: %+v", a)
	}
	v2 := must[hubstore.Version](t)(s.Publish(bg, ws, "baker", json.RawMessage(`{"v":2}`), f.hash))
	if v2.Number != 2 || v2.Bundle != f.hash {
		t.Fatalf("second version: %+v", v2)
	}
	_, err := s.Publish(bg, ws, "baker", json.RawMessage(`{}`), hashOf([]byte("never put")))
	isErr(t, err, hubstore.ErrNotFound, "publishing a bundle never put")
	_, err = s.Publish(bg, ws, "baker", json.RawMessage(`{`), f.hash)
	if err == nil {
		t.Fatal("a definition that is not JSON was published")
	}
	vs := must[[]hubstore.Version](t)(s.Versions(bg, ws, "baker"))
	if len(vs) != 2 || vs[0].Number != 1 || vs[1].Number != 2 || string(vs[1].Definition) != `{"v":2}` {
		t.Fatalf("Versions = %+v", vs)
	}
	if v := must[hubstore.Version](t)(s.Version(bg, ws, "baker", 1)); string(v.Definition) != `{"name":"baker"}` {
		t.Fatalf("Version 1 = %+v", v)
	}
	_, err = s.Version(bg, ws, "baker", 9)
	isErr(t, err, hubstore.ErrNotFound, "an unknown version")
	rb := must[hubstore.Version](t)(s.Rollback(bg, ws, "baker"))
	if rb.Number != 1 {
		t.Fatalf("rolled back to %d", rb.Number)
	}
	if a := must[hubstore.Agent](t)(s.Agent(bg, ws, "baker")); a.Current != 1 || a.Latest != 2 {
		t.Fatalf("after rollback: %+v", a)
	}
	_, err = s.Rollback(bg, ws, "baker")
	isErr(t, err, hubstore.ErrConflict, "rolling back past the first version")
	_, err = s.Rollback(bg, ws, "nope")
	isErr(t, err, hubstore.ErrNotFound, "rolling back an unknown agent")
	v3 := must[hubstore.Version](t)(s.Publish(bg, ws, "baker", json.RawMessage(`{"v":3}`), f.hash))
	if a := must[hubstore.Agent](t)(s.Agent(bg, ws, "baker")); v3.Number != 3 || a.Current != 3 {
		t.Fatalf("publish after rollback: %+v, %+v", v3, a)
	}
	r := must[hubstore.Agent](t)(s.ResolveAgent(bg, "baker"))
	if r.Workspace != ws || r.Current != 3 {
		t.Fatalf("ResolveAgent = %+v", r)
	}
	_, err = s.ResolveAgent(bg, "nope")
	isErr(t, err, hubstore.ErrNotFound, "resolving an unknown name")
	up := must[hubstore.Agent](t)(s.UpdateAgent(bg, ws, "baker", func(a hubstore.Agent) (hubstore.Agent, error) {
		a.Access, a.Current, a.Workspace = hubstore.AccessKey, 1, "other"
		return a, nil
	}))
	if up.Access != hubstore.AccessKey || up.Current != 3 || up.Workspace != ws {
		t.Fatalf("UpdateAgent = %+v", up)
	}
	_, err = s.UpdateAgent(bg, ws, "baker", func(a hubstore.Agent) (hubstore.Agent, error) { a.Access = "bogus"; return a, nil })
	if err == nil {
		t.Fatal("an unknown access mode was stored")
	}
	if a := must[hubstore.Agent](t)(s.Agent(bg, ws, "baker")); a.Access != hubstore.AccessKey {
		t.Fatalf("access after a refused update: %q", a.Access)
	}
	g := newFixture(t, s, "other", "clinic")
	_, err = s.Publish(bg, g.ws.ID, "baker", json.RawMessage(`{}`), g.hash)
	isErr(t, err, hubstore.ErrAlreadyExists, "publishing a name another workspace owns")
	pub := must[[]hubstore.Agent](t)(s.PublicAgents(bg))
	if len(pub) != 2 || pub[0].Name != "baker" || pub[1].Name != "clinic" {
		t.Fatalf("PublicAgents = %+v", pub)
	}
	mine := must[[]hubstore.Agent](t)(s.Agents(bg, ws))
	if len(mine) != 1 || mine[0].Name != "baker" {
		t.Fatalf("Agents = %+v", mine)
	}
}

func testUnpublish(t *testing.T, open Opener) {
	s := mustOpen(t, open)
	f := newFixture(t, s, "w", "baker")
	ws := f.ws.ID
	// A second agent shares the bundle: it must survive.
	must[hubstore.Version](t)(s.Publish(bg, ws, "twin", json.RawMessage(`{}`), f.hash))
	only := []byte("only baker's")
	ok(t, s.PutBundle(bg, ws, hashOf(only), int64(len(only)), bytes.NewReader(only)))
	must[hubstore.Version](t)(s.Publish(bg, ws, "baker", json.RawMessage(`{}`), hashOf(only)))
	must[hubstore.APIKey](t)(s.CreateKey(bg, ws, "baker", "site", "kh"))
	must[hubstore.Turn](t)(first(s.AppendTurn(bg, ws, "baker", "c1", hubstore.Turn{Question: "q", Answer: "a"})))
	must[hubstore.Lead](t)(first(s.SaveLead(bg, ws, "baker", "k", hubstore.Lead{Email: "a@b.c"})))
	must[[]hubstore.Fact](t)(s.UpdateMemories(bg, ws, "baker", "u1", addFact("likes rye")))
	ok(t, s.Unpublish(bg, ws, "baker"))
	_, err := s.Agent(bg, ws, "baker")
	isErr(t, err, hubstore.ErrNotFound, "an unpublished agent")
	_, err = s.Versions(bg, ws, "baker")
	isErr(t, err, hubstore.ErrNotFound, "versions of an unpublished agent")
	_, err = s.KeyByHash(bg, "kh")
	isErr(t, err, hubstore.ErrNotFound, "a key of an unpublished agent")
	_, err = s.Conversation(bg, ws, "c1")
	isErr(t, err, hubstore.ErrNotFound, "a conversation of an unpublished agent")
	_, _, err = s.OpenBundle(bg, ws, hashOf(only))
	isErr(t, err, hubstore.ErrNotFound, "a bundle only the unpublished agent used")
	rc, _, err := s.OpenBundle(bg, ws, f.hash)
	ok(t, err)
	rc.Close()
	isErr(t, s.Unpublish(bg, ws, "baker"), hubstore.ErrNotFound, "unpublishing twice")
	// The name is free again, for anyone; nothing of the old agent comes back.
	g := newFixture(t, s, "other", "clinic")
	must[hubstore.Version](t)(s.Publish(bg, g.ws.ID, "baker", json.RawMessage(`{}`), g.hash))
	if l := must[[]hubstore.Lead](t)(s.Leads(bg, g.ws.ID, "baker")); len(l) != 0 {
		t.Fatalf("leads of the old agent came back: %+v", l)
	}
	if m := must[[]hubstore.Fact](t)(s.Memories(bg, g.ws.ID, "baker", "u1")); len(m) != 0 {
		t.Fatalf("memories of the old agent came back: %+v", m)
	}
	if v := must[[]hubstore.Version](t)(s.Versions(bg, g.ws.ID, "baker")); len(v) != 1 || v[0].Number != 1 {
		t.Fatalf("versions of the new owner: %+v", v)
	}
}

func first[A, B any](a A, _ B, err error) (A, error) { return a, err }

func addFact(text string) func([]hubstore.Fact) ([]hubstore.Fact, error) {
	return func(old []hubstore.Fact) ([]hubstore.Fact, error) {
		now := time.Now().UTC()
		return append(old, hubstore.Fact{ID: hubstore.NewID(), Text: text, Created: now, Updated: now}), nil
	}
}

func testKeys(t *testing.T, open Opener) {
	s := mustOpen(t, open)
	f := newFixture(t, s, "w", "baker")
	ws := f.ws.ID
	k := must[hubstore.APIKey](t)(s.CreateKey(bg, ws, "baker", "website", "kh1"))
	_, err := s.CreateKey(bg, ws, "baker", "website", "kh2")
	isErr(t, err, hubstore.ErrAlreadyExists, "a second key of the same name")
	_, err = s.CreateKey(bg, ws, "baker", "other", "kh1")
	isErr(t, err, hubstore.ErrAlreadyExists, "a key with a stored hash")
	_, err = s.CreateKey(bg, ws, "nope", "x", "kh3")
	isErr(t, err, hubstore.ErrNotFound, "a key for an unknown agent")
	got := must[hubstore.APIKey](t)(s.KeyByHash(bg, "kh1"))
	if got.ID != k.ID || got.Agent != "baker" || got.Workspace != ws || got.Name != "website" {
		t.Fatalf("KeyByHash = %+v", got)
	}
	ok(t, s.RevokeKey(bg, ws, k.ID))
	_, err = s.KeyByHash(bg, "kh1")
	isErr(t, err, hubstore.ErrNotFound, "a revoked key")
	isErr(t, s.RevokeKey(bg, ws, "nope"), hubstore.ErrNotFound, "revoking an unknown key")
	// The name is free again once revoked.
	k2 := must[hubstore.APIKey](t)(s.CreateKey(bg, ws, "baker", "website", "kh2"))
	list := must[[]hubstore.APIKey](t)(s.Keys(bg, ws, "baker"))
	if len(list) != 2 || list[0].Revoked.IsZero() || list[1].ID != k2.ID || !list[1].Revoked.IsZero() {
		t.Fatalf("Keys = %+v", list)
	}
}

func testConversations(t *testing.T, open Opener) {
	s := mustOpen(t, open)
	f := newFixture(t, s, "w", "baker")
	ws := f.ws.ID
	must[hubstore.Version](t)(s.Publish(bg, ws, "florist", json.RawMessage(`{}`), f.hash))
	meta := json.RawMessage(`{"citations":[{"n":1}]}`)
	t1, dup, err := s.AppendTurn(bg, ws, "baker", "c1", hubstore.Turn{Key: "r1", Question: "Do you open on Sunday?", Answer: "Yes", Meta: meta})
	ok(t, err)
	if dup || t1.Seq != 1 || t1.At.IsZero() {
		t.Fatalf("first turn: %+v dup=%v", t1, dup)
	}
	again, dup, err := s.AppendTurn(bg, ws, "baker", "c1", hubstore.Turn{Key: "r1", Question: "Do you open on Sunday?", Answer: "a different answer"})
	ok(t, err)
	if !dup || again.Seq != 1 || again.Answer != "Yes" {
		t.Fatalf("retried turn: %+v dup=%v", again, dup)
	}
	t2, _, err := s.AppendTurn(bg, ws, "baker", "c1", hubstore.Turn{Key: "r2", Question: "Gluten free?", Answer: "Some"})
	ok(t, err)
	t3, _, err := s.AppendTurn(bg, ws, "baker", "c1", hubstore.Turn{Question: "no key", Answer: "x"})
	ok(t, err)
	t4, _, err := s.AppendTurn(bg, ws, "baker", "c1", hubstore.Turn{Question: "no key", Answer: "x"})
	ok(t, err)
	if t2.Seq != 2 || t3.Seq != 3 || t4.Seq != 4 {
		t.Fatalf("seqs %d %d %d", t2.Seq, t3.Seq, t4.Seq)
	}
	_, _, err = s.AppendTurn(bg, ws, "florist", "c1", hubstore.Turn{Question: "q", Answer: "a"})
	isErr(t, err, hubstore.ErrForbidden, "a turn for another agent's conversation")
	_, _, err = s.AppendTurn(bg, ws, "nope", "c9", hubstore.Turn{Question: "q", Answer: "a"})
	isErr(t, err, hubstore.ErrNotFound, "a turn for an unknown agent")
	c := must[hubstore.Conversation](t)(s.Conversation(bg, ws, "c1"))
	if c.Agent != "baker" || c.Turns != 4 || c.Title != "Do you open on Sunday?" {
		t.Fatalf("Conversation = %+v", c)
	}
	all := must[[]hubstore.Turn](t)(s.Turns(bg, ws, "c1", 10))
	if len(all) != 4 || all[0].Key != "r1" || string(all[0].Meta) != string(meta) || all[3].Seq != 4 {
		t.Fatalf("Turns = %+v", all)
	}
	last := must[[]hubstore.Turn](t)(s.Turns(bg, ws, "c1", 2))
	if len(last) != 2 || last[0].Seq != 3 || last[1].Seq != 4 {
		t.Fatalf("last 2 turns = %+v", last)
	}
	_, err = s.Turns(bg, ws, "nope", 2)
	isErr(t, err, hubstore.ErrNotFound, "turns of an unknown conversation")
	later := time.Now().Add(time.Second)
	must[hubstore.Turn](t)(first(s.AppendTurn(bg, ws, "baker", "c2", hubstore.Turn{Question: "second", Answer: "a", At: later})))
	list := must[[]hubstore.Conversation](t)(s.Conversations(bg, ws, "baker", 10))
	if len(list) != 2 || list[0].ID != "c2" || list[1].ID != "c1" {
		t.Fatalf("Conversations = %+v", list)
	}
	if l := must[[]hubstore.Conversation](t)(s.Conversations(bg, ws, "baker", 1)); len(l) != 1 {
		t.Fatalf("limit 1 gave %d", len(l))
	}
	n := must[int](t)(s.PruneConversations(bg, later.Add(-time.Millisecond)))
	if n != 1 {
		t.Fatalf("pruned %d, want 1", n)
	}
	_, err = s.Conversation(bg, ws, "c1")
	isErr(t, err, hubstore.ErrNotFound, "a pruned conversation")
	must[hubstore.Conversation](t)(s.Conversation(bg, ws, "c2"))
}

func testLeads(t *testing.T, open Opener) {
	s := mustOpen(t, open)
	f := newFixture(t, s, "w", "baker")
	ws := f.ws.ID
	t0 := time.Date(2026, 11, 1, 10, 0, 0, 0, time.UTC)
	l1, merged, err := s.SaveLead(bg, ws, "baker", "k1", hubstore.Lead{Name: "Ann", Email: "Ann@Example.com", Conversation: "c1",
		Fields: map[string]string{"name": "Ann", "email": "Ann@Example.com"}, Created: t0, Updated: t0})
	ok(t, err)
	if merged || l1.ID == "" || l1.Agent != "baker" {
		t.Fatalf("first lead: %+v merged=%v", l1, merged)
	}
	// A retried request: the same lead, stored once.
	again, merged, err := s.SaveLead(bg, ws, "baker", "k1", hubstore.Lead{Name: "Ann", Email: "ann@example.com"})
	ok(t, err)
	if merged || again.ID != l1.ID {
		t.Fatalf("retry: %+v merged=%v", again, merged)
	}
	// Another person by phone.
	l2 := must[hubstore.Lead](t)(first(s.SaveLead(bg, ws, "baker", "k2", hubstore.Lead{Name: "Bob", Phone: "+44 20 7946 0000", Created: t0.Add(time.Hour), Updated: t0.Add(time.Hour)})))
	// Same email, other case: merged into Ann, her id and creation kept.
	t2 := t0.Add(2 * time.Hour)
	m, merged, err := s.SaveLead(bg, ws, "baker", "k3", hubstore.Lead{Email: "ann@example.com", Phone: "", Conversation: "c3",
		Fields: map[string]string{"note": "wants a cake"}, Created: t2, Updated: t2})
	ok(t, err)
	if !merged || m.ID != l1.ID || !m.Created.Equal(t0) || !m.Updated.Equal(t2) || m.Name != "Ann" || m.Conversation != "c3" ||
		m.Fields["note"] != "wants a cake" || m.Fields["name"] != "Ann" {
		t.Fatalf("merged by email: %+v merged=%v", m, merged)
	}
	// A lead with Ann's email and Bob's phone links them: one person.
	t3 := t0.Add(3 * time.Hour)
	link, merged, err := s.SaveLead(bg, ws, "baker", "k4", hubstore.Lead{Email: "ANN@example.com", Phone: "(44) 20-7946-0000", Created: t3, Updated: t3})
	ok(t, err)
	// As agent.Leads.Merge: Bob's stored lead is merged into Ann's, the
	// later one's non-empty values winning.
	if !merged || link.ID != l1.ID || link.Name != "Bob" || link.Email != "ANN@example.com" {
		t.Fatalf("linking lead: %+v", link)
	}
	all := must[[]hubstore.Lead](t)(s.Leads(bg, ws, "baker"))
	if len(all) != 1 || all[0].ID != l1.ID || all[0].Phone != "(44) 20-7946-0000" {
		t.Fatalf("Leads after linking = %+v (Bob was %s)", all, l2.ID)
	}
	// Bob's key now names the merged lead.
	bob, merged, err := s.SaveLead(bg, ws, "baker", "k2", hubstore.Lead{Name: "ignored"})
	ok(t, err)
	if merged || bob.ID != l1.ID {
		t.Fatalf("retry of a merged lead's key: %+v", bob)
	}
	// An empty key stores every time (merging still applies).
	must[hubstore.Lead](t)(first(s.SaveLead(bg, ws, "baker", "", hubstore.Lead{Name: "Cy"})))
	must[hubstore.Lead](t)(first(s.SaveLead(bg, ws, "baker", "", hubstore.Lead{Name: "Cy"})))
	all = must[[]hubstore.Lead](t)(s.Leads(bg, ws, "baker"))
	if len(all) != 3 || all[0].ID != l1.ID || all[1].Name != "Cy" {
		t.Fatalf("Leads = %+v", all)
	}
	_, _, err = s.SaveLead(bg, ws, "nope", "k", hubstore.Lead{Name: "x"})
	isErr(t, err, hubstore.ErrNotFound, "a lead for an unknown agent")
	_, err = s.Leads(bg, ws, "nope")
	isErr(t, err, hubstore.ErrNotFound, "leads of an unknown agent")
}

func testMemories(t *testing.T, open Opener) {
	s := mustOpen(t, open)
	f := newFixture(t, s, "w", "baker")
	ws := f.ws.ID
	if m := must[[]hubstore.Fact](t)(s.Memories(bg, ws, "baker", "u1")); len(m) != 0 {
		t.Fatalf("new user remembers %+v", m)
	}
	must[[]hubstore.Fact](t)(s.UpdateMemories(bg, ws, "baker", "u1", addFact("likes rye")))
	got := must[[]hubstore.Fact](t)(s.UpdateMemories(bg, ws, "baker", "u1", addFact("allergic to nuts")))
	if len(got) != 2 {
		t.Fatalf("after two adds: %+v", got)
	}
	boom := errors.New("boom")
	_, err := s.UpdateMemories(bg, ws, "baker", "u1", func(old []hubstore.Fact) ([]hubstore.Fact, error) { return nil, boom })
	isErr(t, err, boom, "fn's error")
	m := must[[]hubstore.Fact](t)(s.Memories(bg, ws, "baker", "u1"))
	if len(m) != 2 || m[0].Text != "likes rye" || m[1].Text != "allergic to nuts" {
		t.Fatalf("Memories = %+v", m)
	}
	if o := must[[]hubstore.Fact](t)(s.Memories(bg, ws, "baker", "u2")); len(o) != 0 {
		t.Fatalf("another user sees %+v", o)
	}
	must[[]hubstore.Fact](t)(s.UpdateMemories(bg, ws, "baker", "u1", func([]hubstore.Fact) ([]hubstore.Fact, error) { return nil, nil }))
	if m := must[[]hubstore.Fact](t)(s.Memories(bg, ws, "baker", "u1")); len(m) != 0 {
		t.Fatalf("after clearing: %+v", m)
	}
	_, err = s.Memories(bg, ws, "nope", "u1")
	isErr(t, err, hubstore.ErrNotFound, "memories of an unknown agent")
}

func testUsage(t *testing.T, open Opener) {
	s := mustOpen(t, open)
	f := newFixture(t, s, "w", "baker")
	ws := f.ws.ID
	k := must[hubstore.APIKey](t)(s.CreateKey(bg, ws, "baker", "site", "kh"))
	d1 := time.Date(2026, 11, 30, 23, 59, 0, 0, time.UTC)
	d2 := d1.Add(2 * time.Minute)
	ok(t, s.AddUsage(bg, ws, "", d1, hubstore.Usage{Requests: 1, TokensIn: 10, TokensOut: 20}))
	ok(t, s.AddUsage(bg, ws, k.ID, d1, hubstore.Usage{Requests: 1, TokensIn: 5, TokensOut: 6, Errors: 1}))
	ok(t, s.AddUsage(bg, ws, k.ID, d2, hubstore.Usage{Requests: 1}))
	isErr(t, s.AddUsage(bg, ws, "nope", d1, hubstore.Usage{Requests: 1}), hubstore.ErrNotFound, "usage of an unknown key")
	rows := must[[]hubstore.UsageRow](t)(s.Usage(bg, ws, d1, d2))
	want := []hubstore.UsageRow{
		{Day: "2026-11-30", Key: "", Usage: hubstore.Usage{Requests: 2, TokensIn: 15, TokensOut: 26, Errors: 1}},
		{Day: "2026-11-30", Key: k.ID, Usage: hubstore.Usage{Requests: 1, TokensIn: 5, TokensOut: 6, Errors: 1}},
		{Day: "2026-12-01", Key: "", Usage: hubstore.Usage{Requests: 1}},
		{Day: "2026-12-01", Key: k.ID, Usage: hubstore.Usage{Requests: 1}},
	}
	if !slices.Equal(rows, want) {
		t.Fatalf("Usage =\n%+v\nwant\n%+v", rows, want)
	}
	if r := must[[]hubstore.UsageRow](t)(s.Usage(bg, ws, d2, d2)); len(r) != 2 {
		t.Fatalf("one day's usage: %+v", r)
	}
}

// testRecordAnswer: the turn and its usage in one transaction; a refused
// turn counts nothing, a retried one counts again.
func testRecordAnswer(t *testing.T, open Opener) {
	s := mustOpen(t, open)
	f := newFixture(t, s, "w", "baker")
	ws := f.ws.ID
	other := newFixture(t, s, "other", "florist")
	k := must[hubstore.APIKey](t)(s.CreateKey(bg, ws, "baker", "site", "kh"))
	at := time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)
	u := hubstore.Usage{Requests: 1, TokensIn: 30, TokensOut: 7}
	t1, dup, err := s.RecordAnswer(bg, ws, "baker", "c1", hubstore.Turn{Key: "r1", Question: "Open on Sunday?", Answer: "Yes", At: at}, k.ID, u)
	ok(t, err)
	if dup || t1.Seq != 1 {
		t.Fatalf("first: %+v %v", t1, dup)
	}
	again, dup, err := s.RecordAnswer(bg, ws, "baker", "c1", hubstore.Turn{Key: "r1", Question: "Open on Sunday?", Answer: "other", At: at}, k.ID, u)
	ok(t, err)
	if !dup || again.Answer != "Yes" {
		t.Fatalf("retry: %+v %v", again, dup)
	}
	// Refused: another workspace's agent, an unknown key. Nothing is counted.
	_, _, err = s.RecordAnswer(bg, ws, "florist", "c2", hubstore.Turn{Question: "q", Answer: "a", At: at}, "", u)
	isErr(t, err, hubstore.ErrNotFound, "an answer of another workspace's agent")
	_, _, err = s.RecordAnswer(bg, ws, "baker", "c3", hubstore.Turn{Question: "q", Answer: "a", At: at}, "nope", u)
	isErr(t, err, hubstore.ErrNotFound, "an answer with an unknown key")
	if _, err := s.Conversation(bg, ws, "c3"); !errors.Is(err, hubstore.ErrNotFound) {
		t.Fatalf("a refused answer left its conversation: %v", err)
	}
	rows := must[[]hubstore.UsageRow](t)(s.Usage(bg, ws, at, at))
	want := []hubstore.UsageRow{
		{Day: "2026-11-30", Key: "", Usage: hubstore.Usage{Requests: 2, TokensIn: 60, TokensOut: 14}},
		{Day: "2026-11-30", Key: k.ID, Usage: hubstore.Usage{Requests: 2, TokensIn: 60, TokensOut: 14}},
	}
	if !slices.Equal(rows, want) {
		t.Fatalf("usage =\n%+v\nwant\n%+v", rows, want)
	}
	if r := must[[]hubstore.UsageRow](t)(s.Usage(bg, other.ws.ID, at, at)); len(r) != 0 {
		t.Fatalf("the other workspace counted: %+v", r)
	}
}

// testSweepBundles: a bundle put and never published is deleted by a sweep
// an hour later; a published one, and a fresh one, stay.
func testSweepBundles(t *testing.T, open Opener) {
	s := mustOpen(t, open)
	f := newFixture(t, s, "w", "baker")
	orphan := []byte("a bundle whose publish was cut short")
	oh := hashOf(orphan)
	ok(t, s.PutBundle(bg, f.ws.ID, oh, int64(len(orphan)), bytes.NewReader(orphan)))
	ok(t, s.Sweep(bg, time.Now()))
	if rc, _, err := s.OpenBundle(bg, f.ws.ID, oh); err != nil {
		t.Fatalf("a fresh bundle was swept: %v", err)
	} else {
		rc.Close()
	}
	ok(t, s.Sweep(bg, time.Now().Add(2*time.Hour)))
	_, _, err := s.OpenBundle(bg, f.ws.ID, oh)
	isErr(t, err, hubstore.ErrNotFound, "an unpublished bundle after the sweep")
	rc, _, err := s.OpenBundle(bg, f.ws.ID, f.hash)
	ok(t, err)
	b, _ := io.ReadAll(rc)
	rc.Close()
	if !bytes.Equal(b, f.bundle) {
		t.Fatal("a published bundle changed in the sweep")
	}
}

// testLeases: at most max held at once, across instances on the same
// data; released and expired ones free their slot; leases of one
// workspace neither count for nor can be touched by another.
func testLeases(t *testing.T, open Opener) {
	s := mustOpen(t, open)
	s2 := mustOpen(t, open)
	a := must[hubstore.Workspace](t)(s.CreateWorkspace(bg, "a"))
	b := must[hubstore.Workspace](t)(s.CreateWorkspace(bg, "b"))
	at := time.Now()
	ttl := 30 * time.Second
	l1 := must[string](t)(s.AcquireLease(bg, a.ID, "streams", 2, at, ttl))
	must[string](t)(s2.AcquireLease(bg, a.ID, "streams", 2, at, ttl))
	_, err := s.AcquireLease(bg, a.ID, "streams", 2, at, ttl)
	isErr(t, err, hubstore.ErrConflict, "a third lease of two")
	must[string](t)(s.AcquireLease(bg, b.ID, "streams", 2, at, ttl)) // b has its own slots
	ok(t, s2.ReleaseLease(bg, b.ID, l1))                             // another workspace's id: no effect
	_, err = s.AcquireLease(bg, a.ID, "streams", 2, at, ttl)
	isErr(t, err, hubstore.ErrConflict, "after another workspace released a's lease")
	ok(t, s2.ReleaseLease(bg, a.ID, l1))
	l3 := must[string](t)(s.AcquireLease(bg, a.ID, "streams", 2, at, ttl))
	// Renewed leases stay, expired ones free their slot.
	later := at.Add(20 * time.Second)
	ok(t, s.RenewLease(bg, a.ID, l3, later, ttl)) // to at+50s; the other ends at at+30s
	must[string](t)(s.AcquireLease(bg, a.ID, "streams", 2, at.Add(40*time.Second), ttl))
	_, err = s.AcquireLease(bg, a.ID, "streams", 2, at.Add(40*time.Second), ttl)
	isErr(t, err, hubstore.ErrConflict, "with one lease renewed and a new one")
	must[string](t)(s.AcquireLease(bg, a.ID, "streams", 2, at.Add(55*time.Second), ttl))
	isErr(t, s.RenewLease(bg, a.ID, l3, at.Add(2*time.Minute), ttl), hubstore.ErrNotFound, "renewing an expired lease")
	ok(t, s.Sweep(bg, at.Add(time.Hour)))
	// Many at once, from two instances: exactly max succeed.
	c := must[hubstore.Workspace](t)(s.CreateWorkspace(bg, "c"))
	var wg sync.WaitGroup
	var mu sync.Mutex
	got := 0
	for i := range 12 {
		wg.Go(func() {
			st := s
			if i%2 == 1 {
				st = s2
			}
			if _, err := st.AcquireLease(bg, c.ID, "streams", 3, at, ttl); err == nil {
				mu.Lock()
				got++
				mu.Unlock()
			} else if !errors.Is(err, hubstore.ErrConflict) {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if got != 3 {
		t.Fatalf("%d of 12 concurrent leases of 3 were granted", got)
	}
}

func testIncr(t *testing.T, open Opener) {
	s := mustOpen(t, open)
	at := time.Date(2026, 11, 30, 10, 0, 30, 0, time.UTC)
	for i := int64(1); i <= 3; i++ {
		n, resets, err := s.Incr(bg, "w1", "ip:1.2.3.4", at.Add(time.Duration(i)*time.Second), time.Minute)
		ok(t, err)
		if n != i || !resets.Equal(time.Date(2026, 11, 30, 10, 1, 0, 0, time.UTC)) {
			t.Fatalf("count %d resets %v", n, resets)
		}
	}
	if n, _, _ := s.Incr(bg, "w1", "ip:1.2.3.4", at.Add(31*time.Second), time.Minute); n != 1 {
		t.Fatalf("the next window starts at %d", n)
	}
	if n, _, _ := s.Incr(bg, "w2", "ip:1.2.3.4", at, time.Minute); n != 1 {
		t.Fatalf("another workspace's counter starts at %d", n)
	}
	if n, _, _ := s.Incr(bg, "", "ip:1.2.3.4", at, time.Minute); n != 1 {
		t.Fatalf("the hub-wide counter starts at %d", n)
	}
	if n, _, _ := s.Incr(bg, "w1", "ip:1.2.3.4", at, 24*time.Hour); n != 1 {
		t.Fatalf("another window length starts at %d", n)
	}
	ok(t, s.Sweep(bg, at.Add(25*time.Hour)))
	if n, _, _ := s.Incr(bg, "w1", "ip:1.2.3.4", at, time.Minute); n != 1 {
		t.Fatalf("a swept counter counts from %d", n)
	}
}

// waitChange reads c until a change matching want arrives or the
// deadline passes.
func waitChange(t *testing.T, c <-chan hubstore.Change, within time.Duration, want func(hubstore.Change) bool, what string) hubstore.Change {
	t.Helper()
	deadline := time.After(within)
	for {
		select {
		case ch, open := <-c:
			if !open {
				t.Fatalf("%s: the change feed closed", what)
			}
			if want(ch) {
				return ch
			}
		case <-deadline:
			t.Fatalf("%s: no change within %v", what, within)
		}
	}
}

func testWatch(t *testing.T, open Opener) {
	s := mustOpen(t, open)
	r := mustOpen(t, open) // another replica
	f := newFixture(t, s, "w", "baker")
	ws := f.ws.ID
	tok := must[hubstore.Token](t)(s.CreateToken(bg, ws, "t", "th"))
	key := must[hubstore.APIKey](t)(s.CreateKey(bg, ws, "baker", "k", "kh"))
	ctx, cancel := context.WithCancel(bg)
	defer cancel()
	mine, theirs := s.Watch(ctx), r.Watch(ctx)

	// What happens on s is seen on s and, within a second, on r.
	steps := []struct {
		do   func()
		want hubstore.Change
	}{
		{func() { must[hubstore.Version](t)(s.Publish(bg, ws, "baker", json.RawMessage(`{}`), f.hash)) },
			hubstore.Change{Kind: hubstore.ChangePublished, Workspace: ws, Agent: "baker", Version: 2}},
		{func() { must[hubstore.Version](t)(s.Rollback(bg, ws, "baker")) },
			hubstore.Change{Kind: hubstore.ChangeRolledBack, Workspace: ws, Agent: "baker", Version: 1}},
		{func() { ok(t, s.RevokeToken(bg, ws, tok.ID)) },
			hubstore.Change{Kind: hubstore.ChangeTokenRevoked, Workspace: ws, ID: tok.ID}},
		{func() { ok(t, s.RevokeKey(bg, ws, key.ID)) },
			hubstore.Change{Kind: hubstore.ChangeKeyRevoked, Workspace: ws, Agent: "baker", ID: key.ID}},
		{func() {
			must[hubstore.Agent](t)(s.UpdateAgent(bg, ws, "baker", func(a hubstore.Agent) (hubstore.Agent, error) { a.Access = hubstore.AccessKey; return a, nil }))
		}, hubstore.Change{Kind: hubstore.ChangeAgentUpdated, Workspace: ws, Agent: "baker", Version: 1}},
		{func() { ok(t, s.Unpublish(bg, ws, "baker")) },
			hubstore.Change{Kind: hubstore.ChangeUnpublished, Workspace: ws, Agent: "baker"}},
	}
	lastSeq := map[string]int64{}
	for _, st := range steps {
		start := time.Now()
		st.do()
		for name, c := range map[string]<-chan hubstore.Change{"this instance": mine, "another instance": theirs} {
			got := waitChange(t, c, time.Second, func(hubstore.Change) bool { return true }, string(st.want.Kind)+" on "+name)
			w := st.want
			w.Seq, w.At = got.Seq, got.At
			if got != w {
				t.Fatalf("%s on %s: got %+v, want %+v", st.want.Kind, name, got, w)
			}
			if got.Seq <= lastSeq[name] {
				t.Fatalf("change numbers go back on %s: %d after %d", name, got.Seq, lastSeq[name])
			}
			lastSeq[name] = got.Seq
		}
		t.Logf("%s seen on both instances after %v", st.want.Kind, time.Since(start))
	}
	// A feed started later sees only what comes after it.
	late := r.Watch(ctx)
	ok(t, s.PutBundle(bg, ws, f.hash, int64(len(f.bundle)), bytes.NewReader(f.bundle)))
	must[hubstore.Version](t)(s.Publish(bg, ws, "again", json.RawMessage(`{}`), f.hash))
	got := waitChange(t, late, time.Second, func(hubstore.Change) bool { return true }, "a late watcher")
	if got.Agent != "again" {
		t.Fatalf("a late watcher first saw %+v", got)
	}
	// Ending the context closes the feed.
	cancel()
	deadline := time.After(10 * time.Second)
	for open := true; open; {
		select {
		case _, open = <-mine:
		case <-deadline:
			t.Fatal("the feed did not close after its context ended")
		}
	}
}

func testMigrations(t *testing.T, open Opener) {
	const n = 5
	var wg sync.WaitGroup
	stores := make([]hubstore.Storage, n)
	errs := make([]error, n)
	start := make(chan struct{})
	for i := range n {
		wg.Go(func() {
			<-start
			stores[i], errs[i] = open()
		})
	}
	close(start)
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("instance %d of %d starting at once failed: %v", i, n, err)
		}
		defer stores[i].Close()
	}
	m, isMigrator := stores[0].(Migrator)
	if !isMigrator {
		t.Fatalf("%T does not list its applied migrations", stores[0])
	}
	applied, err := m.AppliedMigrations(bg)
	ok(t, err)
	var want []int
	for v := 1; v <= m.LatestMigration(); v++ {
		want = append(want, v)
	}
	if !slices.Equal(applied, want) {
		t.Fatalf("applied migrations %v, want each of %v once", applied, want)
	}
	// Every instance works on the migrated schema.
	for i, s := range stores {
		must[hubstore.Workspace](t)(s.CreateWorkspace(bg, fmt.Sprintf("w%d", i)))
	}
}

func testFeedback(t *testing.T, open Opener) {
	s := mustOpen(t, open)
	f := newFixture(t, s, "w", "baker")
	ws := f.ws.ID
	must[hubstore.Version](t)(s.Publish(bg, ws, "florist", json.RawMessage(`{}`), f.hash))
	t0 := time.Now().Add(-time.Hour).UTC().Truncate(time.Millisecond)
	for i, c := range []string{"c1", "c1", "c2"} {
		must[hubstore.Turn](t)(first(s.AppendTurn(bg, ws, "baker", c, hubstore.Turn{Question: fmt.Sprintf("q%d", i), Answer: "a", At: t0.Add(time.Duration(i) * time.Second)})))
	}
	must[hubstore.Turn](t)(first(s.AppendTurn(bg, ws, "florist", "c3", hubstore.Turn{Question: "roses?", Answer: "a", At: t0})))

	// Before any vote, the turns come in the order they were asked.
	all := must[[]hubstore.ChangedTurn](t)(s.ChangedTurns(bg, ws, "baker", hubstore.TurnCursor{}, 10))
	if len(all) != 3 || all[0].Conversation != "c1" || all[0].Seq != 1 || all[2].Conversation != "c2" || all[0].Feedback.Rating != 0 {
		t.Fatalf("ChangedTurns before votes = %+v", all)
	}
	page := must[[]hubstore.ChangedTurn](t)(s.ChangedTurns(bg, ws, "baker", all[0].Cursor, 1))
	if len(page) != 1 || page[0].Conversation != "c1" || page[0].Seq != 2 {
		t.Fatalf("the page after the first turn = %+v", page)
	}
	cursor := all[2].Cursor
	if rest := must[[]hubstore.ChangedTurn](t)(s.ChangedTurns(bg, ws, "baker", cursor, 10)); len(rest) != 0 {
		t.Fatalf("after the last turn: %+v", rest)
	}

	// A vote, then a second one on the same answer, which replaces it.
	got := must[hubstore.Turn](t)(s.SetFeedback(bg, ws, "baker", "c1", 1, hubstore.Feedback{Rating: 1}))
	if got.Seq != 1 || got.Feedback.Rating != 1 || got.Feedback.At.IsZero() {
		t.Fatalf("first vote: %+v", got)
	}
	got = must[hubstore.Turn](t)(s.SetFeedback(bg, ws, "baker", "c1", 1, hubstore.Feedback{Rating: -1, Comment: "wrong hours"}))
	if got.Feedback.Rating != -1 || got.Feedback.Comment != "wrong hours" {
		t.Fatalf("second vote: %+v", got)
	}
	ts := must[[]hubstore.Turn](t)(s.Turns(bg, ws, "c1", 10))
	if len(ts) != 2 || ts[0].Feedback.Rating != -1 || ts[0].Feedback.Comment != "wrong hours" || ts[1].Feedback.Rating != 0 {
		t.Fatalf("Turns after votes = %+v", ts)
	}
	// The voted answer comes after the cursor again, once.
	changed := must[[]hubstore.ChangedTurn](t)(s.ChangedTurns(bg, ws, "baker", cursor, 10))
	if len(changed) != 1 || changed[0].Conversation != "c1" || changed[0].Seq != 1 || changed[0].Feedback.Comment != "wrong hours" {
		t.Fatalf("ChangedTurns after the vote = %+v", changed)
	}
	// A vote taken back keeps no comment.
	got = must[hubstore.Turn](t)(s.SetFeedback(bg, ws, "baker", "c1", 1, hubstore.Feedback{Rating: 0, Comment: "ignored"}))
	if got.Feedback != (hubstore.Feedback{}) {
		t.Fatalf("a vote taken back: %+v", got.Feedback)
	}
	again := must[[]hubstore.ChangedTurn](t)(s.ChangedTurns(bg, ws, "baker", changed[0].Cursor, 10))
	if len(again) != 1 || again[0].Seq != 1 || again[0].Feedback.Rating != 0 {
		t.Fatalf("ChangedTurns after taking the vote back = %+v", again)
	}

	_, err := s.SetFeedback(bg, ws, "florist", "c1", 1, hubstore.Feedback{Rating: 1})
	isErr(t, err, hubstore.ErrForbidden, "a vote naming another agent")
	_, err = s.SetFeedback(bg, ws, "baker", "nope", 1, hubstore.Feedback{Rating: 1})
	isErr(t, err, hubstore.ErrNotFound, "a vote on an unknown conversation")
	_, err = s.SetFeedback(bg, ws, "baker", "c1", 9, hubstore.Feedback{Rating: 1})
	isErr(t, err, hubstore.ErrNotFound, "a vote on an unknown answer")
	if _, err = s.SetFeedback(bg, ws, "baker", "c1", 2, hubstore.Feedback{Rating: 2}); err == nil {
		t.Fatal("a rating of 2 was stored")
	}
	if _, err = s.SetFeedback(bg, ws, "baker", "c1", 2, hubstore.Feedback{Rating: -1, Comment: string(make([]rune, hubstore.MaxFeedbackComment+1))}); err == nil {
		t.Fatal("an oversize comment was stored")
	}
	_, err = s.ChangedTurns(bg, ws, "nope", hubstore.TurnCursor{}, 10)
	isErr(t, err, hubstore.ErrNotFound, "changed turns of an unknown agent")
	if fl := must[[]hubstore.ChangedTurn](t)(s.ChangedTurns(bg, ws, "florist", hubstore.TurnCursor{}, 10)); len(fl) != 1 || fl[0].Conversation != "c3" {
		t.Fatalf("florist's turns = %+v", fl)
	}

	// Votes go with their conversation: pruned, and unpublished.
	must[hubstore.Turn](t)(s.SetFeedback(bg, ws, "baker", "c2", 1, hubstore.Feedback{Rating: -1, Comment: "old"}))
	must[int](t)(s.PruneConversations(bg, t0.Add(90*time.Minute)))
	if left := must[[]hubstore.ChangedTurn](t)(s.ChangedTurns(bg, ws, "baker", hubstore.TurnCursor{}, 10)); len(left) != 0 {
		t.Fatalf("after pruning: %+v", left)
	}
	must[hubstore.Turn](t)(first(s.AppendTurn(bg, ws, "florist", "c4", hubstore.Turn{Question: "tulips?", Answer: "a"})))
	must[hubstore.Turn](t)(s.SetFeedback(bg, ws, "florist", "c4", 1, hubstore.Feedback{Rating: -1, Comment: "no"}))
	ok(t, s.Unpublish(bg, ws, "florist"))
	must[hubstore.Version](t)(s.Publish(bg, ws, "florist", json.RawMessage(`{}`), f.hash))
	if left := must[[]hubstore.ChangedTurn](t)(s.ChangedTurns(bg, ws, "florist", hubstore.TurnCursor{}, 10)); len(left) != 0 {
		t.Fatalf("after unpublishing: %+v", left)
	}
	_, err = s.SetFeedback(bg, ws, "florist", "c4", 1, hubstore.Feedback{Rating: 1})
	isErr(t, err, hubstore.ErrNotFound, "a vote on an unpublished agent's conversation")
}
