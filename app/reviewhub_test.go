package app

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"atoll/agent"
	"atoll/review"
)

// TestPullReviewCorrectHubItem: an answer voted down on the hub, pulled
// with PullReview, is listed with local items (origin "hub", the
// customer's comment, the passages given and cited), masked on demand,
// corrected like a local one (a note in the knowledge base, a case in the
// test set that then passes), and dropped when the hub says it was voted
// up since.
func TestPullReviewCorrectHubItem(t *testing.T) {
	a, data, _ := shopDesktop(t)
	if _, err := a.PullReview("shop"); err == nil || !strings.Contains(err.Error(), "not published") {
		t.Fatalf("a pull before publishing: %v", err)
	}

	const q = "Do you sell gluten-free bread?"
	id := review.ItemID("0123456789abcdef", "1")
	var mu sync.Mutex
	resolved := false
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/api/agents/shop/review" || r.Header.Get("Authorization") != "Bearer atl_test" {
			http.Error(w, `{"error": {"message": "no"}}`, http.StatusUnauthorized)
			return
		}
		mu.Lock()
		defer mu.Unlock()
		p := review.Page{Next: r.URL.Query().Get("since")}
		switch {
		case p.Next == "":
			p.Items = []review.Item{{ID: id, Origin: review.Hub, Agent: "shop", Conversation: "0123456789abcdef", Message: "1",
				Question: q, Answer: "We only sell wheat bread [1].", Rating: -1, Comment: "Wrong, write to ana@example.com",
				Passages: []agent.Citation{{N: 1, Source: "bakery.md", Text: "Custom birthday cakes need at least 48 hours notice.", Used: true}, {N: 2, Source: "bakery.md", Text: "A 20 cm chocolate cake costs 38 euros."}}}}
			p.Next = "1"
		case p.Next == "1" && resolved:
			p.Resolved, p.Next = []string{id}, "2"
		}
		json.NewEncoder(w).Encode(p)
	}))
	defer srv.Close()
	os.WriteFile(filepath.Join(data, "publish.json"), []byte(`{"url": "`+srv.URL+`", "token": "atl_test"}`), 0o600)

	res, err := a.PullReview("shop")
	if err != nil || res.New != 1 || res.Down != 1 {
		t.Fatalf("pull: %+v %v", res, err)
	}
	items, err := a.ReviewItems("shop", false)
	if err != nil || len(items) != 1 {
		t.Fatalf("review items: %+v %v", items, err)
	}
	it := items[0]
	if it.ID != id || it.Origin != review.Hub || it.Question != q || it.Comment != "Wrong, write to ana@example.com" ||
		len(it.Passages) != 2 || !it.Passages[0].Used || it.Passages[1].Used || it.Corrected {
		t.Fatalf("the hub item: %+v", it)
	}
	if masked, _ := a.ReviewItems("shop", true); masked[0].Comment != "Wrong, write to [email]" {
		t.Fatalf("masked: %q", masked[0].Comment)
	}

	before, err := a.RunAgentTest("shop", `{"q": "`+q+`", "must": ["gluten-free loaves"]}`)
	if err != nil || before.AnswerPassed != 0 {
		t.Fatalf("before the correction the check must fail: %+v %v", before, err)
	}
	fixed, err := a.CorrectItem("shop", id, "Yes: gluten-free loaves are baked every Friday.", 0, "gluten-free loaves")
	if err != nil {
		t.Fatal(err)
	}
	if filepath.Base(fixed.Note) != "hub_"+id+".md" || fixed.KB != "bakery" || fixed.Test.Source != "hub_"+id+".md" {
		t.Fatalf("corrected: %+v", fixed)
	}
	docs, _ := a.ListDocuments("bakery")
	found := false
	for _, d := range docs {
		found = found || (d.Path == fixed.Note && d.Status == "ok")
	}
	if !found {
		t.Fatalf("the note is not a document of bakery: %+v", docs)
	}
	tests, _ := a.AgentTestSet("shop")
	after, err := a.RunAgentTest("shop", tests.Questions)
	if err != nil {
		t.Fatal(err)
	}
	if r := after.Results[len(after.Results)-1]; r.Q != q || r.Retrieval != "pass" || r.AnswerOK != "pass" {
		t.Fatalf("after the correction: %+v", r)
	}
	if items, _ := a.ReviewItems("shop", false); !items[0].Corrected {
		t.Fatal("the hub item must show as corrected")
	}
	// Pointing at a passage instead of writing an answer works for a hub
	// item too: the note quotes the passage.
	if again, err := a.CorrectItem("shop", id, "", 2, "38 euros"); err != nil || again.Test.Source != "bakery.md" {
		t.Fatalf("a correction by passage: %+v %v", again, err)
	} else if b, _ := os.ReadFile(again.Note); !strings.Contains(string(b), "> A 20 cm chocolate cake costs 38 euros.") {
		t.Fatalf("note:\n%s", b)
	}

	mu.Lock()
	resolved = true
	mu.Unlock()
	if res, err := a.PullReview("shop"); err != nil || res.Resolved != 1 {
		t.Fatalf("pull after an up-vote: %+v %v", res, err)
	}
	if items, _ := a.ReviewItems("shop", false); len(items) != 0 {
		t.Fatalf("the item voted up on the hub is still listed: %+v", items)
	}
	if _, err := a.CorrectItem("shop", id, "Yes.", 0, ""); err == nil {
		t.Fatal("correcting an item that left the queue")
	}
}
