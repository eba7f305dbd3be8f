// Package review turns answers that went wrong — a thumbs-down, a question
// the knowledge base did not cover — into items to look at, and an item
// into a correction that stays fixed: a Q&A note for the agent's knowledge
// base and a test case for its test set. The desktop reads items from its
// conversations; the hub serves the same Item as JSON for `atoll review
// pull`.
package review

import (
	"fmt"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"atoll/agent"
)

// Item is one answer to look at again.
type Item struct {
	// ID is "<conversation>-<message>": unique per agent, and the name of
	// its correction note.
	ID           string    `json:"id"`
	Origin       string    `json:"origin"` // "local" (this computer) or "hub"
	Agent        string    `json:"agent"`
	Conversation string    `json:"conversation"`
	Message      string    `json:"message"`
	At           time.Time `json:"at"`
	Question     string    `json:"question"`
	Answer       string    `json:"answer"`
	// Passages are those given to the model; Used marks the ones it cited.
	Passages   []agent.Citation `json:"passages"`
	NotCovered bool             `json:"notCovered"`
	Rating     int              `json:"rating"` // -1, 0 or 1
	Comment    string           `json:"comment"`
	Corrected  bool             `json:"corrected"`
}

// Origins of items.
const (
	Local = "local"
	Hub   = "hub"
)

// Wanted reports whether an answer belongs in the review queue: voted
// down, or not covered by the knowledge base.
func Wanted(m agent.Message) bool {
	return m.Role == "assistant" && (m.NotCovered || (m.Feedback != nil && m.Feedback.Rating < 0))
}

// FromConversation returns the conversation's answers that belong in the
// review queue, each with the question it answered.
func FromConversation(c agent.Conversation) []Item {
	var out []Item
	for i, m := range c.Messages {
		if !Wanted(m) {
			continue
		}
		it := Item{ID: ItemID(c.ID, m.ID), Origin: Local, Agent: c.Agent, Conversation: c.ID, Message: m.ID,
			At: m.At, Answer: m.Content, Passages: m.Citations, NotCovered: m.NotCovered}
		if it.Passages == nil {
			it.Passages = []agent.Citation{}
		}
		if i > 0 && c.Messages[i-1].Role == "user" {
			it.Question = c.Messages[i-1].Content
		}
		if m.Feedback != nil {
			it.Rating, it.Comment = m.Feedback.Rating, m.Feedback.Comment
		}
		out = append(out, it)
	}
	return out
}

var itemID = regexp.MustCompile(`^[A-Za-z0-9_]{1,64}-[A-Za-z0-9_]{1,64}$`)

// NoteFile is the name of the item's correction note. A hub item's is
// marked, so that it can never overwrite a local item's of the same id.
func (it Item) NoteFile() string {
	if it.Origin == Hub {
		return "hub_" + it.ID + ".md"
	}
	return it.ID + ".md"
}

// ItemID names an answer of a conversation.
func ItemID(conversation, message string) string { return conversation + "-" + message }

// ValidID reports whether id can name an item (and a file).
func ValidID(id string) bool { return itemID.MatchString(id) }

var (
	email = regexp.MustCompile(`[A-Za-z0-9._%+\-]+@[A-Za-z0-9\-]+(\.[A-Za-z0-9\-]+)*\.[A-Za-z]{2,}`)
	// A run of digits with the separators phone numbers are written with;
	// it counts as a phone number from 7 digits on, so prices, times and
	// sizes stay readable.
	phone   = regexp.MustCompile(`\+?\(?\d[\d ()./\-]{5,}\d`)
	isoDate = regexp.MustCompile(`^\d{4}-\d{2}-\d{2}$`)
)

// Mask hides email addresses and phone numbers in s.
func Mask(s string) string {
	s = email.ReplaceAllString(s, "[email]")
	return phone.ReplaceAllStringFunc(s, func(m string) string {
		digits := 0
		for _, r := range m {
			if r >= '0' && r <= '9' {
				digits++
			}
		}
		if digits < 7 || isoDate.MatchString(m) {
			return m
		}
		return "[phone]"
	})
}

// Masked is the item with email addresses and phone numbers hidden in
// everything it shows.
func (it Item) Masked() Item {
	it.Question, it.Answer, it.Comment = Mask(it.Question), Mask(it.Answer), Mask(it.Comment)
	ps := make([]agent.Citation, len(it.Passages))
	for i, p := range it.Passages {
		p.Text = Mask(p.Text)
		ps[i] = p
	}
	it.Passages = ps
	return it
}

// Correction is what the user says the answer should have been.
type Correction struct {
	Question string
	// Answer is the right answer in the user's words ("" when Passage says it).
	Answer string
	// Passage is the passage that should have been used, or nil.
	Passage *agent.Citation
	// Must is a phrase the right answer contains, checked by the test case.
	Must string
}

// MaxAnswer bounds a corrected answer, in characters.
const MaxAnswer = 20000

// Validate says what is missing, in a sentence.
func (c Correction) Validate() error {
	if strings.TrimSpace(c.Question) == "" {
		return fmt.Errorf("this item has no question to correct")
	}
	if strings.TrimSpace(c.Answer) == "" && c.Passage == nil {
		return fmt.Errorf("write the right answer, or choose the passage that should have been used")
	}
	if n := len([]rune(c.Answer)); n > MaxAnswer {
		return fmt.Errorf("the answer is %d characters long: shorten it to %d", n, MaxAnswer)
	}
	if m := strings.TrimSpace(c.Must); m != "" && c.Passage == nil && !strings.Contains(strings.ToLower(c.Answer), strings.ToLower(m)) {
		return fmt.Errorf("the phrase %q is not in your answer: the test would expect words the knowledge does not hold", m)
	}
	return nil
}

// Note is the Markdown Q&A document that teaches the knowledge base the
// answer: the question as its heading (so a search for the question finds
// it), the answer, and the passage that should have been used, quoted.
func (c Correction) Note() string {
	var b strings.Builder
	fmt.Fprintf(&b, "# %s\n\n", oneLine(c.Question))
	if a := strings.TrimSpace(c.Answer); a != "" {
		b.WriteString(a)
		b.WriteString("\n\n")
	}
	if p := c.Passage; p != nil {
		for _, line := range strings.Split(strings.TrimSpace(p.Text), "\n") {
			b.WriteString("> " + line + "\n")
		}
		where := filepath.Base(strings.ReplaceAll(p.Source, "\\", "/"))
		if p.Page > 0 {
			where += fmt.Sprintf(", page %d", p.Page)
		}
		fmt.Fprintf(&b, "\nSource: %s\n", where)
	}
	return b.String()
}

// TestCase is the check that keeps the correction fixed: the question, the
// file the answer must be found in (the pointed passage's, else the note
// itself) and the must phrase.
func (c Correction) TestCase(noteFile string) agent.TestQuestion {
	q := agent.TestQuestion{Q: oneLine(c.Question), Source: filepath.Base(noteFile)}
	if c.Passage != nil && strings.TrimSpace(c.Answer) == "" {
		q.Source = filepath.Base(strings.ReplaceAll(c.Passage.Source, "\\", "/"))
	}
	if m := strings.TrimSpace(c.Must); m != "" {
		q.Must = []string{m}
	}
	return q
}

func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }
