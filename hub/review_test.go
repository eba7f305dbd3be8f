package hub

import (
	"encoding/json"
	"net/url"
	"testing"

	"atoll/review"
)

type reviewResult struct {
	Items    []review.Item `json:"items"`
	Resolved []string      `json:"resolved"`
	Next     string        `json:"next"`
}

func pullReview(t *testing.T, th *testHub, since string) reviewResult {
	t.Helper()
	code, body := th.do(t, "GET", "/api/agents/baker/review?since="+url.QueryEscape(since), nil)
	if code != 200 {
		t.Fatalf("review pull: %d %s", code, body)
	}
	var p reviewResult
	if err := json.Unmarshal([]byte(body), &p); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestReviewPull: only answers voted down (or not covered) come back, each
// once, and a later vote brings its answer after the cursor.
func TestReviewPull(t *testing.T) {
	th := newTestHub(t, 0, nil)
	conv, m1 := askBaker(t, th, "")
	_, m2 := askBaker(t, th, conv)
	if p := pullReview(t, th, ""); len(p.Items) != 0 {
		t.Fatalf("before any vote: %+v", p.Items)
	}
	if code, body := vote(t, th, "baker", conv, m1, -1, "Wrong price."); code != 200 {
		t.Fatalf("vote: %d %s", code, body)
	}
	if code, body := vote(t, th, "baker", conv, m2, 1, ""); code != 200 {
		t.Fatalf("vote: %d %s", code, body)
	}
	p := pullReview(t, th, "")
	if len(p.Items) != 1 || p.Next == "" {
		t.Fatalf("first pull: %+v", p)
	}
	it := p.Items[0]
	if it.ID != conv+"-1" || it.Origin != review.Hub || it.Agent != "baker" || it.Rating != -1 || it.Comment != "Wrong price." ||
		it.Question != "How much notice do birthday cakes need?" || it.Answer == "" || it.Passages == nil {
		t.Fatalf("item: %+v", it)
	}
	again := pullReview(t, th, p.Next)
	if len(again.Items) != 0 || again.Next != p.Next {
		t.Fatalf("a second pull: %+v (next %q)", again, p.Next)
	}
	if code, _ := vote(t, th, "baker", conv, m2, -1, "Also wrong."); code != 200 {
		t.Fatal("vote")
	}
	later := pullReview(t, th, p.Next)
	if len(later.Items) != 1 || later.Items[0].ID != conv+"-2" || later.Items[0].Comment != "Also wrong." {
		t.Fatalf("after a later vote: %+v", later.Items)
	}
	// An answer voted up after a vote down leaves the queue: the pull says
	// so, so that the desktop drops the item it pulled before.
	if code, _ := vote(t, th, "baker", conv, m1, 1, ""); code != 200 {
		t.Fatal("vote")
	}
	up := pullReview(t, th, later.Next)
	if len(up.Items) != 0 || len(up.Resolved) != 1 || up.Resolved[0] != conv+"-1" {
		t.Fatalf("after an up-vote of a voted-down answer: %+v", up)
	}
	if again := pullReview(t, th, up.Next); len(again.Items) != 0 || len(again.Resolved) != 0 {
		t.Fatalf("a pull after the up-vote: %+v", again)
	}

	if code, body := th.do(t, "GET", "/api/agents/baker/review?since=garbage", nil); code != 400 {
		t.Fatalf("a bad cursor: %d %s", code, body)
	}
	// Another workspace's publisher sees nothing of it.
	ws2, err := th.h.st.CreateWorkspace(t.Context(), "other")
	if err != nil {
		t.Fatal(err)
	}
	other := &testHub{h: th.h, srv: th.srv, tok: newTokenIn(t, th.h, ws2.ID)}
	if code, body := other.do(t, "GET", "/api/agents/baker/review", nil); code != 404 {
		t.Fatalf("another workspace's pull: %d %s", code, body)
	}
}
