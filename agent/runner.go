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
	// Leads stores what save_lead gathers; nil refuses saving.
	Leads *Leads
	// Memory keeps facts about users for agents with Definition.Memory;
	// nil turns memory off.
	Memory *Memories
	// SaveLead, when set, stores what save_lead gathers instead of Leads
	// (the hub keeps leads in its database). n counts the save_lead calls
	// of one answer (1, 2, …), so with an idempotency key carried in ctx a
	// retried request stores each lead once.
	SaveLead func(ctx context.Context, agent, conversation string, n int, form LeadForm, fields map[string]string, now time.Time) (Lead, bool, error)
	// Now is the clock for current_datetime and stored times; nil is time.Now.
	Now func() time.Time
	// HTTPTools lists the user's own tools (from their settings); an agent
	// uses one only when its Tools names it as "http:<name>".
	HTTPTools func() []HTTPTool
	// Confirm, when set, is asked before every user-defined HTTP call (the
	// desktop shows the call and waits for Allow); an error refuses it.
	Confirm func(ctx context.Context, call HTTPCall) error
	// MCP runs the tools of the user's MCP servers; an agent uses one only
	// when its Tools names it as "mcp:<server>/<tool>", and each call goes
	// through Confirm as an HTTP tool's does.
	MCP MCPTools
	// ReadImage reads the text of an attached image (OCR) for a model that
	// cannot see images; nil refuses images on such models.
	ReadImage func(ctx context.Context, img []byte) (string, error)

	mu   sync.Mutex
	show map[string]llm.ModelInfo
}

// NewRunner wires a runner.
func NewRunner(m Model, r Retriever, convs *Conversations) *Runner {
	return &Runner{Model: m, Retriever: r, Convs: convs, K: 6, show: map[string]llm.ModelInfo{}}
}

// Answer is the outcome of one question.
type Answer struct {
	Conversation string `json:"conversation"`
	// Message is the stored answer's id, for feedback ("" when not stored).
	Message    string     `json:"message"`
	Answer     string     `json:"answer"`
	Citations  []Citation `json:"citations"`
	Followups  []string   `json:"followups"`
	NotCovered bool       `json:"notCovered"`
	Dropped    int        `json:"dropped"` // passages that did not fit the context
	TTFT       float64    `json:"ttftSeconds"`
	Tools      []ToolUse  `json:"tools,omitempty"` // tool calls made for this answer
	Lead       *Lead      `json:"lead,omitempty"`  // saved by save_lead in this turn
	// ImageRead says how an attached image reached the model: "vision"
	// (sent as an image) or "ocr" (its text added to the question).
	ImageRead string `json:"imageRead,omitempty"`
}

// AskOptions are the rarer settings of one question.
type AskOptions struct {
	Conversation string // "" starts a new conversation
	// Ephemeral answers without reading or storing a conversation (test
	// sets run this way so they leave no chats behind).
	Ephemeral bool
	// User is the end user, whose memories an agent with Memory reads and
	// adds to; "" is LocalUser.
	User string
	// Images are attached to the question (PNG, JPEG, WebP...): sent as
	// images to a vision model, otherwise read by ReadImage.
	Images [][]byte
	// Kept: the caller keeps the conversation (the hub, in its database).
	// Conversation is its id and History its earlier messages; nothing is
	// read from or written to Convs, and the caller stores the turn.
	Kept    bool
	History []Message

	note string // said before the answer (how the image was read)
}

// MaxImages bounds the images attached to one question.
const MaxImages = 4

// AskWith is Ask with options.
//
// An attached image goes to a vision model as an image. Any other model
// gets the image's text, read by OCR, after the question, and the answer
// starts with a note saying so: the user should know the model did not see
// the picture.
func (r *Runner) AskWith(ctx context.Context, def Definition, opt AskOptions, question string, onToken func(string) error) (Answer, error) {
	if len(opt.Images) == 0 {
		return r.askWith(ctx, def, opt, question, onToken)
	}
	if len(opt.Images) > MaxImages {
		return Answer{}, fmt.Errorf("attach at most %d images to one question", MaxImages)
	}
	if strings.TrimSpace(question) == "" {
		return Answer{}, fmt.Errorf("the question is empty")
	}
	info, err := r.modelInfo(ctx, def.Model)
	if err != nil {
		return Answer{}, err
	}
	if info.Has(llm.CapVision) {
		ans, err := r.askWith(ctx, def, opt, question, onToken)
		ans.ImageRead = "vision"
		return ans, err
	}
	if r.ReadImage == nil {
		return Answer{}, fmt.Errorf("%s cannot see images and no OCR is set up here: ask in words, or choose a vision model", def.Model)
	}
	var texts []string
	for _, img := range opt.Images {
		text, err := r.ReadImage(ctx, img)
		if err != nil {
			return Answer{}, err
		}
		if text = strings.TrimSpace(text); text != "" {
			texts = append(texts, text)
		}
	}
	lang := languageOf(def.Language, question)
	opt.Images = nil
	opt.note = imageNote(lang, len(texts) > 0)
	if len(texts) > 0 {
		label := "\n\nText of the attached image, read by OCR:\n"
		if lang == "zh" {
			label = "\n\n附图中的文字（由 OCR 识别）：\n"
		}
		question += label + strings.Join(texts, "\n\n")
	}
	if onToken != nil {
		if err := onToken(opt.note); err != nil {
			return Answer{}, err
		}
	}
	ans, err := r.askWith(ctx, def, opt, question, onToken)
	ans.Answer = opt.note + ans.Answer
	ans.ImageRead = "ocr"
	return ans, err
}

// imageNote starts an answer whose image was read by OCR.
func imageNote(lang string, read bool) string {
	switch {
	case lang == "zh" && read:
		return "_（当前模型无法查看图片：图片中的文字已由 OCR 识别并附在问题后。）_\n\n"
	case lang == "zh":
		return "_（当前模型无法查看图片，OCR 也没有在图片中识别出文字。）_\n\n"
	case read:
		return "_(This model cannot see images: the image's text was read by OCR and added to the question.)_\n\n"
	}
	return "_(This model cannot see images, and OCR found no text in the image.)_\n\n"
}

// Ask answers question as agent def, streaming tokens through onToken, and
// stores the turn in the conversation (created when convID is "").
func (r *Runner) Ask(ctx context.Context, def Definition, convID, question string, onToken func(string) error) (Answer, error) {
	return r.AskWith(ctx, def, AskOptions{Conversation: convID}, question, onToken)
}

// askWith answers a question whose images, if any, go to the model as
// images.
//
// An agent with tools enabled, on a model that supports tool calling, answers
// through the tool loop (see askTools); otherwise the knowledge bases are
// searched before every answer and a question they do not cover is answered
// without calling the model.
func (r *Runner) askWith(ctx context.Context, def Definition, opt AskOptions, question string, onToken func(string) error) (Answer, error) {
	question = strings.TrimSpace(question)
	if question == "" {
		return Answer{}, fmt.Errorf("the question is empty")
	}
	conv := Conversation{ID: NewID(), Agent: def.Name, Title: title(question)}
	if opt.Kept {
		conv.Messages = opt.History
		if opt.Conversation != "" {
			conv.ID = opt.Conversation
		}
	} else if opt.Conversation != "" && !opt.Ephemeral {
		c, err := r.Convs.Get(opt.Conversation)
		if err != nil {
			return Answer{}, err
		}
		conv = c
	}
	if opt.Ephemeral {
		conv.ID = ""
	}
	lang := languageOf(def.Language, question)
	ans := Answer{Conversation: conv.ID, Citations: []Citation{}, Followups: []string{}}
	user := opt.User
	if user == "" {
		user = LocalUser
	}
	// Test runs stay reproducible: no memories read or made.
	memory := def.Memory && r.Memory != nil && !opt.Ephemeral
	var known []Fact
	if memory {
		var err error
		if known, err = r.Memory.List(def.Name, user); err != nil {
			return ans, err
		}
		if note := memoryNote(known); note != "" {
			def.System = strings.TrimSpace(def.System + "\n\n" + note)
		}
	}
	finish := func(ans *Answer) {
		if opt.Ephemeral {
			return
		}
		stored := *ans
		stored.Answer = opt.note + stored.Answer
		if !opt.Kept {
			ans.Message = r.record(conv, question, stored)
		}
		if memory {
			r.remember(ctx, def, user, conv.ID, question, ans.Answer, known)
		}
	}
	if tools := enabledTools(def); len(tools) > 0 {
		info, err := r.modelInfo(ctx, def.Model)
		if err != nil {
			return ans, err
		}
		if info.Has(llm.CapTools) {
			ans, err := r.askTools(ctx, def, conv, lang, question, opt.Images, info, tools, opt.Ephemeral, onToken)
			if err == nil {
				finish(&ans)
			}
			return ans, err
		}
	}
	var hits []rag.Hit
	if len(def.KBs) > 0 && r.Retriever != nil {
		var err error
		hits, err = r.Retriever.Retrieve(ctx, def.KBs, question, r.K)
		if err != nil {
			return ans, err
		}
		// A question about an attached image is the model's to answer
		// even when the knowledge bases know nothing of it.
		if !rag.Covered(hits, question) && len(opt.Images) == 0 && opt.note == "" {
			ans.NotCovered = true
			ans.Answer = rag.NotCoveredAnswer(lang)
			if onToken != nil {
				if err := onToken(ans.Answer); err != nil {
					return ans, err
				}
			}
			finish(&ans)
			return ans, nil
		}
	}

	info, err := r.modelInfo(ctx, def.Model)
	if err != nil {
		return ans, err
	}
	ctxLen := contextLength(def, info)
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
	if len(msgs) > 0 {
		msgs[len(msgs)-1].Images = opt.Images // the question's turn
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
		ans.Citations = append(ans.Citations, Citation{N: i + 1, Source: h.Source, Page: h.Page, Headings: h.Headings, Start: h.Start, End: h.End, Text: h.Text, Used: used[i+1], Boxes: h.Boxes})
	}
	if def.Followups && len(p.Given) > 0 {
		ans.Followups = r.followups(ctx, def, lang, question, ans.Answer, p.Given)
	}
	finish(&ans)
	return ans, nil
}

// contextLength is the window an answer may use: the model's, or the
// agent's smaller setting; 2048 when neither is known.
func contextLength(def Definition, info llm.ModelInfo) int {
	n := info.ContextLength
	if def.NumCtx > 0 && (n == 0 || def.NumCtx < n) {
		n = def.NumCtx
	}
	if n == 0 {
		n = 2048
	}
	return n
}

// askTools answers with tool calling: up to MaxToolSteps rounds in which the
// model may call the agent's tools, then, if it is still calling, one last
// request without tools so that it answers. Passages found by
// search_knowledge are numbered across calls and become the citations.
// Without search_knowledge, an agent with knowledge bases gets its passages
// up front as on the plain path — but a question they do not cover still
// reaches the model, which may need its other tools (a lead, a sum).
func (r *Runner) askTools(ctx context.Context, def Definition, conv Conversation, lang, question string, images [][]byte, info llm.ModelInfo, enabled []string, dryRun bool, onToken func(string) error) (Answer, error) {
	ans := Answer{Conversation: conv.ID, Citations: []Citation{}, Followups: []string{}}
	t := &turn{r: r, def: def, conv: conv.ID, enabled: enabled, dryRun: dryRun}
	user := question
	if !t.has(ToolSearchKnowledge) && len(def.KBs) > 0 && r.Retriever != nil {
		hits, err := r.Retriever.Retrieve(ctx, def.KBs, question, r.K)
		if err != nil {
			return ans, err
		}
		if len(hits) > 0 {
			user = "Passages:\n\n" + t.number(hits) + "\n\nQuestion: " + question
		}
	}
	system := t.instructions(lang, len(t.given) > 0)
	if s := strings.TrimSpace(def.System); s != "" {
		system = s + "\n\n" + system
	}
	msgs := []llm.Message{{Role: "system", Content: system}}
	// History gets at most half the window; the oldest turns go first.
	budget := contextLength(def, info) / 2
	start := len(conv.Messages)
	for start > 0 && budget-rag.EstimateTokens(conv.Messages[start-1].Content)-8 > 0 {
		budget -= rag.EstimateTokens(conv.Messages[start-1].Content) + 8
		start--
	}
	for _, m := range conv.Messages[start:] {
		msgs = append(msgs, llm.Message{Role: m.Role, Content: m.Content})
	}
	msgs = append(msgs, llm.Message{Role: "user", Content: user, Images: images})

	temp := def.Temperature
	tools := t.specs()
	var res llm.ChatResult
	for step := 0; ; step++ {
		final := step == MaxToolSteps
		req := llm.ChatRequest{Model: def.Model, Messages: msgs, Temperature: &temp, NumCtx: def.NumCtx}
		var buf strings.Builder
		stream := onToken
		if !final {
			req.Tools = tools
			// Content that comes with tool calls is the model thinking
			// aloud, not the answer: hold it until the step is known to be
			// the last. (Ollama holds it back itself when tools are given,
			// so nothing is lost in latency.)
			stream = func(s string) error { buf.WriteString(s); return nil }
		}
		var err error
		res, err = r.Model.Chat(ctx, req, stream)
		if ans.TTFT == 0 {
			ans.TTFT = res.TTFT.Seconds()
		}
		if err != nil {
			ans.Answer, ans.Tools, ans.Lead = res.Content, t.uses, t.lead
			return ans, err
		}
		if final || len(res.ToolCalls) == 0 {
			if !final && onToken != nil && buf.Len() > 0 {
				if err := onToken(buf.String()); err != nil {
					return ans, err
				}
			}
			break
		}
		msgs = append(msgs, llm.Message{Role: "assistant", Content: res.Content, ToolCalls: res.ToolCalls})
		for _, tc := range res.ToolCalls {
			msgs = append(msgs, llm.Message{Role: "tool", ToolName: tc.Name, Content: t.call(ctx, tc)})
		}
		if step+1 == MaxToolSteps {
			msgs = append(msgs, llm.Message{Role: "system", Content: "No more tool calls are possible in this turn: answer the user now with what you have."})
		}
	}
	ans.Tools, ans.Lead = t.uses, t.lead
	content := strings.TrimSpace(res.Content)
	if content == "" {
		content = "Sorry, I couldn't finish that answer. Please ask again, perhaps in other words."
		if lang == "zh" {
			content = "抱歉，这次没能给出回答。请换个说法再问一次。"
		}
		if onToken != nil {
			if err := onToken(content); err != nil {
				return ans, err
			}
		}
	}
	ans.Answer = rag.CleanCitations(content, len(t.given))
	used := map[int]bool{}
	for _, n := range rag.Cited(ans.Answer, len(t.given)) {
		used[n] = true
	}
	for i, h := range t.given {
		ans.Citations = append(ans.Citations, Citation{N: i + 1, Source: h.Source, Page: h.Page, Headings: h.Headings, Start: h.Start, End: h.End, Text: h.Text, Used: used[i+1], Boxes: h.Boxes})
	}
	if def.Followups && len(t.given) > 0 {
		ans.Followups = r.followups(ctx, def, lang, question, ans.Answer, t.given)
	}
	return ans, nil
}

// record stores the turn and returns the answer's message id.
func (r *Runner) record(conv Conversation, q string, a Answer) string {
	if r.Convs == nil {
		return ""
	}
	now := time.Now().UTC()
	id := NewID()
	_ = r.Convs.Append(conv,
		Message{ID: NewID(), Role: "user", Content: q, At: now},
		Message{ID: id, Role: "assistant", Content: a.Answer, Citations: a.Citations, Followups: a.Followups, NotCovered: a.NotCovered, TTFT: a.TTFT, At: now})
	return id
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
