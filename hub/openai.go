package hub

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"atoll/agent"
	"atoll/llm"
)

// chatRequest is the OpenAI chat-completions request; "conversation" is
// Atoll's extension that keeps a multi-turn conversation on the hub (the
// chat page uses it). Without it each request is a new conversation whose
// question is the last user message.
type chatRequest struct {
	Model    string `json:"model"`
	Messages []struct {
		Role    string `json:"role"`
		Content string `json:"content"`
	} `json:"messages"`
	Stream       bool   `json:"stream"`
	Conversation string `json:"conversation,omitempty"`
}

// atollExtra rides along in responses for clients that want citations.
type atollExtra struct {
	Conversation string           `json:"conversation"`
	Citations    []agent.Citation `json:"citations"`
	Followups    []string         `json:"followups"`
	NotCovered   bool             `json:"not_covered"`
}

const maxChatBody = 256 << 10

func cors(w http.ResponseWriter) {
	// The endpoint is public and carries no cookies: any site may call it,
	// which is what the widget and existing OpenAI clients need.
	w.Header().Set("Access-Control-Allow-Origin", "*")
	w.Header().Set("Access-Control-Allow-Headers", "Content-Type, Authorization")
	w.Header().Set("Access-Control-Allow-Methods", "POST, OPTIONS")
}

func (h *Hub) preflight(w http.ResponseWriter, r *http.Request) {
	cors(w)
	w.WriteHeader(http.StatusNoContent)
}

func (h *Hub) completions(w http.ResponseWriter, r *http.Request) {
	cors(w)
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxChatBody))
	if err != nil {
		writeErr(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("the request is larger than %d KB", maxChatBody>>10))
		return
	}
	var req chatRequest
	if err := json.Unmarshal(body, &req); err != nil {
		writeErr(w, http.StatusBadRequest, "the body must be a chat-completions JSON object")
		return
	}
	def, err := h.agents.Get(req.Model)
	if err != nil {
		writeErr(w, http.StatusNotFound, fmt.Sprintf("no published agent is called %q (model = the agent's name)", req.Model))
		return
	}
	q, err := lastQuestion(req)
	if err != nil {
		writeErr(w, http.StatusBadRequest, err.Error())
		return
	}
	if req.Conversation != "" {
		if c, err := h.convs.Get(req.Conversation); err != nil || c.Agent != def.Name {
			req.Conversation = "" // unknown or another agent's: start afresh
		}
	}
	id := "chatcmpl-" + agent.NewID()
	created := time.Now().Unix()
	if !req.Stream {
		ans, err := h.runner.Ask(r.Context(), def, req.Conversation, q, nil)
		if err != nil {
			writeErr(w, http.StatusBadGateway, llm.Sentence(err))
			return
		}
		writeJSON(w, map[string]any{
			"id": id, "object": "chat.completion", "created": created, "model": def.Name,
			"choices": []map[string]any{{"index": 0, "message": map[string]string{"role": "assistant", "content": ans.Answer}, "finish_reason": "stop"}},
			"atoll":   atollExtra{Conversation: ans.Conversation, Citations: ans.Citations, Followups: ans.Followups, NotCovered: ans.NotCovered},
		})
		return
	}
	fl, ok := w.(http.Flusher)
	if !ok {
		writeErr(w, 500, "streaming unsupported")
		return
	}
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-cache")
	chunk := func(delta map[string]string, finish any, extra *atollExtra) error {
		m := map[string]any{"id": id, "object": "chat.completion.chunk", "created": created, "model": def.Name,
			"choices": []map[string]any{{"index": 0, "delta": delta, "finish_reason": finish}}}
		if extra != nil {
			m["atoll"] = extra
		}
		b, _ := json.Marshal(m)
		if _, err := fmt.Fprintf(w, "data: %s\n\n", b); err != nil {
			return err
		}
		fl.Flush()
		return nil
	}
	if err := chunk(map[string]string{"role": "assistant"}, nil, nil); err != nil {
		return
	}
	ans, err := h.runner.Ask(r.Context(), def, req.Conversation, q, func(s string) error {
		return chunk(map[string]string{"content": s}, nil, nil)
	})
	if err != nil {
		b, _ := json.Marshal(map[string]any{"error": map[string]string{"message": llm.Sentence(err)}})
		fmt.Fprintf(w, "data: %s\n\n", b)
		fl.Flush()
		return
	}
	_ = chunk(map[string]string{}, "stop", &atollExtra{Conversation: ans.Conversation, Citations: ans.Citations, Followups: ans.Followups, NotCovered: ans.NotCovered})
	fmt.Fprint(w, "data: [DONE]\n\n")
	fl.Flush()
}

func lastQuestion(req chatRequest) (string, error) {
	if len(req.Messages) == 0 {
		return "", errNoQuestion
	}
	m := req.Messages[len(req.Messages)-1]
	if m.Role != "user" || strings.TrimSpace(m.Content) == "" {
		return "", errNoQuestion
	}
	if len([]rune(m.Content)) > 4000 {
		return "", errors.New("the question is longer than 4000 characters")
	}
	return m.Content, nil
}
