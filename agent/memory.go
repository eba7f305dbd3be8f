package agent

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"time"

	"atoll/llm"
	"atoll/store"
)

// LocalUser is the end user of the desktop app, for memories.
const LocalUser = "local"

// maxFacts bounds what is remembered per agent and user; the oldest go
// first, so the note injected into prompts stays short.
const maxFacts = 50

// Fact is one durable thing an agent remembers about a user.
type Fact struct {
	ID           string    `json:"id"`
	Text         string    `json:"text"`
	Conversation string    `json:"conversation,omitempty"` // where it was learnt
	Created      time.Time `json:"created"`
	Updated      time.Time `json:"updated"`
}

// Memories stores facts as DATA/memory/<agent>/<user>.json.
type Memories struct {
	dir string
	mu  sync.Mutex
}

// NewMemories uses dir (DATA/memory).
func NewMemories(dir string) *Memories { return &Memories{dir: dir} }

var userID = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.@\-]{0,63}$`)

// ErrFactNotFound is returned for a memory id that does not exist.
var ErrFactNotFound = errors.New("memory not found")

func (m *Memories) path(agent, user string) (string, error) {
	if !agentName.MatchString(agent) {
		return "", fmt.Errorf("%q: %w", agent, ErrNotFound)
	}
	if !userID.MatchString(user) {
		return "", fmt.Errorf("%q is not a valid user id", user)
	}
	return filepath.Join(m.dir, agent, user+".json"), nil
}

// List returns what agent remembers about user, oldest first.
func (m *Memories) List(agent, user string) ([]Fact, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.load(agent, user)
}

func (m *Memories) load(agent, user string) ([]Fact, error) {
	p, err := m.path(agent, user)
	if err != nil {
		return nil, err
	}
	b, err := os.ReadFile(p)
	if errors.Is(err, os.ErrNotExist) {
		return []Fact{}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("couldn't read the memories of %q: %w", agent, err)
	}
	var out []Fact
	if err := json.Unmarshal(b, &out); err != nil {
		return nil, fmt.Errorf("the memories of %q are damaged (%s): %w", agent, p, err)
	}
	return out, nil
}

func (m *Memories) save(agent, user string, facts []Fact) error {
	p, err := m.path(agent, user)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
		return fmt.Errorf("couldn't create the memory folder of %q: %w", agent, err)
	}
	if facts == nil {
		facts = []Fact{}
	}
	b, _ := json.MarshalIndent(facts, "", "  ")
	if err := store.WriteFileAtomic(p, b, 0o600); err != nil {
		return fmt.Errorf("couldn't save the memories of %q: %w", agent, err)
	}
	return nil
}

// Add remembers new facts, skipping ones already known (any case), and
// returns the facts added.
func (m *Memories) Add(agent, user, conversation string, texts []string, now time.Time) ([]Fact, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	all, err := m.load(agent, user)
	if err != nil {
		return nil, err
	}
	known := map[string]bool{}
	for _, f := range all {
		known[strings.ToLower(f.Text)] = true
	}
	var added []Fact
	for _, t := range texts {
		t = strings.Join(strings.Fields(t), " ")
		if t == "" || len([]rune(t)) > 200 || known[strings.ToLower(t)] {
			continue
		}
		known[strings.ToLower(t)] = true
		f := Fact{ID: NewID(), Text: t, Conversation: conversation, Created: now.UTC(), Updated: now.UTC()}
		all = append(all, f)
		added = append(added, f)
	}
	if len(added) == 0 {
		return nil, nil
	}
	if len(all) > maxFacts {
		all = all[len(all)-maxFacts:]
	}
	return added, m.save(agent, user, all)
}

// Update changes one fact's text.
func (m *Memories) Update(agent, user, id, text string) (Fact, error) {
	text = strings.Join(strings.Fields(text), " ")
	if text == "" {
		return Fact{}, errors.New("a memory cannot be empty; delete it instead")
	}
	if len([]rune(text)) > 500 {
		return Fact{}, errors.New("a memory must be shorter than 500 characters")
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	all, err := m.load(agent, user)
	if err != nil {
		return Fact{}, err
	}
	for i := range all {
		if all[i].ID == id {
			all[i].Text, all[i].Updated = text, time.Now().UTC()
			return all[i], m.save(agent, user, all)
		}
	}
	return Fact{}, fmt.Errorf("%q: %w", id, ErrFactNotFound)
}

// Delete forgets one fact.
func (m *Memories) Delete(agent, user, id string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	all, err := m.load(agent, user)
	if err != nil {
		return err
	}
	for i := range all {
		if all[i].ID == id {
			return m.save(agent, user, append(all[:i], all[i+1:]...))
		}
	}
	return fmt.Errorf("%q: %w", id, ErrFactNotFound)
}

// Clear forgets everything agent knows about user.
func (m *Memories) Clear(agent, user string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	p, err := m.path(agent, user)
	if err != nil {
		return err
	}
	if err := os.Remove(p); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("couldn't clear the memories of %q: %w", agent, err)
	}
	return nil
}

// memoryNote is the short system note that carries facts into a prompt.
func memoryNote(facts []Fact) string {
	if len(facts) == 0 {
		return ""
	}
	var b strings.Builder
	b.WriteString("What you remember about this user from earlier conversations (use it when relevant; it is not a source to cite):")
	for _, f := range facts {
		b.WriteString("\n- ")
		b.WriteString(f.Text)
	}
	return b.String()
}

var factsSchema = json.RawMessage(`{"type":"object","properties":{"facts":{"type":"array","items":{"type":"string"}}},"required":["facts"]}`)

// remember asks the model for durable facts about the user in their last
// message and stores the new ones. Memory is a convenience: a model that
// fails here costs the answer nothing, so errors are dropped.
func (r *Runner) remember(ctx context.Context, def Definition, user, conv, question, answer string, known []Fact) {
	ctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	var k strings.Builder
	for _, f := range known {
		k.WriteString("- " + f.Text + "\n")
	}
	if k.Len() == 0 {
		k.WriteString("(nothing yet)\n")
	}
	instr := "You maintain a short memory about the user of an assistant. From the user's message, extract durable facts about the user " +
		"that will still matter in later conversations: their name, role, company, location, preferences, constraints, plans. " +
		"Do not extract questions, facts about the documents or the assistant's answer, passing moods, or anything already known. " +
		"Write each fact as a short third-person sentence (\"The user is vegetarian.\"), in the user's language. " +
		"Reply as JSON {\"facts\": [..]}; an empty list when there is nothing new."
	temp := 0.0
	res, err := r.Model.Chat(ctx, llm.ChatRequest{Model: def.Model, Format: factsSchema, Temperature: &temp, Messages: []llm.Message{
		{Role: "system", Content: instr},
		{Role: "user", Content: "Already known:\n" + k.String() + "\nUser's message: " + question + "\n\nAssistant's answer (context only): " + answer},
	}}, nil)
	if err != nil {
		return
	}
	var out struct {
		Facts []string `json:"facts"`
	}
	if json.Unmarshal([]byte(res.Content), &out) != nil {
		return
	}
	if len(out.Facts) > 5 {
		out.Facts = out.Facts[:5]
	}
	_, _ = r.Memory.Add(def.Name, user, conv, out.Facts, r.now())
}
