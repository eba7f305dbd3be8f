// Package analytics sums up an agent's conversations over a period: how
// much it is asked, how often its knowledge covers the question, what users
// thought of the answers, how fast it starts answering, the leads it
// gathers, and what people ask most — grouped, so that twenty wordings of
// one unanswered question show as one line. The desktop fills its input
// from its conversation files, the hub from its store.
package analytics

import (
	"context"
	"math"
	"sort"
	"time"
)

// Conversation is one chat, as analytics needs it.
type Conversation struct {
	ID    string
	Turns []Turn
}

// Turn is one answered question.
type Turn struct {
	At         time.Time
	Question   string
	NotCovered bool    // the knowledge base did not cover the question
	Rating     int     // the end user's vote: 1, -1, or 0 for none
	TTFT       float64 // seconds to the first token; 0 when unknown or no model call
}

// Input is what a report is made from.
type Input struct {
	Agent string
	// From and To bound the period: days From.. To-1, in Location (UTC
	// when nil). Turns and leads outside it are ignored.
	From, To      time.Time
	Location      *time.Location
	Conversations []Conversation
	Leads         []time.Time // when each lead was gathered
	// Embed groups questions by meaning (the agent's embedding model);
	// nil groups them by their words.
	Embed Embedder
	// Top is how many groups the top lists keep (0: 10).
	Top int
}

// Day is one day of the period.
type Day struct {
	Date          string `json:"date"` // YYYY-MM-DD
	Conversations int    `json:"conversations"`
	Questions     int    `json:"questions"`
	NotCovered    int    `json:"notCovered"`
	Up            int    `json:"up"`
	Down          int    `json:"down"`
	Leads         int    `json:"leads"`
}

// Report is an agent's figures over a period.
type Report struct {
	Agent         string  `json:"agent"`
	From          string  `json:"from"` // first day, YYYY-MM-DD
	To            string  `json:"to"`   // last day, YYYY-MM-DD
	Days          []Day   `json:"days"`
	Conversations int     `json:"conversations"`
	Questions     int     `json:"questions"`
	Answered      int     `json:"answered"` // from the knowledge base
	NotCovered    int     `json:"notCovered"`
	Up            int     `json:"up"`
	Down          int     `json:"down"`
	Leads         int     `json:"leads"`
	TTFTMedian    float64 `json:"ttftMedian"` // seconds; 0 when nothing was timed
	TTFTP95       float64 `json:"ttftP95"`
	Timed         int     `json:"timed"` // answers with a time to first token
	TopQuestions  []Group `json:"topQuestions"`
	Unanswered    []Group `json:"unanswered"` // not covered, grouped by similarity
	// Grouping is how questions were grouped: "embedding" or "lexical".
	Grouping string `json:"grouping"`
	// RetentionDays is how long the source keeps conversations (the hub's
	// retention setting; 0: for ever). Clamped says the period asked for
	// was longer, so it starts RetentionDays ago instead.
	RetentionDays int  `json:"retentionDays,omitempty"`
	Clamped       bool `json:"clamped,omitempty"`
	// Truncated says the period held more answers than one report reads
	// (the hub's cap): the figures count the ones read, oldest first.
	Truncated bool `json:"truncated,omitempty"`
}

// MaxDays bounds a period.
const MaxDays = 366

// Compute makes the report. It reads in.Conversations once; its memory is
// bounded by the period's days and MaxGrouped questions per top list.
func Compute(ctx context.Context, in Input) Report {
	loc := in.Location
	if loc == nil {
		loc = time.UTC
	}
	from := dayStart(in.From.In(loc))
	to := dayStart(in.To.In(loc))
	if !to.After(from) {
		to = from.AddDate(0, 0, 1)
	}
	if to.Sub(from) > MaxDays*24*time.Hour+time.Hour {
		from = to.AddDate(0, 0, -MaxDays)
	}
	top := in.Top
	if top <= 0 {
		top = 10
	}
	r := Report{Agent: in.Agent, From: from.Format(time.DateOnly), To: to.AddDate(0, 0, -1).Format(time.DateOnly), Days: []Day{}}
	index := map[string]int{}
	for d := from; d.Before(to); d = d.AddDate(0, 0, 1) {
		index[d.Format(time.DateOnly)] = len(r.Days)
		r.Days = append(r.Days, Day{Date: d.Format(time.DateOnly)})
	}
	day := func(t time.Time) (*Day, bool) {
		i, ok := index[t.In(loc).Format(time.DateOnly)]
		if !ok {
			return nil, false
		}
		return &r.Days[i], true
	}

	var all, unanswered []string
	var ttft []float64
	for _, c := range in.Conversations {
		counted := false
		for _, t := range c.Turns {
			d, ok := day(t.At)
			if !ok {
				continue
			}
			if !counted {
				// A conversation counts on the day of its first question
				// in the period.
				counted = true
				d.Conversations++
				r.Conversations++
			}
			d.Questions++
			r.Questions++
			all = append(all, t.Question)
			if t.NotCovered {
				d.NotCovered++
				r.NotCovered++
				unanswered = append(unanswered, t.Question)
			} else {
				r.Answered++
			}
			switch t.Rating {
			case 1:
				d.Up++
				r.Up++
			case -1:
				d.Down++
				r.Down++
			}
			if t.TTFT > 0 {
				ttft = append(ttft, t.TTFT)
			}
		}
	}
	for _, at := range in.Leads {
		if d, ok := day(at); ok {
			d.Leads++
			r.Leads++
		}
	}
	r.Timed = len(ttft)
	r.TTFTMedian, r.TTFTP95 = percentile(ttft, 50), percentile(ttft, 95)

	// The questions are embedded once, for both lists.
	emb := in.Embed
	if emb != nil {
		emb = &memoEmbedder{next: emb, seen: map[string][]float32{}}
	}
	var groups []Group
	groups, r.Grouping = GroupQuestions(ctx, all, emb)
	r.TopQuestions = firstN(groups, top)
	groups, method := GroupQuestions(ctx, unanswered, emb)
	if len(unanswered) > 0 {
		r.Grouping = method
	}
	r.Unanswered = firstN(groups, top)
	return r
}

func dayStart(t time.Time) time.Time {
	return time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, t.Location())
}

func firstN(g []Group, n int) []Group {
	if len(g) > n {
		return g[:n]
	}
	return g
}

// percentile is the nearest-rank percentile p of xs (0 for none).
func percentile(xs []float64, p float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := append([]float64(nil), xs...)
	sort.Float64s(s)
	rank := int(math.Ceil(p / 100 * float64(len(s))))
	rank = min(max(rank, 1), len(s))
	return s[rank-1]
}

// memoEmbedder embeds each text once across calls.
type memoEmbedder struct {
	next Embedder
	seen map[string][]float32
}

func (m *memoEmbedder) Embed(ctx context.Context, texts []string) ([][]float32, error) {
	var missing []string
	for _, t := range texts {
		if _, ok := m.seen[t]; !ok {
			missing = append(missing, t)
		}
	}
	if len(missing) > 0 {
		vecs, err := m.next.Embed(ctx, missing)
		if err != nil {
			return nil, err
		}
		if len(vecs) != len(missing) {
			return nil, errEmbedCount
		}
		for i, t := range missing {
			m.seen[t] = vecs[i]
		}
	}
	out := make([][]float32, len(texts))
	for i, t := range texts {
		out[i] = append([]float32(nil), m.seen[t]...)
	}
	return out, nil
}
