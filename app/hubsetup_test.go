package app

import (
	"testing"
	"time"

	"atoll/agent"
	"atoll/internal/ollamafake"
)

// publishWait publishes agentName from a and returns the job's last event.
func publishWait(t *testing.T, a *App, events publishEvents, agentName, hubURL, token, public string) PublishEvent {
	t.Helper()
	job, err := a.PublishAgent(agentName, hubURL, token, public)
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.After(2 * time.Minute)
	for {
		select {
		case ev := <-events:
			if ev.Done && ev.Job == job {
				return ev
			}
		case <-deadline:
			t.Fatal("the publish did not finish")
		}
	}
}

// bakerDesktop is a desktop with an agent "baker" over a knowledge base.
func bakerDesktop(t *testing.T, ollamaURL string) (*App, publishEvents) {
	t.Helper()
	events := make(publishEvents, 100)
	a, err := New(Config{DataDir: t.TempDir(), OllamaURL: ollamaURL, Version: "test"}, events, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close() })
	if _, err := a.store.Create("shop", ""); err != nil {
		t.Fatal(err)
	}
	if _, err := a.SaveAgent(agent.Definition{Name: "baker", Model: ollamafake.DefaultChatModel, KBs: []string{"shop"}}); err != nil {
		t.Fatal(err)
	}
	return a, events
}
