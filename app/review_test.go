package app

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"atoll/agent"
	"atoll/internal/ollamafake"
	"atoll/knowledge"
)

const bakeryMD = `# Sweet Crumb Bakery

## Cake orders

Custom birthday cakes need at least 48 hours notice. A 20 cm chocolate cake costs 38 euros.
`

// The loop from a bad answer to a check that passes: a question the
// knowledge does not cover, voted down with a comment, shows in the review
// queue; correcting it writes a note into the agent's knowledge base and a
// case into its test set; the test run that failed before the correction
// passes after it.
func TestFeedbackReviewCorrectLoop(t *testing.T) {
	a, data, def := shopDesktop(t)
	const q = "Do you sell gluten-free bread?"
	ans, err := a.runner.Ask(context.Background(), def, "", q, nil)
	if err != nil || !ans.NotCovered || ans.Message == "" {
		t.Fatalf("want a not-covered answer with a message id: %+v %v", ans, err)
	}
	if _, err := a.SetFeedback(ans.Conversation, ans.Message, -1, "Call me at +33 6 12 34 56 78 or ana@example.com, you do sell it on Fridays"); err != nil {
		t.Fatal(err)
	}

	items, err := a.ReviewItems("shop", false)
	if err != nil || len(items) != 1 {
		t.Fatalf("review items: %+v %v", items, err)
	}
	it := items[0]
	if it.Question != q || !it.NotCovered || it.Rating != -1 || !strings.Contains(it.Comment, "ana@example.com") || it.Corrected {
		t.Fatalf("item %+v", it)
	}
	masked, _ := a.ReviewItems("shop", true)
	if c := masked[0].Comment; strings.Contains(c, "ana@") || strings.Contains(c, "56 78") || !strings.Contains(c, "[email]") || !strings.Contains(c, "[phone]") {
		t.Fatalf("masked comment %q", c)
	}

	// The check, before the correction: it fails.
	before, err := a.RunAgentTest("shop", `{"q": "Do you sell gluten-free bread?", "must": ["gluten-free loaves"]}`)
	if err != nil || before.AnswerPassed != 0 {
		t.Fatalf("before the correction the check must fail: %+v %v", before, err)
	}

	if _, err := a.CorrectItem("shop", it.ID, "", 0, ""); err == nil {
		t.Fatal("a correction with neither answer nor passage must be refused")
	}
	if _, err := a.CorrectItem("shop", it.ID, "Yes.", 0, "gluten-free loaves"); err == nil || !strings.Contains(err.Error(), "not in your answer") {
		t.Fatalf("a must phrase absent from the answer: %v", err)
	}
	if _, err := a.CorrectItem("shop", "0123456789abcdef-nope", "Yes.", 0, ""); err == nil {
		t.Fatal("an unknown item")
	}
	fixed, err := a.CorrectItem("shop", it.ID, "Yes: gluten-free loaves are baked every Friday.", 0, "gluten-free loaves")
	if err != nil {
		t.Fatal(err)
	}
	if filepath.Dir(fixed.Note) != filepath.Join(data, "corrections", "shop") || fixed.KB != "bakery" {
		t.Fatalf("%+v", fixed)
	}
	note, _ := os.ReadFile(fixed.Note)
	if !strings.HasPrefix(string(note), "# "+q) || !strings.Contains(string(note), "every Friday") {
		t.Fatalf("note:\n%s", note)
	}
	docs, _ := a.ListDocuments("bakery")
	found := false
	for _, d := range docs {
		found = found || (d.Path == fixed.Note && d.Status == "ok")
	}
	if !found {
		t.Fatalf("the note is not a document of bakery: %+v", docs)
	}
	srcs, _ := knowledge.Sources(a.store, "bakery")
	hasSource := false
	for _, s := range srcs {
		hasSource = hasSource || s.ID == filepath.Dir(fixed.Note)
	}
	if !hasSource {
		t.Fatalf("the corrections folder is not a source: %+v", srcs)
	}

	tests, err := a.AgentTestSet("shop")
	if err != nil || strings.Count(tests.Questions, "gluten-free bread") != 1 || !strings.Contains(tests.Questions, `"source":"`+filepath.Base(fixed.Note)+`"`) {
		t.Fatalf("test set:\n%s %v", tests.Questions, err)
	}
	// The next run, as the Agents screen starts it, passes.
	after, err := a.RunAgentTest("shop", tests.Questions)
	if err != nil {
		t.Fatal(err)
	}
	r := after.Results[len(after.Results)-1]
	if r.Q != q || r.Retrieval != "pass" || r.AnswerOK != "pass" {
		t.Fatalf("after the correction: %+v", r)
	}

	items, _ = a.ReviewItems("shop", false)
	if !items[0].Corrected {
		t.Fatal("the item must show as corrected")
	}
	// Correcting again replaces the case instead of adding a second one.
	if again, err := a.CorrectItem("shop", it.ID, "Yes: gluten-free loaves on Fridays and Saturdays.", 0, "gluten-free loaves"); err != nil || strings.Count(again.Tests, "gluten-free bread") != 1 {
		t.Fatalf("%+v %v", again, err)
	}

	rep, err := a.Analytics("shop", 7)
	if err != nil || rep.Questions != 1 || rep.NotCovered != 1 || rep.Down != 1 || len(rep.Days) != 7 || len(rep.Unanswered) != 1 || rep.Grouping != "embedding" {
		t.Fatalf("analytics %+v %v", rep, err)
	}
	if csv, err := a.ExportAnalyticsCSV("shop", 7); err != nil || !strings.Contains(csv, "unanswered_question,count") {
		t.Fatalf("csv %q %v", csv, err)
	}
	if _, err := a.Analytics("shop", 0); err == nil {
		t.Fatal("a period of 0 days")
	}

	if err := a.DeleteConversation(ans.Conversation); err != nil {
		t.Fatal(err)
	}
	if items, _ := a.ReviewItems("shop", false); len(items) != 0 {
		t.Fatalf("the vote must go with its conversation: %+v", items)
	}
}

// shopDesktop is a desktop (and its data folder) with the agent "shop"
// over the knowledge base "bakery" (bakeryMD). The fake model answers with
// the passages it was given, so an answer holds the corrected words only
// when retrieval found the note.
func shopDesktop(t *testing.T) (*App, string, agent.Definition) {
	t.Helper()
	fake := ollamafake.New(t)
	data := t.TempDir()
	a, err := New(Config{DataDir: data, OllamaURL: fake.URL}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close() })
	fake.OnChat(func(req ollamafake.ChatRequest) ollamafake.Reply {
		var b strings.Builder
		for _, m := range req.Messages {
			if m.Role != "system" {
				b.WriteString(m.Content + "\n")
			}
		}
		return ollamafake.Reply{Text: b.String()}
	})
	doc := filepath.Join(t.TempDir(), "bakery.md")
	os.WriteFile(doc, []byte(bakeryMD), 0o600)
	if _, err := a.ingesterNow().Run(context.Background(), "j", "bakery", ollamafake.DefaultEmbedModel, []string{doc}, nil); err != nil {
		t.Fatal(err)
	}
	def, err := a.SaveAgent(agent.Definition{Name: "shop", Model: ollamafake.DefaultChatModel, KBs: []string{"bakery"}})
	if err != nil {
		t.Fatal(err)
	}
	return a, data, def
}
