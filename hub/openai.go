package hub

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"atoll/agent"
	"atoll/hubstore"
	"atoll/llm"
	"atoll/metrics"
	"atoll/rag"
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
	// Message is the answer's number in its conversation, for
	// POST /api/feedback; TTFTSeconds is kept in the turn for analytics.
	Message     string  `json:"message,omitempty"`
	TTFTSeconds float64 `json:"ttftSeconds,omitempty"`
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

// requestState rides in an answer's context: the workspace and the
// request's idempotency key, which make the lead store exactly-once.
type requestState struct {
	ws, idem string
}

// saveLead is the runner's save_lead store: one lead per request and call, so a request retried with the same Idempotency-Key
// (on any replica) stores its lead once.
func (h *Hub) saveLead(ctx context.Context, name, conv string, n int, form agent.LeadForm, fields map[string]string, now time.Time) (agent.Lead, bool, error) {
	rs, ok := ctx.Value(turnKey).(requestState)
	if !ok {
		return agent.Lead{}, false, errors.New("leads cannot be saved here")
	}
	in := form.NewLead(name, conv, fields, now)
	if ch := channelOf(ctx); ch != "" {
		in.Fields["channel"] = ch // a lead records the channel it came on
	}
	// Keyed by the request, not the conversation: a retry after a cut
	// stream may get a new conversation (the first one's id never reached
	// the client), and must still find the lead its first attempt stored.
	st, merged, err := h.st.SaveLead(ctx, rs.ws, name, fmt.Sprintf("%s/%d", rs.idem, n), in)
	if err != nil {
		return agent.Lead{}, false, err
	}
	return st, merged, nil
}

// historyTurns is how many earlier turns an answer sees.
const historyTurns = 20

func (h *Hub) completions(w http.ResponseWriter, r *http.Request) {
	cors(w)
	ctx := r.Context()
	start := time.Now()
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
	sv, err := h.cache.agent(ctx, req.Model)
	if err != nil {
		if errors.Is(err, hubstore.ErrNotFound) {
			writeErr(w, http.StatusNotFound, fmt.Sprintf("no published agent is called %q (model = the agent's name)", req.Model))
		} else {
			h.storeErr(w, r, err, "")
		}
		return
	}
	ws := sv.agent.Workspace
	if lw, ok := w.(*statusWriter); ok {
		lw.ws = ws
	}
	metrics.SetWorkspace(r, ws)
	keyID, ok := h.checkAccess(w, r, sv)
	if !ok {
		return
	}
	q, err := lastQuestion(req)
	if err != nil {
		writeErr(w, http.StatusBadRequest, err.Error())
		return
	}
	release, ok := h.checkQuota(w, r, ws, start)
	if !ok {
		return
	}
	defer release()
	mst := h.cfg.Metrics.StartStream(ws)
	defer mst.End()
	usage := hubstore.Usage{Requests: 1, TokensIn: int64(rag.EstimateTokens(q))}
	counted := false // with the turn, by RecordAnswer
	defer func() {
		// Usage is the workspace's record; a failure to count is logged,
		// never the user's problem.
		if counted {
			return
		}
		if err := h.st.AddUsage(context.WithoutCancel(ctx), ws, keyID, start, usage); err != nil {
			h.logFor(r).Warn("usage not counted", "err", err)
		}
	}()

	conv := ""
	var history []agent.Message
	if req.Conversation != "" {
		// Unknown, another agent's or another workspace's: start afresh.
		if c, err := h.st.Conversation(ctx, ws, req.Conversation); err == nil && c.Agent == sv.agent.Name {
			conv = c.ID
			ts, err := h.st.Turns(ctx, ws, conv, historyTurns)
			if err != nil {
				usage.Errors++
				h.storeErr(w, r, err, "")
				return
			}
			for _, t := range ts {
				history = append(history, agent.Message{Role: "user", Content: t.Question, At: t.At}, agent.Message{Role: "assistant", Content: t.Answer, At: t.At})
				usage.TokensIn += int64(rag.EstimateTokens(t.Question) + rag.EstimateTokens(t.Answer))
			}
		}
	}
	if conv == "" {
		conv = agent.NewID()
	}
	// The client's Idempotency-Key makes a retried request (after a cut
	// stream, on any replica) store its turn and leads once.
	idem := strings.TrimSpace(r.Header.Get("Idempotency-Key"))
	if idem == "" || len(idem) > 200 {
		idem = hubstore.NewID()
	}
	b, err := h.cache.acquire(ctx, ws, sv.ver.Bundle)
	if err != nil {
		usage.Errors++
		h.logFor(r).Error("bundle", "agent", sv.agent.Name, "bundle", sv.ver.Bundle, "err", err)
		writeErr(w, http.StatusServiceUnavailable, fmt.Sprintf("the agent %q could not be loaded on this server; try again in a moment", sv.agent.Name))
		return
	}
	defer h.cache.release(b)
	actx := context.WithValue(context.WithValue(ctx, searchKey, b.search), turnKey, requestState{ws: ws, idem: idem})
	opt := agent.AskOptions{Kept: true, Conversation: conv, History: history}
	def := sv.def
	// record stores the answered turn; only a stored turn is acknowledged
	// (the final chunk or the JSON answer), so an acknowledged turn is never lost.
	var firstToken time.Time
	var extra atollExtra
	record := func(ans agent.Answer) (string, error) {
		ttft := time.Since(start)
		if !firstToken.IsZero() {
			ttft = firstToken.Sub(start)
		}
		extra = atollExtra{Conversation: conv, Citations: ans.Citations, Followups: ans.Followups, NotCovered: ans.NotCovered, TTFTSeconds: ttft.Seconds()}
		meta, _ := json.Marshal(extra)
		usage.TokensOut += int64(rag.EstimateTokens(ans.Answer))
		// The turn and its usage in one transaction: one commit.
		stored, _, err := h.st.RecordAnswer(context.WithoutCancel(ctx), ws, sv.agent.Name, conv, hubstore.Turn{Key: idem, Question: q, Answer: ans.Answer, Meta: meta, At: time.Now().UTC()}, keyID, usage)
		counted = err == nil
		extra.Message = strconv.Itoa(stored.Seq)
		return stored.Answer, err
	}
	id := "chatcmpl-" + agent.NewID()
	created := time.Now().Unix()
	if !req.Stream {
		ans, err := h.runner.AskWith(actx, def, opt, q, nil)
		if err != nil {
			usage.Errors++
			answerErr(w, err)
			return
		}
		text, err := record(ans)
		if err != nil {
			usage.Errors++
			h.storeErr(w, r, err, "")
			return
		}
		writeJSON(w, map[string]any{
			"id": id, "object": "chat.completion", "created": created, "model": def.Name,
			"choices": []map[string]any{{"index": 0, "message": map[string]string{"role": "assistant", "content": text}, "finish_reason": "stop"}},
			"atoll":   extra,
		})
		return
	}
	fl, ok := w.(http.Flusher)
	if !ok {
		writeErr(w, 500, "streaming unsupported")
		return
	}
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
	// The stream starts with the first token: until then a failure is an
	// HTTP status (429 with Retry-After when every model server is busy),
	// which a client or a balancer can act on.
	started := false
	begin := func() error {
		if started {
			return nil
		}
		started = true
		w.Header().Set("Content-Type", "text/event-stream")
		w.Header().Set("Cache-Control", "no-cache")
		return chunk(map[string]string{"role": "assistant"}, nil, nil)
	}
	streamErr := func(msg string) {
		usage.Errors++
		b, _ := json.Marshal(map[string]any{"error": map[string]string{"message": msg}})
		fmt.Fprintf(w, "data: %s\n\n", b)
		fl.Flush()
	}
	ans, err := h.runner.AskWith(actx, def, opt, q, func(s string) error {
		if err := begin(); err != nil {
			return err
		}
		if firstToken.IsZero() {
			firstToken = time.Now()
		}
		mst.Token()
		return chunk(map[string]string{"content": s}, nil, nil)
	})
	if err != nil && !started {
		usage.Errors++
		answerErr(w, err)
		return
	}
	if err != nil {
		streamErr(llm.Sentence(err))
		return
	}
	if _, err := record(ans); err != nil {
		h.logFor(r).Error("turn not stored", "agent", def.Name, "err", err)
		if !started {
			writeErr(w, http.StatusServiceUnavailable, "the answer could not be saved; ask again")
			usage.Errors++
			return
		}
		streamErr("the answer could not be saved; ask again")
		return
	}
	if begin() != nil {
		return
	}
	_ = chunk(map[string]string{}, "stop", &extra)
	fmt.Fprint(w, "data: [DONE]\n\n")
	fl.Flush()
}

// askOnce answers one question as a new conversation (an MCP call),
// stored and counted as a chat request's.
func (h *Hub) askOnce(ctx context.Context, sv served, keyID, q string) (agent.Answer, error) {
	ws := sv.agent.Workspace
	usage := hubstore.Usage{Requests: 1, TokensIn: int64(rag.EstimateTokens(q))}
	start := time.Now()
	counted := false
	defer func() {
		if !counted {
			_ = h.st.AddUsage(context.WithoutCancel(ctx), ws, keyID, start, usage)
		}
	}()
	b, err := h.cache.acquire(ctx, ws, sv.ver.Bundle)
	if err != nil {
		usage.Errors++
		return agent.Answer{}, err
	}
	defer h.cache.release(b)
	conv, idem := agent.NewID(), hubstore.NewID()
	actx := context.WithValue(context.WithValue(ctx, searchKey, b.search), turnKey, requestState{ws: ws, idem: idem})
	ans, err := h.runner.AskWith(actx, sv.def, agent.AskOptions{Kept: true, Conversation: conv}, q, nil)
	if err != nil {
		usage.Errors++
		return ans, err
	}
	usage.TokensOut = int64(rag.EstimateTokens(ans.Answer))
	meta, _ := json.Marshal(atollExtra{Conversation: conv, Citations: ans.Citations, Followups: ans.Followups, NotCovered: ans.NotCovered})
	if _, _, err := h.st.RecordAnswer(context.WithoutCancel(ctx), ws, sv.agent.Name, conv, hubstore.Turn{Key: idem, Question: q, Answer: ans.Answer, Meta: meta, At: time.Now().UTC()}, keyID, usage); err != nil {
		usage.Errors++
		return ans, fmt.Errorf("the answer could not be saved: %w", err)
	}
	counted = true
	return ans, nil
}

// checkAccess lets a request use an agent: a key-required agent needs one
// of its keys (Authorization: Bearer atk_…), whose id is returned for
// usage; an open agent is limited per client address across replicas.
func (h *Hub) checkAccess(w http.ResponseWriter, r *http.Request, sv served) (string, bool) {
	if sv.agent.Access == hubstore.AccessKey {
		tok, _ := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		if tok != "" {
			k, err := h.st.KeyByHash(r.Context(), hashToken(tok))
			if err == nil && k.Workspace == sv.agent.Workspace && k.Agent == sv.agent.Name {
				return k.ID, true
			}
			if err != nil && !errors.Is(err, hubstore.ErrNotFound) {
				h.storeErr(w, r, err, "")
				return "", false
			}
		}
		writeErr(w, http.StatusUnauthorized, fmt.Sprintf("the agent %q needs an API key (Authorization: Bearer …); its publisher creates keys", sv.agent.Name))
		return "", false
	}
	if h.cfg.RatePerMinute > 0 {
		now := time.Now()
		n, resets, err := h.st.Incr(r.Context(), "", "ip:"+h.clientIP(r), now, time.Minute)
		// The window allows what one replica's bucket allows at once (its
		// burst), so the shared limit only bites across replicas.
		if err == nil && n > int64(max(h.cfg.RatePerMinute, 10, h.cfg.RatePerMinute/2)) {
			tooMany(w, resets.Sub(now), "too many questions from your address; wait a minute and try again")
			return "", false
		}
	}
	return "", true
}

// checkQuota applies the workspace's quotas: requests a day (counted in
// the store, across replicas) and concurrent streams.
func (h *Hub) checkQuota(w http.ResponseWriter, r *http.Request, ws string, now time.Time) (func(), bool) {
	wsp, err := h.st.Workspace(r.Context(), ws)
	if err != nil {
		h.storeErr(w, r, err, "")
		return nil, false
	}
	if wsp.RequestsPerDay > 0 {
		n, resets, err := h.st.Incr(r.Context(), ws, "requests/day", now, 24*time.Hour)
		if err != nil {
			h.storeErr(w, r, err, "")
			return nil, false
		}
		if n > wsp.RequestsPerDay {
			tooMany(w, resets.Sub(now), fmt.Sprintf("this agent's workspace has used its %d requests for today; try again later", wsp.RequestsPerDay))
			return nil, false
		}
	}
	h.streams.acquire(ws, 0)
	if wsp.MaxStreams <= 0 {
		return func() { h.streams.release(ws) }, true
	}
	// A lease in the store counts the workspace's answers on every
	// replica; it is renewed while the answer runs, and a replica that
	// dies leaves it to expire.
	lease, err := h.st.AcquireLease(r.Context(), ws, "streams", wsp.MaxStreams, now, streamLease)
	if err != nil {
		h.streams.release(ws)
		if errors.Is(err, hubstore.ErrConflict) {
			tooMany(w, time.Second, fmt.Sprintf("this agent's workspace already has %d answers running; try again in a moment", wsp.MaxStreams))
		} else {
			h.storeErr(w, r, err, "")
		}
		return nil, false
	}
	return h.holdLease(ws, lease, h.logFor(r)), true
}

// streamLease is how long a stream's slot outlives a replica that died
// holding it.
const streamLease = 30 * time.Second

// answerErr answers a failed answer before anything was sent: 429 with
// Retry-After when every model server is busy, else 502.
func answerErr(w http.ResponseWriter, err error) {
	var busy *llm.BusyError
	if errors.As(err, &busy) {
		tooMany(w, busy.RetryAfter, llm.Sentence(err))
		return
	}
	writeErr(w, http.StatusBadGateway, llm.Sentence(err))
}

func tooMany(w http.ResponseWriter, after time.Duration, msg string) {
	secs := int(after.Round(time.Second).Seconds())
	if secs < 1 {
		secs = 1
	}
	w.Header().Set("Retry-After", strconv.Itoa(secs))
	writeErr(w, http.StatusTooManyRequests, msg)
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
