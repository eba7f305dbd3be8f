package app

import (
	"io"
	"net/http"
	"net/http/httptest"
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

// wait gives an answer up to five seconds to finish.
func (d *doneEmitter) wait() {
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		d.mu.Lock()
		n := len(d.done)
		d.mu.Unlock()
		if n > 0 {
			return
		}
		time.Sleep(10 * time.Millisecond)
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
	em.wait()
	em.mu.Lock()
	defer em.mu.Unlock()
	if len(em.done) != 1 || !strings.Contains(em.done[0].Error, "stopped sending") || !strings.Contains(em.done[0].Error, "ollama serve") {
		t.Fatalf("stall: %+v", em.done)
	}
}

// confirmEmitter answers every tool:confirm with allow, and records chat:done.
type confirmEmitter struct {
	a     *App
	allow bool
	doneEmitter
	asked int
}

func (c *confirmEmitter) Emit(name string, payload any) {
	if name == EventToolConfirm {
		c.asked++
		req := payload.(ToolConfirm)
		go c.a.ConfirmTool(req.ID, c.allow)
	}
	c.doneEmitter.Emit(name, payload)
}

// TestToolConfirmation: in the app, a user-defined HTTP call waits for the
// user's answer, and runs only when allowed.
func TestToolConfirmation(t *testing.T) {
	hits := 0
	target := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { hits++; io.WriteString(w, "12 in stock") }))
	defer target.Close()
	fake := ollamafake.New(t)
	em := &confirmEmitter{allow: true}
	a, err := New(Config{DataDir: t.TempDir(), OllamaURL: fake.URL}, em, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	em.a = a
	if _, err := a.SaveHTTPTools([]agent.HTTPTool{{Name: "stock", Method: "GET", URL: "ftp://x"}}); err == nil {
		t.Fatal("an invalid tool must be refused")
	}
	if _, err := a.SaveHTTPTools([]agent.HTTPTool{{Name: "stock", Method: "GET", URL: target.URL + "/s?i={item}", Params: []agent.HTTPParam{{Name: "item", Required: true}}}}); err != nil {
		t.Fatal(err)
	}
	if _, err := a.SaveAgent(agent.Definition{Name: "shop", Model: ollamafake.DefaultChatModel, Tools: []string{"http:stock"}}); err != nil {
		t.Fatal(err)
	}
	for _, allow := range []bool{true, false} {
		em.allow = allow
		fake.Script(ollamafake.Reply{ToolCalls: []ollamafake.ToolCall{{Name: "stock", Arguments: map[string]any{"item": "bread"}}}}, ollamafake.Reply{Text: "done"})
		if _, err := a.Ask("shop", "", "Any bread?"); err != nil {
			t.Fatal(err)
		}
		em.wait()
		em.mu.Lock()
		em.done = nil
		em.mu.Unlock()
	}
	if em.asked != 2 || hits != 1 {
		t.Fatalf("asked %d times, %d calls made; want 2 and 1 (allowed once, refused once)", em.asked, hits)
	}
}
