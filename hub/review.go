package hub

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"atoll/agent"
	"atoll/hubstore"
	"atoll/review"
)

// Bounds of one review pull: a page returns at most reviewPage items and
// reads at most reviewScan turns, so an agent with many good answers
// costs a bounded amount per request; the client follows next.
const (
	reviewPage = 200
	reviewScan = 2000
)

// reviewPull is GET /api/agents/{name}/review?since=CURSOR: the agent's
// answers voted down or not covered by its knowledge, answered or voted
// on after the cursor, as review.Item, and the cursor to continue from.
// An empty page whose next equals since means there is nothing newer.
// resolved names the answers voted on after the cursor that no longer
// belong in the queue (voted up, or the vote taken back), so that a
// desktop drops the item it pulled before.
func (h *Hub) reviewPull(w http.ResponseWriter, r *http.Request) {
	ws, name := workspaceOf(r), r.PathValue("name")
	cur, err := parseCursor(r.URL.Query().Get("since"))
	if err != nil {
		writeErr(w, http.StatusBadRequest, "the since cursor is not one this hub returned; pull again without since")
		return
	}
	items, resolved := []review.Item{}, []string{}
	for scanned := 0; scanned < reviewScan && len(items) < reviewPage; {
		ts, err := h.st.ChangedTurns(r.Context(), ws, name, cur, min(500, reviewScan-scanned))
		if err != nil {
			h.storeErr(w, r, err, fmt.Sprintf("no agent %q is published in your workspace", name))
			return
		}
		for _, t := range ts {
			cur = t.Cursor
			it, ok := reviewItem(name, t)
			if !ok {
				if !t.Feedback.At.IsZero() {
					resolved = append(resolved, review.ItemID(t.Conversation, strconv.Itoa(t.Seq)))
				}
				continue
			}
			items = append(items, it)
			if len(items) == reviewPage {
				break
			}
		}
		scanned += len(ts)
		if len(ts) == 0 {
			break
		}
	}
	writeJSON(w, map[string]any{"items": items, "resolved": resolved, "next": formatCursor(cur)})
}

// reviewItem is the item of a turn that belongs in the review queue.
func reviewItem(agentName string, t hubstore.ChangedTurn) (review.Item, bool) {
	var meta atollExtra
	_ = json.Unmarshal(t.Meta, &meta)
	if t.Feedback.Rating >= 0 && !meta.NotCovered {
		return review.Item{}, false
	}
	msg := strconv.Itoa(t.Seq)
	it := review.Item{ID: review.ItemID(t.Conversation, msg), Origin: review.Hub, Agent: agentName,
		Conversation: t.Conversation, Message: msg, At: t.At, Question: t.Question, Answer: t.Answer,
		Passages: meta.Citations, NotCovered: meta.NotCovered, Rating: t.Feedback.Rating, Comment: t.Feedback.Comment}
	if it.Passages == nil {
		it.Passages = []agent.Citation{}
	}
	return it, true
}

// A cursor is "CHANGED-SEQ-CONVERSATION"; conversation ids hold no "-"
// that matters, since they come last.
func formatCursor(c hubstore.TurnCursor) string {
	if c == (hubstore.TurnCursor{}) {
		return ""
	}
	return fmt.Sprintf("%d-%d-%s", c.Changed, c.Seq, c.Conversation)
}

func parseCursor(s string) (hubstore.TurnCursor, error) {
	if s == "" {
		return hubstore.TurnCursor{}, nil
	}
	parts := strings.SplitN(s, "-", 3)
	if len(parts) != 3 || len(s) > 300 {
		return hubstore.TurnCursor{}, fmt.Errorf("bad cursor")
	}
	ch, err1 := strconv.ParseInt(parts[0], 10, 64)
	seq, err2 := strconv.Atoi(parts[1])
	if err1 != nil || err2 != nil || parts[2] == "" {
		return hubstore.TurnCursor{}, fmt.Errorf("bad cursor")
	}
	return hubstore.TurnCursor{Changed: ch, Seq: seq, Conversation: parts[2]}, nil
}
