package hub

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"unicode/utf8"

	"atoll/hubstore"
)

// feedbackRequest is an end user's vote on one answer. Message is the
// answer's number in its conversation, as the chat API returns it
// ("atoll": {"message": "3"}).
type feedbackRequest struct {
	Conversation string `json:"conversation"`
	Message      string `json:"message"`
	Rating       int    `json:"rating"`
	Comment      string `json:"comment"`
}

// maxFeedbackBody leaves room for a full comment in any script, JSON-escaped.
const maxFeedbackBody = 32 << 10

// feedback is POST /api/feedback?agent=NAME. The agent is named in the
// query so that everything that can refuse the request (the agent, its
// key, the rate limits) is decided before the body is read, as for chat.
func (h *Hub) feedback(w http.ResponseWriter, r *http.Request) {
	cors(w)
	ctx := r.Context()
	name := r.URL.Query().Get("agent")
	if name == "" {
		writeErr(w, http.StatusBadRequest, "name the agent the answer came from: POST /api/feedback?agent=NAME")
		return
	}
	sv, err := h.cache.agent(ctx, name)
	if err != nil {
		if errors.Is(err, hubstore.ErrNotFound) {
			writeErr(w, http.StatusNotFound, fmt.Sprintf("no published agent is called %q", name))
		} else {
			h.storeErr(w, r, err, "")
		}
		return
	}
	ws := sv.agent.Workspace
	if lw, ok := w.(*statusWriter); ok {
		lw.ws = ws
	}
	if _, ok := h.checkAccess(w, r, sv); !ok {
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxFeedbackBody))
	if err != nil {
		writeErr(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("the feedback is larger than %d KB; shorten the comment to %d characters", maxFeedbackBody>>10, hubstore.MaxFeedbackComment))
		return
	}
	var req feedbackRequest
	if err := json.Unmarshal(body, &req); err != nil {
		writeErr(w, http.StatusBadRequest, `the body must be a JSON object {"conversation", "message", "rating": 1|-1|0, "comment"}`)
		return
	}
	seq, err := strconv.Atoi(req.Message)
	if req.Conversation == "" || err != nil || seq < 1 {
		writeErr(w, http.StatusBadRequest, `name the answer: "conversation" and "message" as the chat API returned them`)
		return
	}
	if req.Rating < -1 || req.Rating > 1 {
		writeErr(w, http.StatusBadRequest, "the rating is 1 (good), -1 (bad) or 0 (take the vote back)")
		return
	}
	req.Comment = strings.TrimSpace(req.Comment)
	if n := utf8.RuneCountInString(req.Comment); n > hubstore.MaxFeedbackComment {
		writeErr(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("the comment is %d characters long: shorten it to %d", n, hubstore.MaxFeedbackComment))
		return
	}
	t, err := h.st.SetFeedback(ctx, ws, sv.agent.Name, req.Conversation, seq, hubstore.Feedback{Rating: req.Rating, Comment: req.Comment})
	switch {
	case errors.Is(err, hubstore.ErrForbidden):
		writeErr(w, http.StatusForbidden, fmt.Sprintf("the conversation %q is not one of the agent %q", req.Conversation, sv.agent.Name))
		return
	case err != nil:
		h.storeErr(w, r, err, fmt.Sprintf("the agent %q has no answer %s in a conversation %q (it may have been deleted after the hub's retention period)", sv.agent.Name, req.Message, req.Conversation))
		return
	}
	writeJSON(w, map[string]any{"conversation": req.Conversation, "message": strconv.Itoa(t.Seq), "rating": t.Feedback.Rating, "comment": t.Feedback.Comment})
}
