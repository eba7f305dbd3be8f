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
	"time"

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
	Role       string     `json:"role"` // "user" or "assistant"
	Content    string     `json:"content"`
	Citations  []Citation `json:"citations,omitempty"`
	Followups  []string   `json:"followups,omitempty"`
	NotCovered bool       `json:"notCovered,omitempty"`
	At         time.Time  `json:"at"`
}

// Conversation is a persisted chat with one agent.
type Conversation struct {
	ID       string    `json:"id"`
	Agent    string    `json:"agent"`
	Title    string    `json:"title"`
	Messages []Message `json:"messages"`
	Updated  time.Time `json:"updated"`
}

// Conversations stores one JSON file per conversation under DATA/conversations.
type Conversations struct{ dir string }

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
	return conv, nil
}

// Save writes a conversation atomically.
func (c *Conversations) Save(conv Conversation) error {
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
