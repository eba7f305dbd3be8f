package agent

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"atoll/internal/ollamafake"
)

func TestTestSetScoresAndCompares(t *testing.T) {
	srv, c := fakeClient(t)
	data := t.TempDir()
	ret := queryRetriever{
		"How much is a chocolate cake?":  {hit("a", "/docs/prices.md", "A 20 cm chocolate cake costs 38 euros.")},
		"When are you open on Mondays?":  {hit("b", "/docs/hours.md", "We are closed on Mondays. Open Tuesday to Sunday.")},
		"Do you sell gluten-free bread?": {hit("c", "/docs/hours.md", "Gluten-free bread is sold on Fridays.")},
	}
	convDir := filepath.Join(data, "conversations")
	r := NewRunner(c, ret, NewConversations(convDir))
	repo := NewRepo(filepath.Join(data, "agents"))
	def, err := repo.Save(Definition{Name: "baker", Model: ollamafake.DefaultChatModel, KBs: []string{"kb"}})
	if err != nil {
		t.Fatal(err)
	}
	set, err := ParseTestSet(strings.NewReader(`# bakery checks
{"q": "How much is a chocolate cake?", "source": "prices.md", "must": ["38 EUROS"], "must_not": ["free"]}
{"q": "When are you open on Mondays?", "source": "prices.md", "must": ["closed"]}

{"q": "Do you sell gluten-free bread?", "must": ["Fridays"]}
`))
	if err != nil || len(set) != 3 {
		t.Fatalf("parse: %v %v", set, err)
	}
	answers := map[string]string{
		"How much is a chocolate cake?":  "It costs 38 euros [1].",
		"When are you open on Mondays?":  "We are closed on Mondays [1].",
		"Do you sell gluten-free bread?": "Yes, every day [1].",
	}
	srv.OnChat(func(req ollamafake.ChatRequest) ollamafake.Reply {
		last := req.Messages[len(req.Messages)-1].Content
		for q, a := range answers {
			if strings.Contains(last, q) {
				return ollamafake.Reply{Text: a}
			}
		}
		return ollamafake.Reply{Text: "?"}
	})
	runs := NewTestRuns(filepath.Join(data, "agents"))
	calls := 0
	run1, err := runs.Run(context.Background(), r, def, set, func(done, total int) { calls++ })
	if err != nil {
		t.Fatal(err)
	}
	if calls != 3 || run1.Version != 1 || run1.RetrievalTotal != 2 || run1.RetrievalPassed != 1 || run1.AnswerTotal != 3 || run1.AnswerPassed != 2 {
		t.Fatalf("run 1: %+v", run1)
	}
	r0, r1, r2 := run1.Results[0], run1.Results[1], run1.Results[2]
	if r0.Retrieval != "pass" || r0.AnswerOK != "pass" || r1.Retrieval != "fail" || r1.AnswerOK != "pass" || r2.Retrieval != "" || r2.AnswerOK != "fail" || r2.Missing[0] != "Fridays" {
		t.Fatalf("results: %+v", run1.Results)
	}
	if r0.Change != "new" {
		t.Fatalf("first run change: %q", r0.Change)
	}
	if entries, _ := os.ReadDir(convDir); len(entries) != 0 {
		t.Fatalf("a test run must not store conversations: %d files", len(entries))
	}

	// The agent changes: one answer gets worse, one better, one the same.
	def.System = "Be brief."
	def, _ = repo.Save(def)
	answers["How much is a chocolate cake?"] = "It is free today [1]."
	answers["Do you sell gluten-free bread?"] = "Yes, on Fridays [1]."
	run2, err := runs.Run(context.Background(), r, def, set, nil)
	if err != nil {
		t.Fatal(err)
	}
	if run2.Previous != run1.ID || run2.Version != 2 || run2.Better != 1 || run2.Worse != 1 {
		t.Fatalf("run 2: %+v", run2)
	}
	got := []string{run2.Results[0].Change, run2.Results[1].Change, run2.Results[2].Change}
	if strings.Join(got, ",") != "worse,same,better" {
		t.Fatalf("changes: %v (%+v)", got, run2.Results)
	}
	if run2.Results[0].Forbidden[0] != "free" || run2.Results[0].Missing[0] != "38 EUROS" {
		t.Fatalf("phrases: %+v", run2.Results[0])
	}
	ids, _ := runs.List("baker")
	if len(ids) != 2 || ids[1] != run2.ID {
		t.Fatalf("stored runs: %v", ids)
	}
	if back, err := runs.Get("baker", run2.ID); err != nil || back.Better != 1 {
		t.Fatalf("stored run: %+v %v", back, err)
	}
	if _, err := repo.Get("baker"); err != nil {
		t.Fatalf("the tests folder must not disturb the agent's versions: %v", err)
	}

	// A test question that makes the model save a lead stores none.
	leadDef := Definition{Name: "shop", Model: ollamafake.DefaultChatModel, LeadForm: &LeadForm{Fields: []LeadField{{Name: "email", Type: "email", Required: true}}}}
	r.Leads = NewLeads(filepath.Join(data, "leads"))
	srv.Script(
		ollamafake.Reply{ToolCalls: []ollamafake.ToolCall{call(ToolSaveLead, map[string]any{"email": "test@example.com"})}},
		ollamafake.Reply{Text: "Saved, thanks."},
	)
	lrun, err := runs.Run(context.Background(), r, leadDef, []TestQuestion{{Q: "Save test@example.com", Must: []string{"saved"}}}, nil)
	if err != nil || lrun.AnswerPassed != 1 {
		t.Fatalf("lead test run: %+v %v", lrun, err)
	}
	if got, _ := r.Leads.List("shop"); len(got) != 0 {
		t.Fatalf("a test run stored leads: %+v", got)
	}

	if _, err := ParseTestSet(strings.NewReader(`{"question": "typo"}`)); err == nil || !strings.Contains(err.Error(), "line 1") {
		t.Fatalf("bad line: %v", err)
	}
}
