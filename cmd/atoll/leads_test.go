package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"atoll/internal/ollamafake"
	"atoll/internal/ollamatest"
)

// TestLeadsAndAgentTest: an agent with a lead form saves a lead through a
// scripted tool call; leads list and export show it; agent test scores a
// test set and compares with the previous run.
func TestLeadsAndAgentTest(t *testing.T) {
	data, docs := t.TempDir(), t.TempDir()
	write(t, docs, "faq-en.md", bakeryEN)
	fake := ollamafake.New(t)
	if r := atoll(t, "--data", data, "--ollama", fake.URL, "ingest", "--kb", "shop", "--embed-model", ollamafake.DefaultEmbedModel, docs); r.code != 0 {
		t.Fatalf("ingest: %d %s", r.code, r.stderr)
	}
	form := write(t, t.TempDir(), "form.json", `{"fields": [{"name": "name", "label": "Name", "type": "text", "required": true}, {"name": "phone", "label": "Phone", "type": "phone", "required": true}]}`)
	if r := atoll(t, "--data", data, "agent", "create", "baker", "--kb", "shop", "--model", ollamafake.DefaultChatModel, "--tools", "search_knowledge,calculate", "--lead-form", form); r.code != 0 {
		t.Fatalf("agent create: %d %s", r.code, r.stderr)
	}
	if r := atoll(t, "--data", data, "agent", "create", "baker", "--kb", "shop", "--model", ollamafake.DefaultChatModel, "--tools", "shell"); r.code != 1 || !strings.Contains(r.stderr, "unknown tool") {
		t.Fatalf("unknown tool: %d %s", r.code, r.stderr)
	}
	fake.Script(
		ollamafake.Reply{ToolCalls: []ollamafake.ToolCall{{Name: "save_lead", Arguments: map[string]any{"name": "Ann", "phone": "+33 612 345 678"}}}},
		ollamafake.Reply{Text: "Thanks Ann, we will call you."},
	)
	r := atoll(t, "--data", data, "--ollama", fake.URL, "ask", "--agent", "baker", "--json", "Please call me back: Ann, +33 612 345 678")
	if r.code != 0 || !strings.Contains(r.stdout, "we will call you") {
		t.Fatalf("ask: %d %s %s", r.code, r.stdout, r.stderr)
	}
	r = atoll(t, "--data", data, "leads", "list", "--agent", "baker", "--json")
	var leads []map[string]any
	if err := json.Unmarshal([]byte(r.stdout), &leads); err != nil || len(leads) != 1 || leads[0]["name"] != "Ann" || leads[0]["chatflowid"] != "baker" || leads[0]["chatId"] == "" {
		t.Fatalf("leads list: %v %s", err, r.stdout)
	}
	if r := atoll(t, "--data", data, "leads", "list", "--agent", "baker"); !strings.Contains(r.stdout, "+33 612 345 678") {
		t.Fatalf("leads table: %s", r.stdout)
	}
	csvPath := filepath.Join(t.TempDir(), "leads.csv")
	if r := atoll(t, "--data", data, "leads", "export", "--agent", "baker", "--csv", csvPath); r.code != 0 {
		t.Fatalf("export: %d %s", r.code, r.stderr)
	}
	if b, _ := os.ReadFile(csvPath); !strings.HasPrefix(string(b), "id,name,email,phone,") || !strings.Contains(string(b), "Ann,,+33 612 345 678,baker,") {
		t.Fatalf("csv:\n%s", b)
	}
	if r := atoll(t, "--data", data, "leads", "export", "--agent", "baker"); r.code != 2 {
		t.Fatalf("export without --csv: %d", r.code)
	}

	// agent test: the model searches, then answers; twice, the second worse.
	set := write(t, t.TempDir(), "set.jsonl", `{"q": "How much is a chocolate cake?", "source": "faq-en.md", "must": ["38 euros"]}`+"\n")
	script := func(answer string) {
		fake.Script(
			ollamafake.Reply{ToolCalls: []ollamafake.ToolCall{{Name: "search_knowledge", Arguments: map[string]any{"query": "chocolate cake price"}}}},
			ollamafake.Reply{Text: answer},
			ollamafake.Reply{JSON: map[string]any{"questions": []string{"a?", "b?", "c?"}}},
		)
	}
	script("It costs 38 euros [1].")
	r = atoll(t, "--data", data, "--ollama", fake.URL, "agent", "test", "baker", "--questions", set, "--json")
	var run struct {
		Version         int    `json:"version"`
		RetrievalPassed int    `json:"retrievalPassed"`
		AnswerPassed    int    `json:"answerPassed"`
		Previous        string `json:"previous"`
		Results         []struct {
			Change string `json:"change"`
		} `json:"results"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &run); err != nil || run.RetrievalPassed != 1 || run.AnswerPassed != 1 || run.Version != 1 || run.Results[0].Change != "new" {
		t.Fatalf("agent test: %v %s %s", err, r.stdout, r.stderr)
	}
	script("It costs 40 euros [1].")
	set = write(t, t.TempDir(), "set.jsonl", `{"q": "How much is a chocolate cake?", "source": "faq-en.md", "must": ["38 euros"], "tools": ["calculate"], "no_tools": ["search_knowledge"]}`+"\n")
	r = atoll(t, "--data", data, "--ollama", fake.URL, "agent", "test", "baker", "--questions", set)
	if r.code != 0 || !strings.Contains(r.stdout, "worse") || !strings.Contains(r.stdout, "missing: 38 euros") || !strings.Contains(r.stdout, "0 better, 1 worse") ||
		!strings.Contains(r.stdout, "tools not called: calculate") || !strings.Contains(r.stdout, "tools called that should not be: search_knowledge") {
		t.Fatalf("agent test text: %d %s %s", r.code, r.stdout, r.stderr)
	}
	// Ollama down: a sentence, and no run stored that would only score the setup.
	r = atoll(t, "--data", data, "--ollama", "http://127.0.0.1:9", "agent", "test", "baker", "--questions", set)
	if r.code != 1 || !strings.Contains(r.stderr, "ollama serve") {
		t.Fatalf("agent test with Ollama down: %d %s", r.code, r.stderr)
	}
	if entries, _ := os.ReadDir(filepath.Join(data, "agents", "baker", "tests")); len(entries) != 2 {
		t.Fatalf("stored runs: %d", len(entries))
	}
}

// TestRealOllamaTools sends the tool loop's requests (tools with a lead form
// schema, the tool-capable check) to a real Ollama. The tiny model's words
// are noise, so only the contract is checked: Ollama accepts the requests
// and the command answers.
func TestRealOllamaTools(t *testing.T) {
	srv := ollamatest.Shared(t)
	data, docs := t.TempDir(), t.TempDir()
	write(t, docs, "faq-en.md", bakeryEN)
	if r := atoll(t, "--data", data, "--ollama", srv.URL, "ingest", "--kb", "shop", "--embed-model", srv.EmbedModel, docs); r.code != 0 {
		t.Fatalf("ingest: %d %s", r.code, r.stderr)
	}
	form := write(t, t.TempDir(), "form.json", `{"fields": [{"name": "name", "type": "text", "required": true}, {"name": "email", "type": "email"}, {"name": "guests", "type": "number"}]}`)
	for _, model := range []string{srv.ToolsModel, srv.ChatModel} {
		if r := atoll(t, "--data", data, "agent", "create", "baker", "--kb", "shop", "--model", model, "--tools", "search_knowledge,calculate,current_datetime", "--lead-form", form); r.code != 0 {
			t.Fatal(r.stderr)
		}
		r := atoll(t, "--data", data, "--ollama", srv.URL, "ask", "--agent", "baker", "--json", "How much notice do birthday cakes need?")
		var out struct {
			Answer string `json:"answer"`
		}
		if r.code != 0 || json.Unmarshal([]byte(r.stdout), &out) != nil || strings.TrimSpace(out.Answer) == "" {
			t.Fatalf("%s: ask with tools: %d %s %s", model, r.code, r.stdout, r.stderr)
		}
	}
}
