package agent

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"atoll/internal/ollamafake"
	"atoll/rag"
)

// queryRetriever answers each query with its own hits (nil for others).
type queryRetriever map[string][]rag.Hit

func (q queryRetriever) Retrieve(_ context.Context, _ []string, query string, _ int) ([]rag.Hit, error) {
	return q[query], nil
}

func hit(id, source, text string) rag.Hit {
	return rag.Hit{Passage: rag.Passage{ID: id, Source: source, Text: text}, Score: 1}
}

func call(name string, args map[string]any) ollamafake.ToolCall {
	return ollamafake.ToolCall{Name: name, Arguments: args}
}

// toolMessages returns the contents of the "tool" messages of a request.
func toolMessages(req ollamafake.ChatRequest) []string {
	var out []string
	for _, m := range req.Messages {
		if m.Role == "tool" {
			out = append(out, m.Content)
		}
	}
	return out
}

func TestToolSearchThenCite(t *testing.T) {
	srv, c := fakeClient(t)
	ret := queryRetriever{
		"cake price": {hit("a", "/d/prices.md", "A 20 cm chocolate cake costs 38 euros."), hit("b", "/d/faq.md", "We deliver in town.")},
		"delivery":   {hit("b", "/d/faq.md", "We deliver in town."), hit("c", "/d/faq.md", "Delivery costs 5 euros.")},
	}
	r := NewRunner(c, ret, NewConversations(t.TempDir()))
	def := Definition{Name: "b", Model: ollamafake.DefaultChatModel, KBs: []string{"kb"}, Tools: []string{ToolSearchKnowledge}}
	srv.Script(
		ollamafake.Reply{ToolCalls: []ollamafake.ToolCall{call(ToolSearchKnowledge, map[string]any{"query": "cake price"})}},
		ollamafake.Reply{ToolCalls: []ollamafake.ToolCall{call(ToolSearchKnowledge, map[string]any{"query": "delivery"})}},
		ollamafake.Reply{Text: "A cake costs 38 euros [1] and delivery 5 euros [3]. Also [7]."},
	)
	var streamed strings.Builder
	ans, err := r.Ask(context.Background(), def, "", "How much is a cake delivered?", func(s string) error { streamed.WriteString(s); return nil })
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(ans.Answer, "[1]") || !strings.Contains(ans.Answer, "[3]") || strings.Contains(ans.Answer, "[7]") {
		t.Fatalf("answer: %q", ans.Answer)
	}
	// Numbering continues across calls; a passage found twice keeps its number.
	if len(ans.Citations) != 3 || ans.Citations[2].Text != "Delivery costs 5 euros." {
		t.Fatalf("citations: %+v", ans.Citations)
	}
	if !ans.Citations[0].Used || ans.Citations[1].Used || !ans.Citations[2].Used {
		t.Fatalf("used flags: %+v", ans.Citations)
	}
	chats := srv.Chats()
	if len(chats) != 3 || !strings.Contains(string(chats[0].Tools), ToolSearchKnowledge) {
		t.Fatalf("%d chats; tools offered: %s", len(chats), chats[0].Tools)
	}
	second := toolMessages(chats[2])
	if len(second) != 2 || !strings.Contains(second[0], "[1] (prices.md)") || !strings.Contains(second[1], "[2] (faq.md)") || !strings.Contains(second[1], "[3] (faq.md)") {
		t.Fatalf("tool results: %q", second)
	}
	if !strings.Contains(chats[0].Messages[0].Content, "search_knowledge") {
		t.Fatalf("system prompt should tell the model to search: %q", chats[0].Messages[0].Content)
	}
	if !strings.Contains(streamed.String(), "38 euros") {
		t.Fatalf("the final answer should stream: %q", streamed.String())
	}
	conv, err := r.Convs.Get(ans.Conversation)
	if err != nil || len(conv.Messages) != 2 || len(conv.Messages[1].Citations) != 3 {
		t.Fatalf("conversation: %+v %v", conv, err)
	}
}

func TestToolDisabledRefusedAndMalformed(t *testing.T) {
	srv, c := fakeClient(t)
	leads := NewLeads(filepath.Join(t.TempDir(), "leads"))
	r := NewRunner(c, staticRetriever{hit("a", "/d/x.md", "text")}, NewConversations(t.TempDir()))
	r.Leads = leads
	def := Definition{Name: "b", Model: ollamafake.DefaultChatModel, KBs: []string{"kb"}, Tools: []string{ToolCalculate, ToolSearchKnowledge}}
	srv.Script(
		ollamafake.Reply{ToolCalls: []ollamafake.ToolCall{
			call(ToolSaveLead, map[string]any{"email": "a@b.cd"}), // no lead form: not enabled
			call("run_shell", map[string]any{"cmd": "rm -rf /"}),
			call(ToolCalculate, map[string]any{"expression": 42.0}), // wrong type
			call(ToolSearchKnowledge, map[string]any{}),             // missing
			call(ToolCalculate, map[string]any{"expression": "(2+3)*4"}),
		}},
		ollamafake.Reply{Text: "It is 20."},
	)
	ans, err := r.Ask(context.Background(), def, "", "What is (2+3)*4?", nil)
	if err != nil {
		t.Fatal(err)
	}
	if ans.Answer != "It is 20." || len(ans.Tools) != 5 {
		t.Fatalf("answer %q tools %+v", ans.Answer, ans.Tools)
	}
	res := toolMessages(srv.Chats()[1])
	want := []string{"not available", "not available", "must be a string", `"query" is missing`, "(2+3)*4 = 20"}
	for i, w := range want {
		if !strings.Contains(res[i], w) {
			t.Errorf("tool result %d = %q, want %q", i, res[i], w)
		}
		if ans.Tools[i].Error != (i < 4) {
			t.Errorf("tool %d error flag %v", i, ans.Tools[i].Error)
		}
	}
	if got, _ := leads.List("b"); len(got) != 0 {
		t.Fatalf("a refused save_lead stored %+v", got)
	}
	if strings.Contains(string(srv.Chats()[0].Tools), ToolSaveLead) {
		t.Fatal("save_lead offered without a lead form")
	}
}

func TestToolSaveLeadValidates(t *testing.T) {
	srv, c := fakeClient(t)
	r := NewRunner(c, nil, NewConversations(t.TempDir()))
	r.Leads = NewLeads(filepath.Join(t.TempDir(), "leads"))
	form := &LeadForm{Fields: []LeadField{
		{Name: "name", Label: "Your name", Type: "text", Required: true},
		{Name: "email", Label: "Email", Type: "email", Required: true},
		{Name: "phone", Label: "Phone", Type: "phone"},
		{Name: "pickup", Label: "Pick-up date", Type: "date"},
	}}
	def := Definition{Name: "shop", Model: ollamafake.DefaultChatModel, LeadForm: form}
	if err := def.Validate(); err != nil {
		t.Fatal(err)
	}
	srv.Script(
		ollamafake.Reply{ToolCalls: []ollamafake.ToolCall{call(ToolSaveLead, map[string]any{"name": "Ann", "email": "ann@", "phone": "12", "pickup": "tomorrow"})}},
		ollamafake.Reply{ToolCalls: []ollamafake.ToolCall{call(ToolSaveLead, map[string]any{"name": "Ann", "email": "Ann@Example.com", "phone": "+33 6-12-34-56-78", "pickup": "2026-12-24"})}},
		ollamafake.Reply{Text: "Thanks Ann, we'll be in touch."},
	)
	ans, err := r.Ask(context.Background(), def, "", "Yes, those details are right.", nil)
	if err != nil {
		t.Fatal(err)
	}
	chats := srv.Chats()
	first := toolMessages(chats[1])[0]
	for _, w := range []string{"not saved", "email", "not an email address", "phone", "YYYY-MM-DD"} {
		if !strings.Contains(first, w) {
			t.Errorf("rejection lacks %q: %s", w, first)
		}
	}
	sys := chats[0].Messages[0].Content
	if !strings.Contains(sys, "confirm") || !strings.Contains(sys, "Your name") {
		t.Errorf("system prompt lacks the lead instructions: %s", sys)
	}
	if tools := string(chats[0].Tools); !strings.Contains(tools, ToolSaveLead) || !strings.Contains(tools, "Pick-up date (YYYY-MM-DD)") || !strings.Contains(tools, `"required":["name","email"]`) {
		t.Errorf("save_lead schema: %s", tools)
	}
	got, err := r.Leads.List("shop")
	if err != nil || len(got) != 1 {
		t.Fatalf("leads: %+v %v", got, err)
	}
	ld := got[0]
	if ld.Name != "Ann" || ld.Email != "ann@example.com" || ld.Phone != "+33 6-12-34-56-78" || ld.Fields["pickup"] != "2026-12-24" || ld.Agent != "shop" || ld.Conversation != ans.Conversation || ld.Conversation == "" {
		t.Fatalf("lead: %+v (conversation %s)", ld, ans.Conversation)
	}
	if ans.Lead == nil || ans.Lead.ID != ld.ID {
		t.Fatalf("the answer should carry the saved lead: %+v", ans.Lead)
	}
}

func TestLeadsMergeDuplicates(t *testing.T) {
	l := NewLeads(t.TempDir())
	form := LeadForm{Fields: []LeadField{{Name: "name", Type: "text"}, {Name: "email", Type: "email"}, {Name: "phone", Type: "phone"}, {Name: "note", Type: "text"}}}
	t0 := time.Date(2026, 11, 1, 10, 0, 0, 0, time.UTC)
	a, merged, err := l.Save("shop", "c1", form, map[string]string{"name": "Ann", "email": "ann@x.com", "note": "chocolate"}, t0)
	if err != nil || merged {
		t.Fatal(err, merged)
	}
	b, merged, _ := l.Save("shop", "c2", form, map[string]string{"name": "Ann Smith", "email": "ANN@x.com", "phone": "+33 612 345 678"}, t0.Add(time.Hour))
	if !merged || b.ID != a.ID || b.Name != "Ann Smith" || b.Fields["note"] != "chocolate" || b.Phone == "" || b.Conversation != "c2" || !b.Created.Equal(t0) {
		t.Fatalf("merge by email: %+v", b)
	}
	// Same phone written differently, no email: the same person.
	c, merged, _ := l.Save("shop", "c3", form, map[string]string{"phone": "+33-612-345-678", "note": "vanilla"}, t0.Add(2*time.Hour))
	if !merged || c.ID != a.ID || c.Name != "Ann Smith" || c.Fields["note"] != "vanilla" || c.Email != "ann@x.com" {
		t.Fatalf("merge by phone: %+v", c)
	}
	if _, merged, _ := l.Save("shop", "c4", form, map[string]string{"name": "Bob", "email": "bob@x.com"}, t0.Add(3*time.Hour)); merged {
		t.Fatal("a different person was merged")
	}
	all, _ := l.List("shop")
	if len(all) != 2 {
		t.Fatalf("leads: %+v", all)
	}
	csv := LeadsCSV(all)
	lines := strings.Split(strings.TrimSpace(csv), "\n")
	if len(lines) != 3 || lines[0] != "id,name,email,phone,note,chatflowid,chatId,createdDate,updatedDate" || !strings.Contains(lines[1], "Ann Smith,ann@x.com,+33-612-345-678,vanilla,shop,c3,") {
		t.Fatalf("csv:\n%s", csv)
	}
	if cell("=HYPERLINK(\"x\")") != "'=HYPERLINK(\"x\")" || cell("+33 6 12") != "+33 6 12" || cell("-2+3") != "'-2+3" {
		t.Fatal("formula guard")
	}
}

func TestCalculate(t *testing.T) {
	for expr, want := range map[string]string{
		"1+2*3": "7", "(1 + 2) * 3": "9", "2^3^2": "512", "-2^2": "-4", "10/4": "2.5",
		"0.1+0.2": "0.3", "2^-1": "0.5", "38*3/4": "28.5", "((((7))))": "7", ".5*4": "2", "1 - -1": "2",
	} {
		v, err := Calculate(expr)
		if err != nil || FormatNumber(v) != want {
			t.Errorf("%s = %v (%v), want %s", expr, FormatNumber(v), err, want)
		}
	}
	for _, expr := range []string{"", "os.Exit(1)", "2+", "1/0", "abc", "2**3", "(1+2", "1e5", "sqrt(4)", "1;2", "2 3", "__import__('os')", strings.Repeat("(", 100) + "1" + strings.Repeat(")", 100), "10^400"} {
		if v, err := Calculate(expr); err == nil {
			t.Errorf("%q accepted = %v", expr, v)
		}
	}
}

func TestToolStepBound(t *testing.T) {
	srv, c := fakeClient(t)
	r := NewRunner(c, nil, NewConversations(t.TempDir()))
	r.Now = func() time.Time { return time.Date(2026, 11, 29, 9, 30, 0, 0, time.UTC) }
	def := Definition{Name: "b", Model: ollamafake.DefaultChatModel, Tools: []string{ToolCurrentDatetime}}
	loop := ollamafake.Reply{ToolCalls: []ollamafake.ToolCall{call(ToolCurrentDatetime, nil)}}
	srv.Script(loop, loop, loop, loop, ollamafake.Reply{Text: "It is Sunday."})
	ans, err := r.Ask(context.Background(), def, "", "What day is it?", nil)
	if err != nil {
		t.Fatal(err)
	}
	chats := srv.Chats()
	if len(chats) != MaxToolSteps+1 || len(ans.Tools) != MaxToolSteps || ans.Answer != "It is Sunday." {
		t.Fatalf("%d chats, %d tool uses, answer %q", len(chats), len(ans.Tools), ans.Answer)
	}
	if last := string(chats[MaxToolSteps].Tools); last != "" && last != "null" {
		t.Fatalf("the last request must offer no tools: %s", last)
	}
	if !strings.Contains(toolMessages(chats[1])[0], "Sunday, 2026-11-29 09:30") {
		t.Fatalf("datetime result: %q", toolMessages(chats[1]))
	}
	// A model that still calls tools when none are offered gets no endless loop.
	srv.Script(loop, loop, loop, loop, loop, loop)
	ans, err = r.Ask(context.Background(), def, "", "What day is it?", nil)
	if err != nil || !strings.Contains(ans.Answer, "couldn't finish") || len(srv.Chats()) != 2*(MaxToolSteps+1) {
		t.Fatalf("answer %q err %v chats %d", ans.Answer, err, len(srv.Chats()))
	}
}

func TestNoToolModelRetrievesFirst(t *testing.T) {
	srv, c := fakeClient(t)
	srv.AddModel(ollamafake.Model{Name: "plain", ContextLength: 8192, Capabilities: []string{"completion"}})
	hits := staticRetriever{hit("a", "/d/prices.md", "A 20 cm chocolate cake costs 38 euros.")}
	r := NewRunner(c, hits, NewConversations(t.TempDir()))
	def := Definition{Name: "b", Model: "plain", KBs: []string{"kb"}, Tools: []string{ToolSearchKnowledge, ToolCalculate}}
	srv.Script(ollamafake.Reply{Text: "It costs 38 euros [1]."})
	ans, err := r.Ask(context.Background(), def, "", "How much is a chocolate cake?", nil)
	if err != nil {
		t.Fatal(err)
	}
	chats := srv.Chats()
	if len(chats) != 1 || (len(chats[0].Tools) > 0 && string(chats[0].Tools) != "null") {
		t.Fatalf("a model without tools must get none: %d chats, %s", len(chats), chats[0].Tools)
	}
	last := chats[0].Messages[len(chats[0].Messages)-1].Content
	if !strings.Contains(last, "[1]") || !strings.Contains(last, "38 euros") || len(ans.Citations) != 1 || !ans.Citations[0].Used {
		t.Fatalf("retrieval-first prompt %q, citations %+v", last, ans.Citations)
	}
	// Not covered: no model call at all, as before tools existed.
	ans, err = r.Ask(context.Background(), def, "", "Who won the 1998 world cup final?", nil)
	if err != nil || !ans.NotCovered || len(srv.Chats()) != 1 {
		t.Fatalf("not covered: %+v %v, %d chats", ans, err, len(srv.Chats()))
	}
}

func TestDefinitionValidatesToolsAndForm(t *testing.T) {
	d := Definition{Name: "a", Model: "m", Tools: []string{"http_get"}}
	if err := d.Validate(); err == nil {
		t.Fatal("unknown tool accepted")
	}
	d.Tools = []string{ToolCalculate}
	d.LeadForm = &LeadForm{Fields: []LeadField{{Name: "email", Type: "mail"}}}
	if err := d.Validate(); err == nil {
		t.Fatal("unknown field type accepted")
	}
}
