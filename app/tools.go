package app

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"

	"atoll/agent"
	"atoll/store"
)

// The user's own HTTP tools live in DATA/tools.json (readable by the user
// only: headers may hold API keys). Agents use one only when enabled as
// "http:<name>", and in the app every call waits for the user's Allow.

func (a *App) toolsPath() string { return filepath.Join(a.cfg.DataDir, "tools.json") }

// ListHTTPTools returns the user's own tools.
func (a *App) ListHTTPTools() ([]agent.HTTPTool, error) {
	return LoadHTTPTools(a.cfg.DataDir), nil
}

// LoadHTTPTools reads DATA/tools.json; none when it is missing or unreadable.
func LoadHTTPTools(dataDir string) []agent.HTTPTool {
	var ts []agent.HTTPTool
	if b, err := os.ReadFile(filepath.Join(dataDir, "tools.json")); err == nil {
		_ = json.Unmarshal(b, &ts)
	}
	if ts == nil {
		ts = []agent.HTTPTool{}
	}
	return ts
}

// SaveHTTPTools validates and stores the user's own tools.
func (a *App) SaveHTTPTools(ts []agent.HTTPTool) ([]agent.HTTPTool, error) {
	seen := map[string]bool{}
	for _, t := range ts {
		if err := t.Validate(); err != nil {
			return nil, err
		}
		if seen[t.Name] {
			return nil, fmt.Errorf("two tools are called %q", t.Name)
		}
		seen[t.Name] = true
	}
	b, _ := json.MarshalIndent(ts, "", "  ")
	if err := store.WriteFileAtomic(a.toolsPath(), b, 0o600); err != nil {
		return nil, err
	}
	return ts, nil
}

// ToolConfirm is the tool:confirm payload: a call waiting for the user.
type ToolConfirm struct {
	ID string `json:"id"`
	agent.HTTPCall
}

type confirmations struct {
	mu      sync.Mutex
	waiting map[string]chan bool
}

// confirm asks the interface and waits for ConfirmTool, up to two minutes.
func (a *App) confirm(ctx context.Context, call agent.HTTPCall) error {
	if call.Allowed {
		return nil // "always allow this tool for this agent"
	}
	id := newID()
	ch := make(chan bool, 1)
	a.confirms.mu.Lock()
	if a.confirms.waiting == nil {
		a.confirms.waiting = map[string]chan bool{}
	}
	a.confirms.waiting[id] = ch
	a.confirms.mu.Unlock()
	defer func() {
		a.confirms.mu.Lock()
		delete(a.confirms.waiting, id)
		a.confirms.mu.Unlock()
	}()
	a.send(EventToolConfirm, ToolConfirm{ID: id, HTTPCall: call})
	select {
	case ok := <-ch:
		if !ok {
			return agent.ErrDenied
		}
		return nil
	case <-time.After(2 * time.Minute):
		return errors.New("nobody allowed it within two minutes")
	case <-ctx.Done():
		return ctx.Err()
	}
}

// ConfirmTool answers a tool:confirm request.
func (a *App) ConfirmTool(id string, allow bool) error {
	a.confirms.mu.Lock()
	ch, ok := a.confirms.waiting[id]
	a.confirms.mu.Unlock()
	if !ok {
		return errors.New("that request is no longer waiting")
	}
	ch <- allow
	return nil
}
