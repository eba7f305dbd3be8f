package app

import (
	"strings"
	"sync"
	"testing"
	"time"

	"atoll/agent"
	"atoll/internal/ollamafake"
)

type doneEmitter struct {
	mu   sync.Mutex
	done []AskDone
}

func (d *doneEmitter) Emit(name string, payload any) {
	if name == EventChatDone {
		d.mu.Lock()
		d.done = append(d.done, payload.(AskDone))
		d.mu.Unlock()
	}
}

// TestAskStallIsReported: when the server stops sending mid-answer, the user
// is told what happened and what to do instead of waiting forever.
func TestAskStallIsReported(t *testing.T) {
	fake := ollamafake.New(t)
	em := &doneEmitter{}
	a, err := New(Config{DataDir: t.TempDir(), OllamaURL: fake.URL}, em, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	a.firstTokenTimeout, a.stallTimeout = 2*time.Second, 150*time.Millisecond
	if _, err := a.SaveAgent(agent.Definition{Name: "chatty", Model: ollamafake.DefaultChatModel}); err != nil {
		t.Fatal(err)
	}
	fake.Script(ollamafake.Reply{Tokens: []string{"one ", "two ", "three"}, Delay: 600 * time.Millisecond})
	if _, err := a.Ask("chatty", "", "hello?"); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		em.mu.Lock()
		n := len(em.done)
		em.mu.Unlock()
		if n > 0 {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	em.mu.Lock()
	defer em.mu.Unlock()
	if len(em.done) != 1 || !strings.Contains(em.done[0].Error, "stopped sending") || !strings.Contains(em.done[0].Error, "ollama serve") {
		t.Fatalf("stall: %+v", em.done)
	}
}
