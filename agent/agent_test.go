package agent

import (
	"context"
	"errors"
	"maps"
	"slices"
	"strings"
	"testing"

	"atoll/internal/ollamafake"
	"atoll/llm"
	"atoll/rag"
)

func fakeClient(t *testing.T) (*ollamafake.Server, *llm.Client) {
	srv := ollamafake.New(t)
	c, err := llm.New(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	return srv, c
}

func TestRepoVersions(t *testing.T) {
	r := NewRepo(t.TempDir())
	d := Definition{Name: "baker", Model: "m", System: "one"}
	s1, err := r.Save(d)
	if err != nil || s1.Version != 1 {
		t.Fatalf("%+v %v", s1, err)
	}
	d.System = "two"
	s2, _ := r.Save(d)
	if s2.Version != 2 {
		t.Fatalf("version %d", s2.Version)
	}
	cur, _ := r.Get("baker")
	old, _ := r.GetVersion("baker", 1)
	if cur.System != "two" || old.System != "one" {
		t.Fatalf("cur %q old %q", cur.System, old.System)
	}
	if _, err := r.Save(Definition{Name: "../x", Model: "m"}); err == nil {
		t.Fatal("path-like name accepted")
	}
	if _, err := r.Save(Definition{Name: "nomodel"}); err == nil {
		t.Fatal("agent without model accepted")
	}
	if _, err := r.Get("nope"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("missing agent: %v", err)
	}
}

func TestDraftValidRetryFallback(t *testing.T) {
	srv, c := fakeClient(t)
	ctx := context.Background()
	good := map[string]any{
		"name": "Crumb Helper", "description": "Answers bakery questions and takes cake orders.",
		"system":   "You are the friendly assistant of Sweet Crumb Bakery. Answer from the documents and cite [n].",
		"opening":  "Hi! Want to order a cake?",
		"starters": []string{"What cakes do you sell?", "How much is a birthday cake?", "Can you deliver?"},
	}
	srv.Script(ollamafake.Reply{JSON: good})
	d, err := DraftFromSentence(ctx, c, ollamafake.DefaultChatModel, "a customer-service agent for my bakery that takes cake orders", []string{"kb"})
	if err != nil || d.Fallback || d.Agent.Name != "Crumb Helper" || len(d.Agent.Starters) != 3 || d.Agent.KBs[0] != "kb" {
		t.Fatalf("valid draft: %+v %v", d, err)
	}
	if chats := srv.Chats(); len(chats[0].Format) == 0 || !strings.Contains(string(chats[0].Format), "starters") {
		t.Fatalf("the JSON schema must go in format: %s", chats[0].Format)
	}

	// First draft invalid (one starter, short system): one retry with the problems.
	bad := map[string]any{"name": "X1", "description": "d", "system": "short", "opening": "hi", "starters": []string{"one?"}}
	srv.Script(ollamafake.Reply{JSON: bad}, ollamafake.Reply{JSON: good})
	d, err = DraftFromSentence(ctx, c, ollamafake.DefaultChatModel, "a bakery helper", nil)
	if err != nil || d.Fallback {
		t.Fatalf("retry should succeed: %+v %v", d, err)
	}
	chats := srv.Chats()
	last := chats[len(chats)-1].Messages
	if !strings.Contains(last[len(last)-1].Content, "starters must be 3 to 5") {
		t.Fatalf("the retry must carry the validation errors: %+v", last[len(last)-1])
	}

	// Both invalid: the template, and the note says so — in Chinese for a Chinese sentence.
	srv.Script(ollamafake.Reply{Text: "not json"}, ollamafake.Reply{JSON: bad})
	d, err = DraftFromSentence(ctx, c, ollamafake.DefaultChatModel, "为我的面包店做一个客服助手，回答价格问题并接受蛋糕订单", nil)
	if err != nil || !d.Fallback || d.Note == "" || d.Agent.Language != "zh" || rag.DetectLanguage(d.Agent.System) != "zh" {
		t.Fatalf("fallback: %+v %v", d, err)
	}
	if err := d.Agent.Validate(); err != nil {
		t.Fatalf("the template must be saveable: %v", err)
	}
}

type staticRetriever []rag.Hit

func (s staticRetriever) Retrieve(context.Context, []string, string, int) ([]rag.Hit, error) {
	return s, nil
}

func TestRunnerStreamCutKeepsText(t *testing.T) {
	srv, c := fakeClient(t)
	hits := staticRetriever{{Passage: rag.Passage{ID: "1", Source: "/d/faq.md", Text: "Birthday cakes need 48 hours notice."}, Score: 1}}
	r := NewRunner(c, hits, NewConversations(t.TempDir()))
	def := Definition{Name: "b", Model: ollamafake.DefaultChatModel, KBs: []string{"kb"}}
	srv.Script(ollamafake.Reply{Text: "Birthday cakes need forty eight hours", CutAfter: 3})
	var got strings.Builder
	ans, err := r.Ask(context.Background(), def, "", "How much notice do birthday cakes need?", func(s string) error { got.WriteString(s); return nil })
	if !errors.Is(err, llm.ErrStreamCut) {
		t.Fatalf("want ErrStreamCut, got %v", err)
	}
	if got.Len() == 0 || ans.Answer == "" {
		t.Fatal("the text streamed before the cut should be kept")
	}
	if !strings.Contains(llm.Sentence(err), "cut") {
		t.Fatalf("sentence: %s", llm.Sentence(err))
	}
}

func TestMarkdownExport(t *testing.T) {
	conv := Conversation{Title: "Cakes", Agent: "baker", Messages: []Message{
		{Role: "user", Content: "Price?"},
		{Role: "assistant", Content: "38 euros [1].", Citations: []Citation{{N: 1, Source: "/d/prices.pdf", Page: 2, Used: true}, {N: 2, Source: "/d/x.md"}}},
	}}
	md := conv.Markdown()
	if !strings.Contains(md, "[1] prices.pdf, page 2") || strings.Contains(md, "x.md") {
		t.Fatalf("markdown:\n%s", md)
	}
}

func TestDraftLeadForm(t *testing.T) {
	srv, c := fakeClient(t)
	ctx := context.Background()
	withLead := map[string]any{
		"name": "Cake Orders", "description": "Takes cake orders.",
		"system":   "You are the assistant of Sweet Crumb Bakery. Answer from the documents, cite [n], and take cake orders.",
		"opening":  "Hi! Shall we order a cake?",
		"starters": []string{"What cakes do you sell?", "How much is a birthday cake?", "Can you deliver?"},
		"lead_fields": []map[string]any{
			{"name": "name", "label": "Name", "type": "text", "required": true},
			{"name": "phone", "label": "Phone", "type": "phone", "required": true},
			{"name": "pickup_date", "label": "Pick-up date", "type": "date"},
		},
	}
	srv.Script(ollamafake.Reply{JSON: withLead})
	d, err := DraftFromSentence(ctx, c, ollamafake.DefaultChatModel, "a customer-service agent for my bakery that takes cake orders", []string{"kb"})
	if err != nil || d.Agent.LeadForm == nil || len(d.Agent.LeadForm.Fields) != 3 || !slices.Contains(d.Agent.Tools, ToolSaveLead) {
		t.Fatalf("lead form from the draft: %+v %v", d.Agent, err)
	}
	if err := d.Agent.Validate(); err != nil {
		t.Fatalf("draft with a lead form must be saveable: %v", err)
	}
	// A bad field name is a validation error the retry carries.
	bad := maps.Clone(withLead)
	bad["lead_fields"] = []map[string]any{{"name": "Phone Number!", "label": "Phone", "type": "phone"}}
	srv.Script(ollamafake.Reply{JSON: bad}, ollamafake.Reply{JSON: withLead})
	if d, err := DraftFromSentence(ctx, c, ollamafake.DefaultChatModel, "bakery orders", nil); err != nil || d.Fallback {
		t.Fatalf("retry after a bad lead field: %+v %v", d, err)
	}
	chats := srv.Chats()
	last := chats[len(chats)-1].Messages
	if !strings.Contains(last[len(last)-1].Content, "lead_fields") {
		t.Fatalf("the retry must name the lead field problem: %q", last[len(last)-1].Content)
	}
	// The template: a lead form when the sentence implies orders, none otherwise.
	if tpl := Template("a customer-service agent for my bakery that takes cake orders", "m", nil); tpl.LeadForm == nil || tpl.Validate() != nil {
		t.Fatalf("template for orders: %+v", tpl.LeadForm)
	}
	if tpl := Template("为我的花店做一个接受预订的客服", "m", nil); tpl.LeadForm == nil || tpl.LeadForm.Fields[0].Label != "姓名" {
		t.Fatalf("Chinese template for bookings: %+v", tpl.LeadForm)
	}
	if tpl := Template("an assistant that answers questions about our product manual", "m", nil); tpl.LeadForm != nil {
		t.Fatal("no lead form when nothing is ordered or booked")
	}
}

// TestDraftNames: a template's name comes from the request's key noun
// phrase and a model's long name is cut between words, never on a word
// such as "for" or "my".
func TestDraftNames(t *testing.T) {
	for sentence, want := range map[string]string{
		"a customer-service agent for my bakery that takes cake orders": "Bakery assistant",
		"an assistant for our dental clinic to book appointments":       "Dental clinic assistant",
		"a customer-service agent":                                      "Customer-service agent",
		"answer questions about the handbook":                           "Answer questions",
		"为我的面包店做一个接受蛋糕预订的客服":                                            "面包店助手",
	} {
		if got := Template(sentence, "m", nil).Name; got != want {
			t.Errorf("Template(%q).Name = %q, want %q", sentence, got, want)
		}
	}
	for in, want := range map[string]string{
		"Customer-service agent for my":                         "Customer-service agent",
		"The friendly assistant of the Sweet Crumb Bakery shop": "The friendly assistant of the Sweet",
		"Crumb Orders": "Crumb Orders",
	} {
		got := safeName(in)
		if got != want || len([]rune(got)) > 40 {
			t.Errorf("safeName(%q) = %q, want %q", in, got, want)
		}
	}
}
