package analytics

import (
	"context"
	"encoding/csv"
	"strings"
	"testing"
	"time"
)

func TestReportCountsPerDay(t *testing.T) {
	day := func(d, h int) time.Time { return time.Date(2026, 3, d, h, 0, 0, 0, time.UTC) }
	in := Input{
		Agent: "baker",
		From:  day(1, 0), To: day(4, 0), // 1, 2 and 3 March
		Conversations: []Conversation{
			{ID: "a", Turns: []Turn{
				{At: day(1, 9), Question: "Do you sell gluten-free bread?", NotCovered: true, Rating: -1},
				{At: day(1, 9), Question: "How much is a wedding cake?", TTFT: 0.4, Rating: 1},
				{At: day(2, 9), Question: "Is there any gluten free bread?", NotCovered: true},
			}},
			{ID: "b", Turns: []Turn{
				{At: day(2, 10), Question: "Wedding cake prices?", TTFT: 0.2},
				{At: day(3, 23), Question: "Where can I park?", NotCovered: true, Rating: -1},
			}},
			{ID: "old", Turns: []Turn{{At: day(4, 1), Question: "outside the period", TTFT: 99}}},
			{ID: "c", Turns: []Turn{{At: day(3, 1), Question: "Wedding cake prices?", TTFT: 1.0}}},
		},
		Leads: []time.Time{day(2, 11), day(2, 12), day(5, 1)},
	}
	r := Compute(context.Background(), in)
	if r.From != "2026-03-01" || r.To != "2026-03-03" || len(r.Days) != 3 {
		t.Fatalf("period %s..%s, %d days", r.From, r.To, len(r.Days))
	}
	want := []Day{
		{Date: "2026-03-01", Conversations: 1, Questions: 2, NotCovered: 1, Up: 1, Down: 1},
		{Date: "2026-03-02", Conversations: 1, Questions: 2, NotCovered: 1, Leads: 2},
		{Date: "2026-03-03", Conversations: 1, Questions: 2, NotCovered: 1, Down: 1},
	}
	for i, d := range want {
		if r.Days[i] != d {
			t.Errorf("day %d: %+v, want %+v", i, r.Days[i], d)
		}
	}
	if r.Conversations != 3 || r.Questions != 6 || r.Answered != 3 || r.NotCovered != 3 || r.Up != 1 || r.Down != 2 || r.Leads != 2 {
		t.Fatalf("totals %+v", r)
	}
	if r.Timed != 3 || r.TTFTMedian != 0.4 || r.TTFTP95 != 1.0 {
		t.Fatalf("ttft median %v p95 %v of %d", r.TTFTMedian, r.TTFTP95, r.Timed)
	}
	if len(r.TopQuestions) == 0 || r.TopQuestions[0].Count != 3 || !strings.Contains(strings.ToLower(r.TopQuestions[0].Question), "wedding") {
		t.Fatalf("top %+v", r.TopQuestions)
	}
	if len(r.Unanswered) != 2 || r.Unanswered[0].Count != 2 || r.Grouping != ByWords {
		t.Fatalf("unanswered %+v (%s)", r.Unanswered, r.Grouping)
	}

	// A time zone moves the 23:00 UTC question to the next day.
	in.Location = time.FixedZone("UTC+2", 2*3600)
	in.From, in.To = time.Date(2026, 3, 1, 0, 0, 0, 0, in.Location), time.Date(2026, 3, 4, 0, 0, 0, 0, in.Location)
	r = Compute(context.Background(), in)
	if r.Days[2].Down != 0 {
		t.Fatalf("in UTC+2 the 23:00 UTC vote of 3 March is on 4 March, outside: %+v", r.Days)
	}

	rows, err := csv.NewReader(strings.NewReader(strings.ReplaceAll(Compute(context.Background(), Input{Agent: "=baker", From: day(1, 0), To: day(2, 0), Conversations: in.Conversations}).CSV(), "\n\n", "\n"))).ReadAll()
	if err == nil {
		t.Fatalf("sections of different widths must not read as one table: %v", rows)
	}
	text := Compute(context.Background(), Input{Agent: "=baker", From: day(1, 0), To: day(2, 0), Conversations: in.Conversations}).CSV()
	for _, section := range strings.Split(text, "\n\n") {
		rows, err := csv.NewReader(strings.NewReader(section)).ReadAll()
		if err != nil || len(rows) < 1 {
			t.Fatalf("section %q: %v", section, err)
		}
	}
	if !strings.HasPrefix(text, "date,conversations,questions,not_covered,thumbs_up,thumbs_down,leads\n2026-03-01,1,2,1,1,1,0\n") || !strings.Contains(text, "'=baker") {
		t.Fatalf("csv:\n%s", text)
	}
}

func TestEmptyReport(t *testing.T) {
	now := time.Date(2026, 3, 10, 15, 0, 0, 0, time.UTC)
	r := Compute(context.Background(), Input{Agent: "x", From: now.AddDate(0, 0, -7), To: now})
	if len(r.Days) != 7 || r.Questions != 0 || r.TTFTMedian != 0 || r.TopQuestions == nil || r.Unanswered == nil {
		t.Fatalf("%+v", r)
	}
	r = Compute(context.Background(), Input{From: now.AddDate(-5, 0, 0), To: now})
	if len(r.Days) != MaxDays {
		t.Fatalf("a period is at most %d days, got %d", MaxDays, len(r.Days))
	}
}
