package hub

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"atoll/analytics"
	"atoll/hubstore"
)

// seedTurn stores an answered question of baker, daysAgo days before now.
func seedTurn(t *testing.T, th *testHub, conv string, now time.Time, daysAgo int, q string, notCovered bool, ttft float64) int {
	t.Helper()
	meta, _ := json.Marshal(atollExtra{Conversation: conv, NotCovered: notCovered, TTFTSeconds: ttft})
	st, _, err := th.h.st.AppendTurn(context.Background(), th.ws, "baker", conv, hubstore.Turn{Key: fmt.Sprintf("%s-%d-%s", conv, daysAgo, q), Question: q, Answer: "…", Meta: meta, At: now.AddDate(0, 0, -daysAgo)})
	if err != nil {
		t.Fatal(err)
	}
	return st.Seq
}

func getReport(t *testing.T, th *testHub, query string) analytics.Report {
	t.Helper()
	code, body := th.do(t, "GET", "/api/agents/baker/analytics"+query, nil)
	if code != 200 {
		t.Fatalf("analytics%s: %d %s", query, code, body)
	}
	var r analytics.Report
	if err := json.Unmarshal([]byte(body), &r); err != nil {
		t.Fatal(err)
	}
	return r
}

// TestHubAnalytics: votes, questions not covered, time to first token and
// leads of the agent's workspace are counted per day, and nothing of the
// period before; another workspace gets a 404.
func TestHubAnalytics(t *testing.T) {
	th := newTestHub(t, 0, nil)
	th.h.cfg.Retention = 0
	ctx := context.Background()
	now := time.Now().UTC()
	s1 := seedTurn(t, th, "c1", now, 2, "Do you sell gluten-free bread?", true, 0.5)
	s2 := seedTurn(t, th, "c1", now, 2, "How much is a chocolate cake?", false, 1.5)
	seedTurn(t, th, "c2", now, 0, "Is there gluten free bread?", true, 2.5)
	seedTurn(t, th, "c3", now, 40, "Old question outside the period", true, 9)
	for _, v := range []struct {
		seq, rating int
	}{{s1, -1}, {s2, 1}} {
		if _, err := th.h.st.SetFeedback(ctx, th.ws, "baker", "c1", v.seq, hubstore.Feedback{Rating: v.rating, Comment: "x"}); err != nil {
			t.Fatal(err)
		}
	}
	for i, ago := range []int{1, 1, 50} {
		at := now.AddDate(0, 0, -ago)
		if _, _, err := th.h.st.SaveLead(ctx, th.ws, "baker", "", hubstore.Lead{Agent: "baker", Name: fmt.Sprint("n", i), Email: fmt.Sprintf("a%d@example.com", i), Created: at, Updated: at}); err != nil {
			t.Fatal(err)
		}
	}

	r := getReport(t, th, "?days=7")
	if r.Agent != "baker" || len(r.Days) != 7 || r.To != now.Format(time.DateOnly) || r.From != now.AddDate(0, 0, -6).Format(time.DateOnly) {
		t.Fatalf("period %s..%s with %d days", r.From, r.To, len(r.Days))
	}
	if r.Questions != 3 || r.Conversations != 2 || r.NotCovered != 2 || r.Answered != 1 || r.Up != 1 || r.Down != 1 {
		t.Fatalf("counts: %+v", r)
	}
	if r.Timed != 3 || r.TTFTMedian != 1.5 || r.TTFTP95 != 2.5 {
		t.Fatalf("time to first token: %d timed, median %v, p95 %v", r.Timed, r.TTFTMedian, r.TTFTP95)
	}
	if r.Leads != 2 || r.Days[5].Leads != 2 {
		t.Fatalf("leads: %d, per day %+v", r.Leads, r.Days)
	}
	if d := r.Days[4]; d.Questions != 2 || d.Up != 1 || d.Down != 1 || d.NotCovered != 1 || d.Conversations != 1 {
		t.Fatalf("two days ago: %+v", d)
	}
	// The knowledge has no vectors, so the two wordings of one
	// unanswered question are grouped by their words.
	if r.Grouping != analytics.ByWords || len(r.Unanswered) != 1 || r.Unanswered[0].Count != 2 {
		t.Fatalf("unanswered (%s): %+v", r.Grouping, r.Unanswered)
	}
	if r.RetentionDays != 0 || r.Clamped || r.Truncated {
		t.Fatalf("no retention, no cap: %+v", r)
	}
	if r := getReport(t, th, ""); len(r.Days) != 30 || r.Leads != 2 || r.Questions != 3 {
		t.Fatalf("the default period: %d days, %d leads, %d questions", len(r.Days), r.Leads, r.Questions)
	}
	if r := getReport(t, th, "?days=60"); r.Questions != 4 || r.Leads != 3 {
		t.Fatalf("60 days: %d questions, %d leads", r.Questions, r.Leads)
	}

	for _, q := range []string{"?days=0", "?days=366", "?days=x", "?format=xml"} {
		if code, body := th.do(t, "GET", "/api/agents/baker/analytics"+q, nil); code != 400 {
			t.Errorf("%s: %d %s", q, code, body)
		}
	}
	if code, _ := th.do(t, "GET", "/api/agents/nobody/analytics", nil); code != 404 {
		t.Errorf("an unknown agent: %d", code)
	}
	// Another workspace's publisher sees nothing of it.
	ws2, err := th.h.st.CreateWorkspace(ctx, "other")
	if err != nil {
		t.Fatal(err)
	}
	other := &testHub{h: th.h, srv: th.srv, tok: newTokenIn(t, th.h, ws2.ID)}
	for _, q := range []string{"", "?format=csv"} {
		if code, body := other.do(t, "GET", "/api/agents/baker/analytics"+q, nil); code != 404 || strings.Contains(body, "gluten") {
			t.Fatalf("another workspace's analytics%s: %d %s", q, code, body)
		}
	}
	if code, _ := (&testHub{h: th.h, srv: th.srv}).do(t, "GET", "/api/agents/baker/analytics", nil); code != 401 {
		t.Fatalf("without a token: %d", code)
	}

	// The cap on turns read: the report says it was cut.
	capped, err := th.h.analytics(ctx, th.ws, "baker", 7, now, 2)
	if err != nil || !capped.Truncated || capped.Questions > 2 {
		t.Fatalf("capped at 2 turns: %d questions, truncated %v (%v)", capped.Questions, capped.Truncated, err)
	}
	if exact, err := th.h.analytics(ctx, th.ws, "baker", 7, now, 3); err != nil || exact.Truncated || exact.Questions != 3 {
		t.Fatalf("a cap equal to the turns: %d questions, truncated %v (%v)", exact.Questions, exact.Truncated, err)
	}
}

// TestHubAnalyticsRetention: the period never reaches before what the
// hub keeps, and the report says so.
func TestHubAnalyticsRetention(t *testing.T) {
	th := newTestHub(t, 0, nil)
	th.h.cfg.Retention = 36 * time.Hour
	now := time.Now().UTC()
	seedTurn(t, th, "c1", now, 0, "Today?", false, 1)
	seedTurn(t, th, "c2", now, 5, "Five days ago?", false, 1)
	r := getReport(t, th, "?days=30")
	if r.RetentionDays != 2 || !r.Clamped || len(r.Days) != 2 || r.Questions != 1 {
		t.Fatalf("retention 36 h, 30 days asked: retention %d, clamped %v, %d days, %d questions", r.RetentionDays, r.Clamped, len(r.Days), r.Questions)
	}
	if r := getReport(t, th, "?days=1"); r.RetentionDays != 2 || r.Clamped || len(r.Days) != 1 {
		t.Fatalf("a period within the retention: %+v", r)
	}
}

// TestHubAnalyticsCSVAndEmpty: the CSV export is a download with the
// desktop's tables; an agent nobody asked yet has a valid empty report.
func TestHubAnalyticsCSVAndEmpty(t *testing.T) {
	th := newTestHub(t, 0, nil)
	th.h.cfg.Retention = 0
	r := getReport(t, th, "?days=5")
	if r.Questions != 0 || len(r.Days) != 5 || r.TopQuestions == nil || r.Unanswered == nil || r.TTFTMedian != 0 {
		t.Fatalf("empty report: %+v", r)
	}
	code, body := th.do(t, "GET", "/api/agents/baker/analytics?days=5", nil)
	if code != 200 || !strings.Contains(body, `"topQuestions":[]`) || !strings.Contains(body, `"days":[{`) {
		t.Fatalf("empty report as JSON: %s", body)
	}

	now := time.Now().UTC()
	seedTurn(t, th, "c1", now, 0, "=HYPERLINK(\"x\") cake?", true, 1)
	req, _ := http.NewRequest("GET", th.srv.URL+"/api/agents/baker/analytics?days=3&format=csv", nil)
	req.Header.Set("Authorization", "Bearer "+th.tok)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(res.Body)
	res.Body.Close()
	want := fmt.Sprintf(`attachment; filename="baker-analytics-%s-%s.csv"`, now.AddDate(0, 0, -2).Format(time.DateOnly), now.Format(time.DateOnly))
	if res.StatusCode != 200 || !strings.HasPrefix(res.Header.Get("Content-Type"), "text/csv") || res.Header.Get("Content-Disposition") != want {
		t.Fatalf("csv: %d %q %q", res.StatusCode, res.Header.Get("Content-Type"), res.Header.Get("Content-Disposition"))
	}
	cr := csv.NewReader(strings.NewReader(string(b)))
	cr.FieldsPerRecord = -1
	rows, err := cr.ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(rows[0], ",") != "date,conversations,questions,not_covered,thumbs_up,thumbs_down,leads" || len(rows) < 4 {
		t.Fatalf("csv rows: %q", rows)
	}
	if today := rows[3]; today[0] != now.Format(time.DateOnly) || today[2] != "1" || today[3] != "1" {
		t.Fatalf("today's row: %q", today)
	}
	if !strings.Contains(string(b), `'=HYPERLINK`) {
		t.Fatalf("a question that looks like a formula is not defused:\n%s", b)
	}
}

// BenchmarkAnalytics: a report at the cap, analyticsMaxTurns turns in the
// period on the embedded store, 2000 distinct questions grouped lexically.
func BenchmarkAnalytics(b *testing.B) {
	th := newTestHub(b, 0, nil)
	th.h.cfg.Retention = 0
	ctx := context.Background()
	now := time.Now().UTC()
	meta, _ := json.Marshal(atollExtra{NotCovered: true, TTFTSeconds: 1.2})
	for i := range analyticsMaxTurns {
		conv := fmt.Sprintf("c%d", i/4)
		q := fmt.Sprintf("Do you deliver cake number %d to the %d district on weekends?", i%2000, i%37)
		if _, _, err := th.h.st.AppendTurn(ctx, th.ws, "baker", conv, hubstore.Turn{Key: fmt.Sprint(i), Question: q, Answer: strings.Repeat("answer ", 40), Meta: meta, At: now.Add(-time.Duration(i) * time.Minute)}); err != nil {
			b.Fatal(err)
		}
	}
	b.ResetTimer()
	for b.Loop() {
		r, err := th.h.analytics(ctx, th.ws, "baker", 30, now, analyticsMaxTurns)
		if err != nil || r.Questions != analyticsMaxTurns {
			b.Fatalf("%d questions, %v", r.Questions, err)
		}
	}
}
