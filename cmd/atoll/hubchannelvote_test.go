package main

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"atoll/channels"
	"atoll/channels/channeltest"
	"atoll/channels/channeltest/fakes"
)

// votingKinds are the kinds whose platform lets an end user vote on an
// answer natively (buttons or reactions).
var votingKinds = []channels.Kind{channels.Telegram, channels.Slack, channels.WhatsApp, channels.Feishu}

// reviewed is what the hub's review pull and analytics say of one
// question's answer: its vote in the review queue (0: not listed with a
// vote) and the agent's up and down votes.
type reviewed struct{ queued, up, down int }

func (c *channelHub) reviewed(t *testing.T, question string) reviewed {
	t.Helper()
	get := func(path string, v any) {
		req, _ := http.NewRequest("GET", c.srv.URL+path, nil)
		req.Header.Set("Authorization", "Bearer "+c.token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Fatalf("GET %s: %d", path, resp.StatusCode)
		}
		if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
			t.Fatal(err)
		}
	}
	var pull struct {
		Items []struct {
			Question string `json:"question"`
			Rating   int    `json:"rating"`
		} `json:"items"`
	}
	get("/api/agents/baker/review", &pull)
	var an struct{ Up, Down int }
	get("/api/agents/baker/analytics?days=7", &an)
	r := reviewed{up: an.Up, down: an.Down}
	for _, it := range pull.Items {
		if it.Question == question {
			r.queued = it.Rating
		}
	}
	return r
}

// TestHubChannelVotes: for every kind whose platform has buttons or
// reactions, through the real hub: an end user's 👎 on an answer is the
// web chat's vote (the review pull lists it, the analytics count it), a
// vote the other way replaces it, taking it back removes it, the
// platform's retry counts once, a forged event is refused with 401, and
// another user's vote on the answer is ignored.
func TestHubChannelVotes(t *testing.T) {
	c := newChannelHub(t)
	for _, kind := range votingKinds {
		t.Run(string(kind), func(t *testing.T) {
			p := fakes.New(t, kind).(fakes.Voting)
			id, webhook := c.addChannel(t, p)
			defer atoll(t, "--data", c.hubDir, "hub", "channel", "rm", id)
			q := "On " + string(kind) + ": how much notice do birthday cakes need?"
			if st := p.Deliver(t, webhook, 1, q, false); st != http.StatusOK {
				t.Fatalf("a signed message: %d", st)
			}
			channeltest.WaitFor(t, "the answer", func() bool { return len(p.Replies()) >= 1 })
			before := c.reviewed(t, q)
			if before.queued != 0 {
				t.Fatalf("the answer is queued with a vote before any: %+v", before)
			}
			check := func(what string, st, wantSt int, want reviewed) {
				t.Helper()
				if st != wantSt {
					t.Fatalf("%s: status %d, want %d", what, st, wantSt)
				}
				got := c.reviewed(t, q)
				got.up, got.down = got.up-before.up, got.down-before.down
				if got != want {
					t.Fatalf("%s: review and analytics %+v, want %+v", what, got, want)
				}
			}
			check("👎", p.Vote(t, webhook, 1, 0, -1, false, false), 200, reviewed{queued: -1, down: 1})
			check("the platform's retry of 👎", p.Vote(t, webhook, 1, 0, -1, false, false), 200, reviewed{queued: -1, down: 1})
			check("a forged 👍", p.Vote(t, webhook, 2, 0, 1, false, true), 401, reviewed{queued: -1, down: 1})
			check("another user's 👍", p.VoteAs(t, webhook, otherUser(kind), 3, 0, 1, false, false), 200, reviewed{queued: -1, down: 1})
			check("👍 replacing 👎", p.Vote(t, webhook, 4, 0, 1, false, false), 200, reviewed{up: 1})
			check("👍 taken back", p.Vote(t, webhook, 5, 0, 1, true, false), 200, reviewed{})
			check("👎 again", p.Vote(t, webhook, 6, 0, -1, false, false), 200, reviewed{queued: -1, down: 1})
			st := c.status(id)
			if st.Votes != 4 || st.Rejected != 1 || st.Duplicates != 1 || !strings.Contains(st.LastError, "refused") {
				t.Errorf("status %+v: want 4 votes, 1 rejected, 1 duplicate", st)
			}
		})
	}
}

// otherUser is a user of kind's platform other than the fake's.
func otherUser(kind channels.Kind) string {
	switch kind {
	case channels.Telegram:
		return "43"
	case channels.Slack:
		return "U0OTHER"
	case channels.WhatsApp:
		return "16315550000"
	case channels.Feishu:
		return "ou_other"
	}
	return "other"
}
