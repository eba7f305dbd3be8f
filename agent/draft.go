package agent

import (
	"context"
	"encoding/json"
	"fmt"
	"regexp"
	"strings"

	"atoll/llm"
	"atoll/rag"
)

// Draft is a proposed agent for the user to review before saving.
type Draft struct {
	Agent    Definition `json:"agent"`
	Note     string     `json:"note"`     // says when the template fallback was used
	Fallback bool       `json:"fallback"` // true when the model's drafts failed validation twice
}

// draftSchema is sent as Ollama's structured-output `format`.
var draftSchema = json.RawMessage(`{
 "type": "object",
 "properties": {
  "name": {"type": "string"},
  "description": {"type": "string"},
  "system": {"type": "string"},
  "opening": {"type": "string"},
  "starters": {"type": "array", "items": {"type": "string"}, "minItems": 3, "maxItems": 5},
  "lead_fields": {"type": "array", "items": {"type": "object", "properties": {
    "name": {"type": "string"}, "label": {"type": "string"},
    "type": {"type": "string", "enum": ["text", "phone", "email", "date", "number"]},
    "required": {"type": "boolean"}}, "required": ["name", "label", "type"]}}
 },
 "required": ["name", "description", "system", "opening", "starters"]
}`)

type draftJSON struct {
	Name        string      `json:"name"`
	Description string      `json:"description"`
	System      string      `json:"system"`
	Opening     string      `json:"opening"`
	Starters    []string    `json:"starters"`
	LeadFields  []LeadField `json:"lead_fields"`
}

// validate returns every problem, in words the model can act on when retried.
func (d draftJSON) validate(lang string) []string {
	var errs []string
	if n := len([]rune(strings.TrimSpace(d.Name))); n < 2 || n > 40 {
		errs = append(errs, "name must be 2 to 40 characters")
	}
	if len([]rune(strings.TrimSpace(d.System))) < 40 {
		errs = append(errs, "system must be a full system prompt of at least 40 characters")
	}
	if strings.TrimSpace(d.Opening) == "" {
		errs = append(errs, "opening must greet the user")
	}
	if strings.TrimSpace(d.Description) == "" {
		errs = append(errs, "description must not be empty")
	}
	good := 0
	for _, s := range d.Starters {
		if l := len([]rune(strings.TrimSpace(s))); l >= 4 && l <= 120 {
			good++
		}
	}
	if good < 3 || len(d.Starters) > 5 {
		errs = append(errs, "starters must be 3 to 5 short questions")
	}
	if len(d.LeadFields) > 0 {
		if err := (LeadForm{Fields: d.LeadFields}).Validate(); err != nil {
			errs = append(errs, "lead_fields: "+err.Error()+" (names are lower-case letters, digits and _)")
		}
	}
	if lang == "zh" && rag.DetectLanguage(d.System+d.Opening) != "zh" {
		errs = append(errs, "write every field in Chinese, the language of the request")
	}
	return errs
}

// DraftFromSentence asks model for a complete agent definition from one
// sentence, in the sentence's language, validates it, retries once with the
// problems, and falls back to a template filled from the sentence.
func DraftFromSentence(ctx context.Context, m Model, model, sentence string, kbs []string) (Draft, error) {
	sentence = strings.TrimSpace(sentence)
	if sentence == "" {
		return Draft{}, fmt.Errorf("describe the agent in one sentence first")
	}
	lang := rag.DetectLanguage(sentence)
	instr := "You design assistants. From the user's one-sentence request, write a complete assistant definition as JSON: " +
		"name (short, 2-40 characters), description (one sentence), system (a detailed system prompt: role, tone, what to answer from the documents, " +
		"to say so when the documents do not cover a question, to cite sources as [n]), opening (a friendly first message), " +
		"starters (3 to 5 questions a customer would ask), and lead_fields only when the request implies orders, bookings or " +
		"enquiries: the contact details and order details to collect (name, label, type text|phone|email|date|number, required). " +
		"Write in the language of the request."
	if lang == "zh" {
		instr += " The request is in Chinese: write every field in Simplified Chinese."
	}
	msgs := []llm.Message{{Role: "system", Content: instr}, {Role: "user", Content: sentence}}
	var problems []string
	for attempt := 0; attempt < 2; attempt++ {
		if attempt == 1 {
			msgs = append(msgs, llm.Message{Role: "user", Content: "That draft was not valid: " + strings.Join(problems, "; ") + ". Send the corrected JSON."})
		}
		temp := 0.4
		res, err := m.Chat(ctx, llm.ChatRequest{Model: model, Messages: msgs, Format: draftSchema, Temperature: &temp}, nil)
		if err != nil {
			return Draft{}, err
		}
		var d draftJSON
		if err := json.Unmarshal([]byte(res.Content), &d); err != nil {
			problems = []string{"the reply was not the requested JSON object"}
			msgs = append(msgs, llm.Message{Role: "assistant", Content: res.Content})
			continue
		}
		problems = d.validate(lang)
		if len(problems) == 0 {
			return Draft{Agent: fromDraft(d, model, lang, kbs)}, nil
		}
		msgs = append(msgs, llm.Message{Role: "assistant", Content: res.Content})
	}
	note := "The model's drafts were not usable (" + strings.Join(problems, "; ") + "), so this is a template filled from your sentence: review every field."
	if lang == "zh" {
		note = "模型生成的草稿不可用（" + strings.Join(problems, "；") + "），以下是根据你的描述填写的模板，请逐项检查。"
	}
	return Draft{Agent: Template(sentence, model, kbs), Note: note, Fallback: true}, nil
}

func fromDraft(d draftJSON, model, lang string, kbs []string) Definition {
	var starters []string
	for _, s := range d.Starters {
		if s = strings.TrimSpace(s); s != "" && len(starters) < 5 {
			starters = append(starters, s)
		}
	}
	def := Definition{Name: safeName(d.Name), Description: strings.TrimSpace(d.Description), Language: lang, System: strings.TrimSpace(d.System),
		Opening: strings.TrimSpace(d.Opening), Starters: starters, Model: model, KBs: kbs, Temperature: 0.3, Followups: true}
	if len(d.LeadFields) > 0 {
		def.LeadForm = &LeadForm{Fields: d.LeadFields}
		def.Tools = []string{ToolSaveLead}
		if len(kbs) > 0 {
			def.Tools = append(def.Tools, ToolSearchKnowledge)
		}
	}
	return def
}

// ordering reports whether a sentence asks for orders, bookings or
// enquiries: the template then carries a lead form.
func ordering(s string) bool {
	s = strings.ToLower(s)
	for _, w := range []string{"order", "booking", "book ", "reserv", "appointment", "enquir", "inquir", "quote", "lead", "订", "预约", "预定", "咨询", "报价", "留资"} {
		if strings.Contains(s, w) {
			return true
		}
	}
	return false
}

func templateLeadForm(lang string) *LeadForm {
	if lang == "zh" {
		return &LeadForm{Fields: []LeadField{{Name: "name", Label: "姓名", Type: "text", Required: true}, {Name: "phone", Label: "电话", Type: "phone", Required: true}, {Name: "details", Label: "需求", Type: "text"}, {Name: "date", Label: "日期", Type: "date"}}}
	}
	return &LeadForm{Fields: []LeadField{{Name: "name", Label: "Name", Type: "text", Required: true}, {Name: "phone", Label: "Phone", Type: "phone"}, {Name: "email", Label: "Email", Type: "email"}, {Name: "details", Label: "Order details", Type: "text"}, {Name: "date", Label: "Date", Type: "date"}}}
}

var notNameChars = regexp.MustCompile(`[^\p{L}\p{N} _.\-]+`)

// safeName makes a model's name a valid agent name of at most 40
// characters, cut between words and never on a word such as "for" or "my".
func safeName(s string) string {
	s = strings.TrimSpace(notNameChars.ReplaceAllString(s, " "))
	name := trimName(strings.Fields(s), 40)
	if name == "" {
		return "New agent"
	}
	return name
}

// nameStop are words a name must not end on.
var nameStop = map[string]bool{
	"a": true, "an": true, "the": true, "my": true, "our": true, "your": true, "their": true, "his": true, "her": true, "its": true,
	"for": true, "of": true, "to": true, "in": true, "on": true, "at": true, "by": true, "with": true, "from": true, "about": true,
	"and": true, "or": true, "that": true, "which": true, "who": true, "where": true, "when": true, "so": true, "as": true,
	"is": true, "are": true, "be": true, "can": true, "will": true, "this": true, "these": true, "i": true, "we": true, "me": true, "us": true,
}

// trimName joins words up to max runes (whole words only) and drops the
// stop words it would end on.
func trimName(words []string, max int) string {
	var out []string
	n := 0
	for _, w := range words {
		l := len([]rune(w))
		if len(out) > 0 {
			l++
		}
		if n+l > max {
			if len(out) == 0 { // one very long word: cut it
				out = append(out, string([]rune(w)[:max]))
			}
			break
		}
		out = append(out, w)
		n += l
	}
	for len(out) > 1 && nameStop[strings.ToLower(strings.Trim(out[len(out)-1], ".-_"))] {
		out = out[:len(out)-1]
	}
	return strings.TrimRight(strings.Join(out, " "), " .")
}

// whose finds the business a sentence is for: "for my bakery that takes
// orders" -> "bakery", "at our dental clinic" -> "dental clinic".
var whose = regexp.MustCompile(`(?i)\b(?:for|at|of)\s+(?:my|our|your|a|an|the)\s+((?:[\p{L}\p{N}'-]+\s*){1,3})`)

var whoseZH = regexp.MustCompile(`(?:为|给)(?:我的|我们的|我们|我)?(\p{Han}{1,8}?)(?:做|打造|创建|建立|搭建|设计|写)`)

// templateName names an agent from the request's key noun phrase:
// "a customer-service agent for my bakery that takes cake orders" ->
// "Bakery assistant"; without one, its first words up to a connecting word.
func templateName(sentence string) string {
	if rag.DetectLanguage(sentence) == "zh" {
		if m := whoseZH.FindStringSubmatch(sentence); m != nil {
			return safeName(m[1] + "助手")
		}
		return safeName(firstWords(sentence, 12))
	}
	if m := whose.FindStringSubmatch(sentence); m != nil {
		var noun []string
		for _, w := range strings.Fields(m[1]) {
			if nameStop[strings.ToLower(w)] {
				break
			}
			noun = append(noun, w)
		}
		if len(noun) > 0 {
			return safeName(capitalise(strings.Join(noun, " ") + " assistant"))
		}
	}
	w := strings.Fields(sentence)
	for len(w) > 0 && isFiller(w[0]) {
		w = w[1:]
	}
	for i, x := range w { // up to the first connecting word
		if i > 0 && nameStop[strings.ToLower(x)] {
			w = w[:i]
			break
		}
	}
	if len(w) > 4 {
		w = w[:4]
	}
	return safeName(capitalise(trimName(w, 40)))
}

func capitalise(s string) string {
	r := []rune(s)
	if len(r) == 0 {
		return s
	}
	return strings.ToUpper(string(r[:1])) + string(r[1:])
}

// Template is the fallback definition built from the sentence alone.
func Template(sentence, model string, kbs []string) Definition {
	d := template(sentence, model, kbs)
	if ordering(sentence) {
		d.LeadForm = templateLeadForm(d.Language)
		d.Tools = []string{ToolSaveLead}
		if len(kbs) > 0 {
			d.Tools = append(d.Tools, ToolSearchKnowledge)
		}
	}
	return d
}

func template(sentence, model string, kbs []string) Definition {
	lang := rag.DetectLanguage(sentence)
	if lang == "zh" {
		return Definition{Name: templateName(sentence), Description: sentence, Language: "zh",
			System:   "你是一个助手，任务是：" + sentence + "。只根据提供的资料回答，并用 [n] 标注来源；资料中没有的内容，请直接说明资料未涉及，不要编造。语气友好、简洁。",
			Opening:  "你好！有什么可以帮你的吗？",
			Starters: []string{"你们提供哪些服务？", "价格是多少？", "如何联系你们？"}, Model: model, KBs: kbs, Temperature: 0.3, Followups: true}
	}
	return Definition{Name: templateName(sentence), Description: sentence, Language: "en",
		System:   "You are an assistant whose job is: " + sentence + ". Answer only from the provided documents and cite them as [n]; when the documents do not cover a question, say so plainly instead of guessing. Be friendly and brief.",
		Opening:  "Hello! How can I help you today?",
		Starters: []string{"What do you offer?", "How much does it cost?", "How can I contact you?"}, Model: model, KBs: kbs, Temperature: 0.3, Followups: true}
}

func firstWords(s string, n int) string {
	if rag.DetectLanguage(s) == "zh" {
		r := []rune(s)
		if len(r) > n {
			r = r[:n]
		}
		return string(r)
	}
	w := strings.Fields(s)
	for len(w) > 0 && isFiller(w[0]) {
		w = w[1:]
	}
	if len(w) > n {
		w = w[:n]
	}
	if len(w) == 0 {
		return "New agent"
	}
	out := strings.Join(w, " ")
	return strings.ToUpper(out[:1]) + out[1:]
}

func isFiller(w string) bool {
	switch strings.ToLower(w) {
	case "a", "an", "the", "make", "create", "build", "i", "want", "need":
		return true
	}
	return false
}
