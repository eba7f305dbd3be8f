package hub

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"atoll/hubstore"
)

// askBaker asks the test hub's agent one question and returns the
// conversation and the answer's message number the chat API gave back.
func askBaker(t *testing.T, th *testHub, conv string) (string, string) {
	t.Helper()
	code, body := th.do(t, "POST", "/v1/chat/completions", chatBody("baker", conv, "How much notice do birthday cakes need?", false))
	if code != 200 {
		t.Fatalf("chat: %d %s", code, body)
	}
	var res struct {
		Atoll atollExtra `json:"atoll"`
	}
	if err := json.Unmarshal([]byte(body), &res); err != nil {
		t.Fatal(err)
	}
	if res.Atoll.Conversation == "" || res.Atoll.Message == "" {
		t.Fatalf("the answer names no conversation or message: %s", body)
	}
	return res.Atoll.Conversation, res.Atoll.Message
}

func vote(t *testing.T, th *testHub, agentName, conv, msg string, rating int, comment string) (int, string) {
	t.Helper()
	b, _ := json.Marshal(map[string]any{"conversation": conv, "message": msg, "rating": rating, "comment": comment})
	return th.do(t, "POST", "/api/feedback?agent="+agentName, b)
}

func TestFeedbackAPI(t *testing.T) {
	th := newTestHub(t, 0, nil)
	if code, body := th.do(t, "POST", "/api/publish", bundleFor(t, "pastry")); code != 200 {
		t.Fatalf("publish pastry: %d %s", code, body)
	}
	conv, msg := askBaker(t, th, "")
	if _, msg2 := askBaker(t, th, conv); msg != "1" || msg2 != "2" {
		t.Fatalf("message numbers %q %q, want 1 and 2", msg, msg2)
	}
	ctx := context.Background()
	turns, err := th.h.st.Turns(ctx, th.ws, conv, 10)
	if err != nil {
		t.Fatal(err)
	}
	var meta atollExtra
	if err := json.Unmarshal(turns[0].Meta, &meta); err != nil || meta.TTFTSeconds <= 0 {
		t.Fatalf("the stored turn's meta has no time to first token: %s (%v)", turns[0].Meta, err)
	}
	stored := func() hubstore.Feedback {
		t.Helper()
		ts, err := th.h.st.Turns(ctx, th.ws, conv, 10)
		if err != nil {
			t.Fatal(err)
		}
		return ts[0].Feedback
	}

	if code, body := vote(t, th, "baker", conv, msg, -1, "The hours are wrong."); code != 200 || !strings.Contains(body, `"rating":-1`) {
		t.Fatalf("a vote: %d %s", code, body)
	}
	if fb := stored(); fb.Rating != -1 || fb.Comment != "The hours are wrong." {
		t.Fatalf("stored %+v", fb)
	}
	// Voting again replaces the vote; 0 takes it back.
	if code, body := vote(t, th, "baker", conv, msg, 1, ""); code != 200 {
		t.Fatalf("a second vote: %d %s", code, body)
	}
	if fb := stored(); fb.Rating != 1 || fb.Comment != "" {
		t.Fatalf("after the second vote: %+v", fb)
	}
	if code, body := vote(t, th, "baker", conv, msg, 0, ""); code != 200 {
		t.Fatalf("taking the vote back: %d %s", code, body)
	}
	if fb := stored(); fb.Rating != 0 {
		t.Fatalf("after taking it back: %+v", fb)
	}

	for _, c := range []struct {
		name, agent, conv, msg string
		rating                 int
		comment                string
		code                   int
		says                   string
	}{
		{"wrong agent", "pastry", conv, msg, -1, "", 403, "not one of the agent"},
		{"unknown conversation", "baker", "nope", msg, -1, "", 404, "no answer"},
		{"unknown answer", "baker", conv, "9", -1, "", 404, "no answer"},
		{"unknown agent", "nobody", conv, msg, -1, "", 404, "no published agent"},
		{"no agent", "", conv, msg, -1, "", 400, "?agent=NAME"},
		{"bad rating", "baker", conv, msg, 2, "", 400, "rating"},
		{"bad message", "baker", conv, "first", 1, "", 400, "message"},
		{"oversize comment", "baker", conv, msg, -1, strings.Repeat("错", hubstore.MaxFeedbackComment+1), 413, "shorten it to 2000"},
	} {
		code, body := vote(t, th, c.agent, c.conv, c.msg, c.rating, c.comment)
		if code != c.code || !strings.Contains(body, c.says) {
			t.Errorf("%s: %d %s, want %d saying %q", c.name, code, body, c.code, c.says)
		}
	}
	if fb := stored(); fb.Rating != 0 {
		t.Fatalf("a refused vote was stored: %+v", fb)
	}
	if code, body := vote(t, th, "baker", conv, msg, -1, strings.Repeat("错", hubstore.MaxFeedbackComment)); code != 200 {
		t.Fatalf("a comment of exactly the limit: %d %s", code, body[:min(len(body), 200)])
	}
	// A body far over the limit is cut off, not read.
	big := fmt.Sprintf(`{"conversation":%q,"message":%q,"rating":-1,"comment":%q}`, conv, msg, strings.Repeat("x", 1<<20))
	if code, body := th.do(t, "POST", "/api/feedback?agent=baker", []byte(big)); code != 413 || !strings.Contains(body, "shorten the comment") {
		t.Fatalf("a 1 MB body: %d %s", code, body)
	}
}

// TestFeedbackRateLimited: votes count against the same per-address limit
// as chat, decided before the body is read.
func TestFeedbackRateLimited(t *testing.T) {
	th := newTestHub(t, 1, nil) // burst 10; nothing refills during the test
	conv, msg := askBaker(t, th, "")
	codes := map[int]int{}
	for i := 0; i < 12; i++ {
		code, _ := vote(t, th, "baker", conv, msg, -1, "")
		codes[code]++
	}
	// The burst is 10 requests; the question above took one.
	if codes[200] != 9 || codes[429] != 3 {
		t.Fatalf("votes after a question: %v, want 9 accepted then 429", codes)
	}
}
