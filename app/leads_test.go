package app

import (
	"context"
	"strings"
	"testing"

	"atoll/agent"
	"atoll/internal/ollamafake"
)

func TestLeadsAndAgentTestMethods(t *testing.T) {
	fake := ollamafake.New(t)
	a, err := New(Config{DataDir: t.TempDir(), OllamaURL: fake.URL}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	def, err := a.SaveAgent(agent.Definition{Name: "shop", Model: ollamafake.DefaultChatModel,
		LeadForm: &agent.LeadForm{Fields: []agent.LeadField{{Name: "name", Type: "text", Required: true}, {Name: "email", Type: "email", Required: true}}}})
	if err != nil {
		t.Fatal(err)
	}
	if got, err := a.ListLeads("shop"); err != nil || len(got) != 0 {
		t.Fatalf("no leads yet: %v %v", got, err)
	}
	fake.Script(
		ollamafake.Reply{ToolCalls: []ollamafake.ToolCall{{Name: "save_lead", Arguments: map[string]any{"name": "=cmd|' /C calc'!A0", "email": "eve@example.com"}}}},
		ollamafake.Reply{Text: "Saved, thanks."},
	)
	if _, err := a.runner.Ask(context.Background(), def, "", "I'm Eve, eve@example.com — yes, save it.", nil); err != nil {
		t.Fatal(err)
	}
	got, err := a.ListLeads("shop")
	if err != nil || len(got) != 1 || got[0].Email != "eve@example.com" {
		t.Fatalf("leads: %+v %v", got, err)
	}
	csv, err := a.ExportLeadsCSV("shop")
	if err != nil || !strings.Contains(csv, "'=cmd") || !strings.Contains(csv, "eve@example.com") {
		t.Fatalf("csv: %q %v", csv, err)
	}
	if _, err := a.ListLeads("nobody"); err == nil {
		t.Fatal("leads of a missing agent")
	}

	fake.Script(ollamafake.Reply{Text: "We open at 7 am."})
	run, err := a.RunAgentTest("shop", `{"q": "When do you open?", "must": ["7 am"], "must_not": ["closed"]}`)
	if err != nil || run.AnswerPassed != 1 || run.AnswerTotal != 1 || run.Version != def.Version || run.Results[0].Change != "new" {
		t.Fatalf("run: %+v %v", run, err)
	}
	if _, err := a.RunAgentTest("shop", "not json"); err == nil || !strings.Contains(err.Error(), "line 1") {
		t.Fatalf("bad test set: %v", err)
	}
	if convs, _ := a.ListConversations("shop"); len(convs) != 1 {
		t.Fatalf("the test run must not add conversations: %d", len(convs))
	}
}

func TestMemoryMethods(t *testing.T) {
	fake := ollamafake.New(t)
	a, err := New(Config{DataDir: t.TempDir(), OllamaURL: fake.URL}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	def, err := a.SaveAgent(agent.Definition{Name: "chef", Model: ollamafake.DefaultChatModel, Memory: true})
	if err != nil {
		t.Fatal(err)
	}
	fake.Script(ollamafake.Reply{Text: "Hello Sam."}, ollamafake.Reply{JSON: map[string]any{"facts": []string{"The user is called Sam."}}})
	if _, err := a.runner.Ask(context.Background(), def, "", "I'm Sam.", nil); err != nil {
		t.Fatal(err)
	}
	ms, err := a.ListMemories("chef")
	if err != nil || len(ms) != 1 {
		t.Fatalf("memories: %+v %v", ms, err)
	}
	if f, err := a.UpdateMemory("chef", ms[0].ID, "The user is called Samuel."); err != nil || f.Text != "The user is called Samuel." {
		t.Fatalf("update: %+v %v", f, err)
	}
	if err := a.DeleteMemory("chef", "0000000000000000"); err == nil || !strings.Contains(err.Error(), "refresh") {
		t.Fatalf("delete missing: %v", err)
	}
	if err := a.ClearMemories("chef"); err != nil {
		t.Fatal(err)
	}
	if ms, _ := a.ListMemories("chef"); len(ms) != 0 {
		t.Fatalf("after clear: %+v", ms)
	}
}
