package agent

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"time"

	"atoll/llm"
	"atoll/rag"
)

// Model is what the run loop needs from the model server.
type Model interface {
	Chat(ctx context.Context, req llm.ChatRequest, onToken func(string) error) (llm.ChatResult, error)
	Show(ctx context.Context, model string) (llm.ModelInfo, error)
}

// Retriever searches an agent's knowledge bases.
type Retriever interface {
	Retrieve(ctx context.Context, kbs []string, query string, k int) ([]rag.Hit, error)
}

// Runner answers questions for agents.
type Runner struct {
	Model     Model
	Retriever Retriever
	Convs     *Conversations
	K         int // passages retrieved per question

	mu   sync.Mutex
	show map[string]llm.ModelInfo
}

// NewRunner wires a runner.
func NewRunner(m Model, r Retriever, convs *Conversations) *Runner {
	return &Runner{Model: m, Retriever: r, Convs: convs, K: 6, show: map[string]llm.ModelInfo{}}
}

// Answer is the outcome of one question.
type Answer struct {
	Conversation string     `json:"conversation"`
	Answer       string     `json:"answer"`
	Citations    []Citation `json:"citations"`
	Followups    []string   `json:"followups"`
	NotCovered   bool       `json:"notCovered"`
	Dropped      int        `json:"dropped"` // passages that did not fit the context
	TTFT         float64    `json:"ttftSeconds"`
}

// Ask answers question as agent def, streaming tokens through onToken, and
// stores the turn in the conversation (created when convID is "").
func (r *Runner) Ask(ctx context.Context, def Definition, convID, question string, onToken func(string) error) (Answer, error) {
	question = strings.TrimSpace(question)
	if question == "" {
		return Answer{}, fmt.Errorf("the question is empty")
	}
	conv := Conversation{ID: NewID(), Agent: def.Name, Title: title(question)}
	if convID != "" {
		c, err := r.Convs.Get(convID)
		if err != nil {
			return Answer{}, err
		}
		conv = c
	}
	lang := languageOf(def.Language, question)
	ans := Answer{Conversation: conv.ID, Citations: []Citation{}, Followups: []string{}}
	var hits []rag.Hit
	if len(def.KBs) > 0 && r.Retriever != nil {
		var err error
		hits, err = r.Retriever.Retrieve(ctx, def.KBs, question, r.K)
		if err != nil {
			return ans, err
		}
		if !rag.Covered(hits, question) {
			ans.NotCovered = true
			ans.Answer = rag.NotCoveredAnswer(lang)
			if onToken != nil {
				if err := onToken(ans.Answer); err != nil {
					return ans, err
				}
			}
			r.record(conv, question, ans)
			return ans, nil
		}
	}

	info, err := r.modelInfo(ctx, def.Model)
	if err != nil {
		return ans, err
	}
	ctxLen := info.ContextLength
	if def.NumCtx > 0 && (ctxLen == 0 || def.NumCtx < ctxLen) {
		ctxLen = def.NumCtx
	}
	if ctxLen == 0 {
		ctxLen = 2048
	}
	var history []rag.Message
	for _, m := range conv.Messages {
		history = append(history, rag.Message{Role: m.Role, Content: m.Content})
	}
	p := rag.BuildPrompt(rag.PromptInput{System: def.System, Question: question, Language: lang, History: history, Hits: hits, ContextTokens: ctxLen, ReserveTokens: 512})
	ans.Dropped = p.Dropped
	msgs := make([]llm.Message, len(p.Messages))
	for i, m := range p.Messages {
		msgs[i] = llm.Message{Role: m.Role, Content: m.Content}
	}
	temp := def.Temperature
	res, err := r.Model.Chat(ctx, llm.ChatRequest{Model: def.Model, Messages: msgs, Temperature: &temp, NumCtx: p.NumCtx}, onToken)
	ans.TTFT = res.TTFT.Seconds()
	if err != nil {
		// Keep what streamed before the cut: the user sees it and the reason.
		ans.Answer = res.Content
		return ans, err
	}
	ans.Answer = rag.CleanCitations(res.Content, len(p.Given))
	used := map[int]bool{}
	for _, n := range rag.Cited(ans.Answer, len(p.Given)) {
		used[n] = true
	}
	for i, h := range p.Given {
		ans.Citations = append(ans.Citations, Citation{N: i + 1, Source: h.Source, Page: h.Page, Headings: h.Headings, Start: h.Start, End: h.End, Text: h.Text, Used: used[i+1]})
	}
	if def.Followups && len(p.Given) > 0 {
		ans.Followups = r.followups(ctx, def, lang, question, ans.Answer, p.Given)
	}
	r.record(conv, question, ans)
	return ans, nil
}

func (r *Runner) record(conv Conversation, q string, a Answer) {
	if r.Convs == nil {
		return
	}
	now := time.Now().UTC()
	conv.Messages = append(conv.Messages,
		Message{Role: "user", Content: q, At: now},
		Message{Role: "assistant", Content: a.Answer, Citations: a.Citations, Followups: a.Followups, NotCovered: a.NotCovered, At: now})
	_ = r.Convs.Save(conv)
}

func (r *Runner) modelInfo(ctx context.Context, model string) (llm.ModelInfo, error) {
	r.mu.Lock()
	info, ok := r.show[model]
	r.mu.Unlock()
	if ok {
		return info, nil
	}
	info, err := r.Model.Show(ctx, model)
	if err != nil {
		return info, err
	}
	r.mu.Lock()
	r.show[model] = info
	r.mu.Unlock()
	return info, nil
}

var followupSchema = json.RawMessage(`{"type":"object","properties":{"questions":{"type":"array","items":{"type":"string"},"minItems":3,"maxItems":3}},"required":["questions"]}`)

// followups asks the model for three short next questions grounded in the
// passages. A model that cannot produce them costs the user nothing: the
// answer stands without chips.
func (r *Runner) followups(ctx context.Context, def Definition, lang, q, answer string, given []rag.Hit) []string {
	var b strings.Builder
	for i, h := range given {
		if i == 3 {
			break
		}
		t := h.Text
		if len([]rune(t)) > 600 {
			t = string([]rune(t)[:600])
		}
		b.WriteString(t)
		b.WriteString("\n---\n")
	}
	instr := "Suggest exactly 3 short follow-up questions the user might ask next, answerable from the passages. Reply as JSON {\"questions\": [..]}, in English."
	if lang == "zh" {
		instr = "根据资料，给出用户接下来可能提出的 3 个简短问题，必须能由资料回答。用 JSON {\"questions\": [..]} 回复，使用中文。"
	}
	ctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	temp := 0.3
	res, err := r.Model.Chat(ctx, llm.ChatRequest{Model: def.Model, Format: followupSchema, Temperature: &temp, Messages: []llm.Message{
		{Role: "system", Content: instr},
		{Role: "user", Content: "Passages:\n" + b.String() + "\nQuestion: " + q + "\nAnswer: " + answer},
	}}, nil)
	if err != nil {
		return []string{}
	}
	var out struct {
		Questions []string `json:"questions"`
	}
	if json.Unmarshal([]byte(res.Content), &out) != nil {
		return []string{}
	}
	qs := []string{}
	for _, s := range out.Questions {
		s = strings.TrimSpace(s)
		if s != "" && len([]rune(s)) <= 200 && len(qs) < 3 {
			qs = append(qs, s)
		}
	}
	return qs
}

// languageOf is the answer language: the agent's, else the question's.
func languageOf(setting, question string) string {
	switch {
	case strings.HasPrefix(setting, "zh"):
		return "zh"
	case strings.HasPrefix(setting, "en"):
		return "en"
	}
	return rag.DetectLanguage(question)
}

func title(q string) string {
	r := []rune(q)
	if len(r) > 60 {
		return string(r[:60]) + "…"
	}
	return q
}
