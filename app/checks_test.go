package app

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	"atoll/agent"
	"atoll/internal/ollamafake"

	"github.com/xuri/excelize/v2"
)

// Checks follow the knowledge: a price changed in the spreadsheet an agent
// answers from re-runs its test set in the background, and the check that
// now fails is named with what changed.
func TestChecksFollowTheKnowledge(t *testing.T) {
	checkDelay = 50 * time.Millisecond
	fake := ollamafake.New(t)
	// The "model" answers with the price it is given, as a real one would.
	fake.OnChat(func(r ollamafake.ChatRequest) ollamafake.Reply {
		var all strings.Builder
		for _, m := range r.Messages {
			all.WriteString(m.Content)
		}
		for _, p := range []string{"38", "42"} {
			if strings.Contains(all.String(), "Price: "+p) {
				return ollamafake.Reply{Text: "A 20 cm chocolate cake costs " + p + " euros."}
			}
		}
		return ollamafake.Reply{Text: "I do not know."}
	})
	a, err := New(Config{DataDir: t.TempDir(), OllamaURL: fake.URL}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	dir := t.TempDir()
	xlsx := filepath.Join(dir, "prices.xlsx")
	writePrices := func(price int) {
		f := excelize.NewFile()
		f.SetSheetName("Sheet1", "Cakes")
		for cell, v := range map[string]any{"A1": "Size", "B1": "Flavour", "C1": "Price", "A2": "20 cm", "B2": "chocolate", "C2": price} {
			f.SetCellValue("Cakes", cell, v)
		}
		if err := f.SaveAs(xlsx); err != nil {
			t.Fatal(err)
		}
	}
	writePrices(38)
	if _, err := a.Ingest("bakery", []string{dir}); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, "the first ingest", func() bool { d, _ := a.ListDocuments("bakery"); return len(d) == 1 })
	if _, err := a.SaveAgent(agent.Definition{Name: "baker", Model: ollamafake.DefaultChatModel, KBs: []string{"bakery"}}); err != nil {
		t.Fatal(err)
	}
	q := "How much is a 20 cm chocolate cake?"
	run, err := a.RunAgentTest("baker", `{"q": "`+q+`", "must": ["38"]}`)
	if err != nil || run.AnswerPassed != 1 {
		t.Fatalf("the check should pass at first: %+v %v", run, err)
	}
	if kc, _ := a.AgentCheck("baker"); kc.State != "" {
		t.Fatalf("a check before any change: %+v", kc)
	}

	writePrices(42)
	if _, err := a.SyncSource("bakery", dir); err != nil {
		t.Fatal(err)
	}
	var kc KnowledgeCheck
	waitUntil(t, "the test set to run again", func() bool {
		kc, _ = a.AgentCheck("baker")
		return kc.State == "done"
	})
	if len(kc.Failing) != 1 || kc.Failing[0] != q || kc.Total != 1 || len(kc.Changed) != 1 || kc.Changed[0] != "prices.xlsx" {
		t.Fatalf("check after the change: %+v", kc)
	}
}
