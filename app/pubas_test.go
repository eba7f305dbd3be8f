package app

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"atoll/hub"
	"atoll/hubstore"
	"atoll/internal/hubtest"
	"atoll/internal/ollamafake"
	"atoll/llm"
	"atoll/review"
)

// TestPublishUnderAPublicName: on a hub where workspace B published
// "baker" first, workspace A's window is told in its own words to choose a
// public name (not the command line's --as), publishes as "baker-a", and
// remembers it: a later publish without a name reuses it, and the keys,
// access, rollback, channels, published analytics, review and leads pulls
// of the local "baker" reach "baker-a", never B's agent.
func TestPublishUnderAPublicName(t *testing.T) {
	fake := ollamafake.New(t)
	c, _ := llm.New(fake.URL)
	h, srv := hubtest.Serve(t, hub.Config{Model: c, Embedder: c, Import: hub.Importer(c)})
	ctx := context.Background()
	wsA, tokA := hubtest.Workspace(t, h, "shop-a")
	_, tokB := hubtest.Workspace(t, h, "shop-b")

	b, evB := bakerDesktop(t, fake.URL)
	if ev := publishWait(t, b, evB, "baker", srv.URL, tokB, ""); ev.Error != "" || ev.Result.Agent != "baker" {
		t.Fatalf("workspace B's publish: %+v", ev)
	}

	a, evA := bakerDesktop(t, fake.URL)
	if _, err := a.PublishAgent("baker", srv.URL, tokA, "baker/a"); err == nil || !strings.Contains(err.Error(), "public name") {
		t.Fatalf("an invalid public name: %v", err)
	}
	ev := publishWait(t, a, evA, "baker", srv.URL, tokA, "")
	if ev.Result != nil || ev.Code != "name-taken" || strings.Contains(ev.Error, "--as") ||
		ev.Error != `Another workspace on this hub already uses the name "baker": choose a public name above.` {
		t.Fatalf("the taken name: %+v", ev)
	}
	if s, _ := a.PublishSettings(); s.URL != "" || len(s.Names) != 0 {
		t.Fatalf("a refused publish remembered %+v", s)
	}

	ev = publishWait(t, a, evA, "baker", srv.URL, tokA, " baker-a ")
	if ev.Error != "" || ev.Result == nil || ev.Result.Agent != "baker-a" || ev.Result.Chat != srv.URL+"/a/baker-a" || ev.Result.Version != 1 {
		t.Fatalf("publishing as baker-a: %+v", ev)
	}
	if s, _ := a.PublishSettings(); s.URL != srv.URL || !s.HasToken || s.Names["baker"] != "baker-a" {
		t.Fatalf("remembered: %+v", s)
	}
	// No name given: the remembered one, so this is baker-a's version 2.
	ev = publishWait(t, a, evA, "baker", "", "", "")
	if ev.Error != "" || ev.Result == nil || ev.Result.Agent != "baker-a" || ev.Result.Version != 2 {
		t.Fatalf("publishing again: %+v", ev)
	}

	list, err := a.PublishedAgents()
	if err != nil || len(list) != 1 || list[0].Name != "baker-a" || list[0].Local != "baker" {
		t.Fatalf("A's published agents: %+v %v", list, err)
	}
	if err := a.SetAgentAccess("baker", "key"); err != nil {
		t.Fatal(err)
	}
	if list, _ := a.PublishedAgents(); list[0].Access != "key" {
		t.Fatalf("access of baker-a: %+v", list)
	}
	if list, err := b.PublishedAgents(); err != nil || len(list) != 1 || list[0].Name != "baker" || list[0].Access != "open" {
		t.Fatalf("B's baker changed: %+v %v", list, err)
	}
	k, err := a.CreateKey("baker", "site")
	if err != nil || k.Agent != "baker-a" {
		t.Fatalf("create key: %+v %v", k, err)
	}
	if ks, err := a.ListKeys("baker"); err != nil || len(ks) != 1 || ks[0].ID != k.ID {
		t.Fatalf("keys: %+v %v", ks, err)
	}
	if err := a.RevokeKey("baker", k.ID); err != nil {
		t.Fatal(err)
	}
	rb, err := a.RollbackPublished("baker")
	if err != nil || rb.Agent != "baker-a" || rb.Restored != 1 {
		t.Fatalf("rollback: %+v %v", rb, err)
	}
	if chs, err := a.Channels("baker"); err != nil || len(chs) != 0 {
		t.Fatalf("channels: %+v %v", chs, err)
	}

	// A conversation on baker-a: voted down, not covered, with a lead.
	meta, _ := json.Marshal(map[string]any{"not_covered": true, "ttftSeconds": 0.5})
	turn, _, err := h.Store().AppendTurn(ctx, wsA.ID, "baker-a", "c1", hubstore.Turn{Key: "k", Question: "Gluten-free bread?", Answer: "…", Meta: meta, At: time.Now().UTC()})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := h.Store().SetFeedback(ctx, wsA.ID, "baker-a", "c1", turn.Seq, hubstore.Feedback{Rating: -1}); err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	lead := hubstore.Lead{Agent: "baker-a", Name: "Ana", Email: "ana@example.com", Fields: map[string]string{"name": "Ana", "email": "ana@example.com"}, Created: now, Updated: now}
	if _, _, err := h.Store().SaveLead(ctx, wsA.ID, "baker-a", "", lead); err != nil {
		t.Fatal(err)
	}

	r, err := a.PublishedAnalytics("baker", 7)
	if err != nil || r.Questions != 1 || r.Down != 1 {
		t.Fatalf("published analytics: %+v %v", r, err)
	}
	pulled, err := a.PullReview("baker")
	if err != nil || pulled.New != 1 || pulled.Down != 1 {
		t.Fatalf("review pull: %+v %v", pulled, err)
	}
	items, err := a.ReviewItems("baker", false)
	if err != nil || len(items) != 1 || items[0].Origin != review.Hub || items[0].Question != "Gluten-free bread?" || items[0].Agent != "baker" {
		t.Fatalf("review items: %+v %v", items, err)
	}
	got, err := a.PullLeads("baker")
	if err != nil || got["added"] != 1 {
		t.Fatalf("leads pull: %+v %v", got, err)
	}
	if ls, err := a.ListLeads("baker"); err != nil || len(ls) != 1 || ls[0].Email != "ana@example.com" {
		t.Fatalf("leads: %+v %v", ls, err)
	}

	// The own name asked for again is still B's: refused, and the
	// remembered public name stays.
	ev = publishWait(t, a, evA, "baker", "", "", "baker")
	if ev.Code != "name-taken" {
		t.Fatalf("the own name is still B's: %+v", ev)
	}
	if s, _ := a.PublishSettings(); s.Names["baker"] != "baker-a" {
		t.Fatalf("a refused publish changed the public name: %+v", s)
	}
}
