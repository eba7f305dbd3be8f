package agent

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"atoll/rag"
	"atoll/store"
)

// Citation is one numbered passage given to the model.
type Citation struct {
	N        int      `json:"n"`
	Source   string   `json:"source"`
	Page     int      `json:"page"`
	Headings []string `json:"headings,omitempty"`
	Start    int      `json:"start"`
	End      int      `json:"end"`
	Text     string   `json:"text"`
	Used     bool     `json:"used"`
	// Boxes mark the passage on a scanned page or image (rag.Box).
	Boxes []rag.Box `json:"boxes,omitempty"`
}

// Message is one turn of a conversation.
type Message struct {
	// ID names the message for feedback; messages stored before IDs
	// existed get "m<index>" when read (messages are only ever appended,
	// so the index is stable).
	ID         string     `json:"id,omitempty"`
	Role       string     `json:"role"` // "user" or "assistant"
	Content    string     `json:"content"`
	Citations  []Citation `json:"citations,omitempty"`
	Followups  []string   `json:"followups,omitempty"`
	NotCovered bool       `json:"notCovered,omitempty"`
	// TTFT is the seconds until the answer's first token (0: no model
	// call, as for a question the knowledge did not cover).
	TTFT     float64   `json:"ttftSeconds,omitempty"`
	Feedback *Feedback `json:"feedback,omitempty"`
	At       time.Time `json:"at"`
}

// Feedback is the one vote an answer has: +1 or -1, with an optional
// comment. Voting again replaces it.
type Feedback struct {
	Rating  int       `json:"rating"`
	Comment string    `json:"comment,omitempty"`
	At      time.Time `json:"at"`
}

// MaxFeedbackComment bounds a feedback comment, in characters.
const MaxFeedbackComment = 2000

// Conversation is a persisted chat with one agent.
type Conversation struct {
	ID       string    `json:"id"`
	Agent    string    `json:"agent"`
	Title    string    `json:"title"`
	Messages []Message `json:"messages"`
	Updated  time.Time `json:"updated"`
}

// Conversations stores one JSON file per conversation under DATA/conversations.
// Writes go through one lock so that a vote given while the next answer is
// being recorded is not overwritten by it.
type Conversations struct {
	dir string
	mu  sync.Mutex
}

// NewConversations uses dir.
func NewConversations(dir string) *Conversations { return &Conversations{dir: dir} }

var convID = regexp.MustCompile(`^[a-f0-9]{16}$`)

// NewID makes a conversation id.
func NewID() string {
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// Get loads one conversation.
func (c *Conversations) Get(id string) (Conversation, error) {
	if !convID.MatchString(id) {
		return Conversation{}, fmt.Errorf("conversation %q not found", id)
	}
	b, err := os.ReadFile(filepath.Join(c.dir, id+".json"))
	if err != nil {
		return Conversation{}, fmt.Errorf("conversation %q not found", id)
	}
	var conv Conversation
	if err := json.Unmarshal(b, &conv); err != nil {
		return Conversation{}, err
	}
	for i := range conv.Messages {
		if conv.Messages[i].ID == "" {
			conv.Messages[i].ID = fmt.Sprintf("m%d", i)
		}
	}
	return conv, nil
}

// Append adds msgs to the stored conversation conv.ID (created from conv
// when it does not exist yet), re-reading it under the lock so that what
// was written since conv was read (a vote) is kept.
func (c *Conversations) Append(conv Conversation, msgs ...Message) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if cur, err := c.Get(conv.ID); err == nil {
		conv = cur
	}
	conv.Messages = append(conv.Messages, msgs...)
	return c.save(conv)
}

// SetFeedback records the vote on an answer: rating +1 or -1 with an
// optional comment, or 0 to take the vote back. It returns the message.
func (c *Conversations) SetFeedback(id, message string, rating int, comment string) (Message, error) {
	if rating < -1 || rating > 1 {
		return Message{}, fmt.Errorf("a rating is 1 (good answer), -1 (bad answer) or 0 (no vote), not %d", rating)
	}
	comment = strings.TrimSpace(comment)
	if !utf8.ValidString(comment) {
		return Message{}, errors.New("the comment is not valid text")
	}
	if n := utf8.RuneCountInString(comment); n > MaxFeedbackComment {
		return Message{}, fmt.Errorf("the comment is %d characters long: shorten it to %d", n, MaxFeedbackComment)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	conv, err := c.Get(id)
	if err != nil {
		return Message{}, err
	}
	for i := range conv.Messages {
		m := &conv.Messages[i]
		if m.ID != message {
			continue
		}
		if m.Role != "assistant" {
			return Message{}, errors.New("only answers take a vote")
		}
		if rating == 0 {
			m.Feedback = nil
		} else {
			m.Feedback = &Feedback{Rating: rating, Comment: comment, At: time.Now().UTC()}
		}
		if err := c.save(conv); err != nil {
			return Message{}, err
		}
		return *m, nil
	}
	return Message{}, fmt.Errorf("message %q is not in conversation %q; reload the conversation", message, id)
}

// Delete removes a conversation, and with it every vote and comment on it.
func (c *Conversations) Delete(id string) error {
	if !convID.MatchString(id) {
		return fmt.Errorf("conversation %q not found", id)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	err := os.Remove(filepath.Join(c.dir, id+".json"))
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	return err
}

// Save writes a conversation atomically.
func (c *Conversations) Save(conv Conversation) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.save(conv)
}

func (c *Conversations) save(conv Conversation) error {
	if !convID.MatchString(conv.ID) {
		return errors.New("invalid conversation id")
	}
	if err := os.MkdirAll(c.dir, 0o700); err != nil {
		return err
	}
	conv.Updated = time.Now().UTC()
	b, _ := json.MarshalIndent(conv, "", "  ")
	path := filepath.Join(c.dir, conv.ID+".json")
	return store.WriteFileAtomic(path, b, 0o600)
}

// List returns an agent's conversations, newest first, without messages.
func (c *Conversations) List(agent string) ([]Conversation, error) {
	entries, err := os.ReadDir(c.dir)
	if errors.Is(err, os.ErrNotExist) {
		return []Conversation{}, nil
	}
	if err != nil {
		return nil, err
	}
	out := []Conversation{}
	for _, e := range entries {
		id, ok := strings.CutSuffix(e.Name(), ".json")
		if !ok {
			continue
		}
		conv, err := c.Get(id)
		if err != nil || (agent != "" && conv.Agent != agent) {
			continue
		}
		conv.Messages = nil
		out = append(out, conv)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Updated.After(out[j].Updated) })
	return out, nil
}

// Walk calls fn with each of an agent's conversations, messages included,
// one at a time (memory holds one conversation, whatever their number);
// an error from fn stops the walk and is returned.
func (c *Conversations) Walk(agent string, fn func(Conversation) error) error {
	entries, err := os.ReadDir(c.dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	for _, e := range entries {
		id, ok := strings.CutSuffix(e.Name(), ".json")
		if !ok {
			continue
		}
		conv, err := c.Get(id)
		if err != nil || (agent != "" && conv.Agent != agent) {
			continue
		}
		if err := fn(conv); err != nil {
			return err
		}
	}
	return nil
}

// Markdown renders a conversation for export.
func (conv Conversation) Markdown() string {
	var b strings.Builder
	fmt.Fprintf(&b, "# %s\n\n", conv.Title)
	for _, m := range conv.Messages {
		who := "You"
		if m.Role == "assistant" {
			who = conv.Agent
		}
		fmt.Fprintf(&b, "**%s:** %s\n\n", who, m.Content)
		for _, c := range m.Citations {
			if !c.Used {
				continue
			}
			page := ""
			if c.Page > 0 {
				page = fmt.Sprintf(", page %d", c.Page)
			}
			fmt.Fprintf(&b, "> [%d] %s%s\n", c.N, filepath.Base(c.Source), page)
		}
		if len(m.Citations) > 0 {
			b.WriteString("\n")
		}
	}
	return b.String()
}
