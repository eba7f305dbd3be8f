package analytics

import (
	"bytes"
	"encoding/csv"
	"errors"
	"strconv"
	"strings"
)

var errEmbedCount = errors.New("the embedding model returned a different number of vectors than texts")

// CSV is the report for a spreadsheet: one row per day, then the summary,
// the top questions and the unanswered ones, each a table under its own
// header row and separated by an empty row. Cells a spreadsheet would run
// as a formula are quoted with a leading apostrophe.
func (r Report) CSV() string {
	var b bytes.Buffer
	w := csv.NewWriter(&b)
	f := func(x float64) string { return strconv.FormatFloat(x, 'f', 3, 64) }
	n := strconv.Itoa
	_ = w.Write([]string{"date", "conversations", "questions", "not_covered", "thumbs_up", "thumbs_down", "leads"})
	for _, d := range r.Days {
		_ = w.Write([]string{d.Date, n(d.Conversations), n(d.Questions), n(d.NotCovered), n(d.Up), n(d.Down), n(d.Leads)})
	}
	_ = w.Write(nil)
	_ = w.Write([]string{"agent", "from", "to", "conversations", "questions", "answered", "not_covered", "thumbs_up", "thumbs_down", "leads", "ttft_median_s", "ttft_p95_s", "grouping"})
	_ = w.Write([]string{safe(r.Agent), r.From, r.To, n(r.Conversations), n(r.Questions), n(r.Answered), n(r.NotCovered), n(r.Up), n(r.Down), n(r.Leads), f(r.TTFTMedian), f(r.TTFTP95), r.Grouping})
	for _, list := range []struct {
		name   string
		groups []Group
	}{{"top_question", r.TopQuestions}, {"unanswered_question", r.Unanswered}} {
		_ = w.Write(nil)
		_ = w.Write([]string{list.name, "count", "other_wordings"})
		for _, g := range list.groups {
			vs := make([]string, len(g.Variants))
			for i, v := range g.Variants {
				vs[i] = safe(v)
			}
			_ = w.Write([]string{safe(g.Question), n(g.Count), strings.Join(vs, " | ")})
		}
	}
	w.Flush()
	return b.String()
}

// safe keeps a spreadsheet from running a cell typed by a stranger.
func safe(s string) string {
	if s != "" && strings.ContainsRune("=+-@\t\r", rune(s[0])) {
		return "'" + s
	}
	return s
}
