package channeltest

import (
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"atoll/channels"
)

// Platform is what a kind's test gives the common scenario.
type Platform struct {
	// Deliver sends message n (text "question N") as the platform would,
	// signed (or, with forged, with a wrong signature), and returns the
	// webhook's response status.
	Deliver func(t testing.TB, n int, forged bool) int
	// Replies are the texts the fake send API received, in order.
	Replies func() []string
	// Ack is the platform's acknowledgement deadline.
	Ack time.Duration
	// Pull: the callback only announces messages, which are fetched with
	// a cursor; a retried notice then finds nothing new rather than a
	// duplicate.
	Pull bool
}

// Run is the scenario every kind passes: a slow answer still acknowledged
// in time, a retry deduplicated, a forged callback refused with 401 and
// not answered, exactly one reply per message through the send API.
func Run(t *testing.T, h *Hub, id string, a *Answerer, p Platform) {
	t.Helper()
	gate := make(chan struct{})
	a.Gate = gate

	start := time.Now()
	if st := p.Deliver(t, 1, false); st != http.StatusOK {
		t.Fatalf("message 1: status %d, want 200", st)
	}
	if took := time.Since(start); took > p.Ack {
		t.Errorf("message 1 acknowledged after %v, past the platform's %v", took, p.Ack)
	}
	// The answer is still blocked: the acknowledgement did not wait for it.
	WaitFor(t, "the agent to be asked question 1", func() bool { return len(a.Questions()) == 1 })
	if n := len(p.Replies()); n != 0 {
		t.Fatalf("%d replies before the answer was ready", n)
	}
	if st := p.Deliver(t, 1, false); st != http.StatusOK {
		t.Fatalf("retry of message 1: status %d, want 200", st)
	}
	if st := p.Deliver(t, 2, true); st != http.StatusUnauthorized {
		t.Fatalf("forged message 2: status %d, want 401", st)
	}
	close(gate)
	WaitFor(t, "the reply to message 1", func() bool { return len(p.Replies()) >= 1 })

	if st := p.Deliver(t, 3, false); st != http.StatusOK {
		t.Fatalf("message 3: status %d, want 200", st)
	}
	WaitFor(t, "the reply to message 3", func() bool { return len(p.Replies()) >= 2 })
	ch, _ := h.D.Get(id)
	WaitFor(t, "the channel to count two answers", func() bool { return ch.Status().Answered == 2 })

	replies := p.Replies()
	if len(replies) != 2 || !strings.Contains(replies[0], "answer: question 1") || !strings.Contains(replies[1], "answer: question 3") {
		t.Fatalf("replies = %q, want one for question 1 then one for question 3", replies)
	}
	var asked []string
	for _, q := range a.Questions() {
		asked = append(asked, q.Text)
		if q.Agent != ch.Config().Agent || q.Channel != id || !strings.HasPrefix(q.UserKey, string(ch.Config().Kind)+":") || len(q.UserKey) <= len(ch.Config().Kind)+1 {
			t.Errorf("question %+v: wrong agent, channel or user key", q)
		}
	}
	if !slices.Equal(asked, []string{"question 1", "question 3"}) {
		t.Errorf("the agent was asked %q, want question 1 and question 3 once each", asked)
	}
	st := ch.Status()
	dups := int64(1)
	if p.Pull {
		dups = 0
	}
	if st.Received != 2 || st.Duplicates != dups || st.Rejected != 1 || st.Answered != 2 || st.LastMessage.IsZero() || st.LastReply.IsZero() {
		t.Errorf("status = %+v", st)
	}
	if !strings.Contains(st.LastError, "refused") {
		t.Errorf("last error %q does not mention the refused callback", st.LastError)
	}
}

// Question is the text of message n.
func Question(n int) string { return "question " + strconv.Itoa(n) }

// Options are dispatcher options for tests: the answerer and a clock.
func Options(a *Answerer, now func() time.Time) channels.Options {
	return channels.Options{Answerer: a, Now: now}
}

// VotePlatform is what a kind with native votes gives RunVotes.
type VotePlatform struct {
	Platform
	// Vote sends vote event n: the fake's user (or another user, with
	// other) votes rating on reply i, or takes that vote back (remove);
	// signed, or forged. It returns the webhook's status.
	Vote func(t testing.TB, n, i, rating int, remove, other, forged bool) int
}

// RunVotes is the scenario every kind with native votes passes: a 👎 on an
// answer reaches the answerer as the answer's vote, the platform's retry
// counts once, a forged vote is refused with 401, another user's vote is
// ignored, a 👍 replaces the 👎 and taking it back leaves none.
func RunVotes(t *testing.T, h *Hub, id string, a *VotingAnswerer, p VotePlatform) {
	t.Helper()
	if st := p.Deliver(t, 1, false); st != http.StatusOK {
		t.Fatalf("message 1: status %d", st)
	}
	WaitFor(t, "the reply", func() bool { return len(p.Replies()) == 1 })
	step := func(what string, st, wantSt, want int) {
		t.Helper()
		if st != wantSt || a.Rating(1) != want {
			t.Fatalf("%s: status %d, vote %d; want %d, %d", what, st, a.Rating(1), wantSt, want)
		}
	}
	step("👎", p.Vote(t, 1, 0, -1, false, false, false), 200, -1)
	step("the retried 👎", p.Vote(t, 1, 0, -1, false, false, false), 200, -1)
	step("a forged 👍", p.Vote(t, 2, 0, 1, false, false, true), 401, -1)
	step("another user's 👍", p.Vote(t, 3, 0, 1, false, true, false), 200, -1)
	step("👍 replacing 👎", p.Vote(t, 4, 0, 1, false, false, false), 200, 1)
	step("👍 taken back", p.Vote(t, 5, 0, 1, true, false, false), 200, 0)
	ch, _ := h.D.Get(id)
	kind := string(ch.Config().Kind)
	if st := ch.Status(); st.Votes != 3 || st.Duplicates != 1 || st.Rejected != 1 {
		t.Errorf("status %+v: want 3 votes, 1 duplicate, 1 rejected", st)
	}
	evs := a.Votes()
	if len(evs) != 4 {
		t.Fatalf("the answerer was given %d votes, want 4 (not the retry, not the forged one): %+v", len(evs), evs)
	}
	for i, e := range evs {
		if e.Channel != id || e.Agent != ch.Config().Agent || !strings.HasPrefix(e.UserKey, kind+":") || (i == 1) == (e.UserKey == evs[0].UserKey) {
			t.Errorf("vote %d %+v: wrong channel, agent or voter", i, e)
		}
	}
	if len(p.Replies()) != 1 {
		t.Errorf("votes were answered with messages: %q", p.Replies())
	}
}
