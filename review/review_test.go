package review

import (
	"strings"
	"testing"

	"atoll/agent"
)

func TestMaskHidesContactsKeepsNumbers(t *testing.T) {
	for in, want := range map[string]string{
		"write to ana.b+cakes@mail.example.co.uk please": "write to [email] please",
		"call +33 6 12 34 56 78 today":                   "call [phone] today",
		"call (415) 555-0134 or 0612345678":              "call [phone] or [phone]",
		"打电话 138-1234-5678 预订":                           "打电话 [phone] 预订",
		"a 20 cm cake costs 38 euros, 1,250.50 in total": "a 20 cm cake costs 38 euros, 1,250.50 in total",
		"on 2026-03-01 at 10:30, order 12345":            "on 2026-03-01 at 10:30, order 12345",
	} {
		if got := Mask(in); got != want {
			t.Errorf("Mask(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestItemsFromConversation(t *testing.T) {
	c := agent.Conversation{ID: "0123456789abcdef", Agent: "shop", Messages: []agent.Message{
		{ID: "u1", Role: "user", Content: "q1"},
		{ID: "a1", Role: "assistant", Content: "fine", Feedback: &agent.Feedback{Rating: 1}},
		{ID: "u2", Role: "user", Content: "q2 ana@example.com"},
		{ID: "a2", Role: "assistant", Content: "bad", Feedback: &agent.Feedback{Rating: -1, Comment: "wrong"},
			Citations: []agent.Citation{{N: 1, Source: "/d/faq.md", Text: "call 0612345678", Used: true}}},
		{ID: "u3", Role: "user", Content: "q3"},
		{ID: "a3", Role: "assistant", Content: "not covered", NotCovered: true},
	}}
	items := FromConversation(c)
	if len(items) != 2 || items[0].ID != "0123456789abcdef-a2" || items[0].Question != "q2 ana@example.com" || items[0].Comment != "wrong" || items[1].Question != "q3" || !items[1].NotCovered {
		t.Fatalf("%+v", items)
	}
	m := items[0].Masked()
	if !strings.Contains(m.Question, "[email]") || m.Passages[0].Text != "call [phone]" || c.Messages[3].Citations[0].Text != "call 0612345678" {
		t.Fatalf("masked %+v; the conversation itself must stay as it was", m)
	}
	if !ValidID(items[0].ID) || ValidID("../x-y") || ValidID("a") {
		t.Fatal("ValidID")
	}
}

func TestNoteAndTestCase(t *testing.T) {
	p := &agent.Citation{N: 2, Source: "/d/prices.pdf", Page: 3, Text: "Gluten-free loaf: 6 euros.\nFridays only."}
	c := Correction{Question: "Do you sell\ngluten-free bread?", Passage: p}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	note := c.Note()
	if !strings.HasPrefix(note, "# Do you sell gluten-free bread?\n") || !strings.Contains(note, "> Fridays only.") || !strings.Contains(note, "Source: prices.pdf, page 3") {
		t.Fatalf("note:\n%s", note)
	}
	if tc := c.TestCase("/data/corrections/shop/x.md"); tc.Source != "prices.pdf" || tc.Must != nil {
		t.Fatalf("%+v", tc)
	}
	c.Answer, c.Must = "Yes, 6 euros a loaf.", "6 euros"
	if tc := c.TestCase("/data/corrections/shop/x.md"); tc.Source != "x.md" || tc.Must[0] != "6 euros" {
		t.Fatalf("%+v", tc)
	}
}
