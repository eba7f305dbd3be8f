package hub

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"time"
	"unicode/utf8"

	"atoll/analytics"
	"atoll/hubstore"
)

// Bounds of one analytics request. The turns are read in pages, oldest
// change first, and only what a report needs of each is kept (its time,
// flags and at most analyticsQuestionRunes of its question), so memory is
// at most about analyticsMaxTurns × 1.5 KB (30 MB) however long the
// questions, and a report reads at most analyticsMaxTurns rows: 0.54 s
// at the cap on the embedded store on 2 cores (BenchmarkAnalytics, 2000
// distinct questions). 20000 is about 650 questions a day for a month,
// beyond what one small business's agent is asked; a busier agent gets a
// report that says it was truncated rather than a request that grows.
const (
	analyticsMaxTurns      = 20000
	analyticsPage          = 1000
	analyticsQuestionRunes = 500 // what grouping compares of a question
	// analyticsEmbedBudget bounds the embedding of the questions; past it
	// they are grouped by their words (the desktop client waits 30 s in all).
	analyticsEmbedBudget = 15 * time.Second
)

// analyticsReport is GET /api/agents/{name}/analytics?days=N[&format=csv]:
// the agent's analytics.Report over the last N days (UTC, today included;
// 1 to 365, default 30), from this workspace's conversations only. The
// period starts no earlier than the hub's retention keeps conversations.
func (h *Hub) analyticsReport(w http.ResponseWriter, r *http.Request) {
	ws, name := workspaceOf(r), r.PathValue("name")
	q := r.URL.Query()
	days := 30
	if s := q.Get("days"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > 365 {
			writeErr(w, http.StatusBadRequest, "days is the length of the period: a whole number from 1 to 365")
			return
		}
		days = n
	}
	format := q.Get("format")
	if format != "" && format != "json" && format != "csv" {
		writeErr(w, http.StatusBadRequest, "format is json (the default) or csv")
		return
	}
	ctx := r.Context()
	rep, err := h.analytics(ctx, ws, name, days, time.Now(), analyticsMaxTurns)
	if err != nil {
		h.storeErr(w, r, err, notPublished(name))
		return
	}
	if format == "csv" {
		w.Header().Set("Content-Type", "text/csv; charset=utf-8")
		w.Header().Set("Content-Disposition", fmt.Sprintf(`attachment; filename="%s"`, csvName(rep)))
		_, _ = w.Write([]byte(rep.CSV()))
		return
	}
	writeJSON(w, rep)
}

// csvName is the export's file name: the agent's name is checked by
// agent.ValidName at publish, but anything outside a safe set is replaced
// so the header can never be broken.
func csvName(rep analytics.Report) string {
	b := []rune{}
	for _, c := range rep.Agent {
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' {
			b = append(b, c)
		} else {
			b = append(b, '_')
		}
	}
	return fmt.Sprintf("%s-analytics-%s-%s.csv", string(b), rep.From, rep.To)
}

// analytics builds the report of the agent in workspace ws over the last
// days days before now, reading at most maxTurns turns.
func (h *Hub) analytics(ctx context.Context, ws, name string, days int, now time.Time, maxTurns int) (analytics.Report, error) {
	a, err := h.st.Agent(ctx, ws, name)
	if err != nil {
		return analytics.Report{}, err
	}
	retention := 0
	clamped := false
	if h.cfg.Retention > 0 {
		// Whole days: a retention of 36 hours still has two days in it.
		retention = max(1, int((h.cfg.Retention+24*time.Hour-1)/(24*time.Hour)))
		if days > retention {
			days, clamped = retention, true
		}
	}
	now = now.UTC()
	to := time.Date(now.Year(), now.Month(), now.Day()+1, 0, 0, 0, 0, time.UTC)
	in := analytics.Input{Agent: a.Name, From: to.AddDate(0, 0, -days), To: to, Location: time.UTC}

	// Every turn answered in the period changed at or after its start
	// (a vote only moves the change later), so the scan starts there.
	convs := map[string]int{}
	cur := hubstore.TurnCursor{Changed: in.From.UnixNano()}
	read, truncated := 0, false
	for {
		ts, err := h.st.ChangedTurns(ctx, ws, a.Name, cur, min(analyticsPage, maxTurns-read))
		if err != nil {
			return analytics.Report{}, err
		}
		for _, t := range ts {
			cur = t.Cursor
			if t.At.Before(in.From) {
				continue // answered before the period, voted on in it
			}
			var meta atollExtra
			_ = json.Unmarshal(t.Meta, &meta)
			i, ok := convs[t.Conversation]
			if !ok {
				i = len(in.Conversations)
				convs[t.Conversation] = i
				in.Conversations = append(in.Conversations, analytics.Conversation{ID: t.Conversation})
			}
			in.Conversations[i].Turns = append(in.Conversations[i].Turns, analytics.Turn{
				At: t.At, Question: clip(t.Question, analyticsQuestionRunes), NotCovered: meta.NotCovered,
				Rating: t.Feedback.Rating, TTFT: meta.TTFTSeconds})
		}
		read += len(ts)
		if len(ts) == 0 {
			break
		}
		if read >= maxTurns {
			// One more row says whether the cap cut anything.
			more, err := h.st.ChangedTurns(ctx, ws, a.Name, cur, 1)
			if err != nil {
				return analytics.Report{}, err
			}
			truncated = len(more) > 0
			break
		}
	}
	leads, err := h.st.Leads(ctx, ws, a.Name)
	if err != nil {
		return analytics.Report{}, err
	}
	for _, l := range leads {
		if !l.Created.Before(in.From) {
			in.Leads = append(in.Leads, l.Created)
		}
	}
	if emb := h.questionEmbedder(ctx, a); emb != nil {
		in.Embed = emb
	}
	ectx, cancel := context.WithTimeout(ctx, analyticsEmbedBudget)
	defer cancel()
	rep := analytics.Compute(ectx, in)
	rep.RetentionDays, rep.Clamped, rep.Truncated = retention, clamped, truncated
	return rep, nil
}

// questionEmbedder groups questions with the embedding model of the
// agent's first knowledge base that has one, as the desktop does; nil
// (grouping by words) when the hub has no embedder or the knowledge has
// no vectors.
func (h *Hub) questionEmbedder(ctx context.Context, a hubstore.Agent) analytics.Embedder {
	if h.cfg.Embedder == nil {
		return nil
	}
	sv, err := h.cache.agent(ctx, a.Name)
	if err != nil || sv.agent.Workspace != a.Workspace {
		return nil
	}
	b, err := h.cache.acquire(ctx, a.Workspace, sv.ver.Bundle)
	if err != nil {
		return nil
	}
	defer h.cache.release(b)
	for _, kbName := range sv.def.KBs {
		kb, err := b.st.KB(kbName)
		if err != nil || kb.Meta().EmbedModel == "" {
			continue
		}
		model, emb := kb.Meta().EmbedModel, h.cfg.Embedder
		return analytics.EmbedFunc(func(ctx context.Context, texts []string) ([][]float32, error) {
			return emb.Embed(ctx, model, texts)
		})
	}
	return nil
}

func clip(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	return string([]rune(s)[:n])
}
