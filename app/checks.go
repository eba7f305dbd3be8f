package app

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"atoll/agent"
	"atoll/llm"
	"atoll/store"
)

// KnowledgeCheck is an agent's test set run again because its knowledge
// changed (a web refresh, a watched folder, an ingest): the Agents and
// Publish screens show "prices.xlsx changed · 1 check now fails: ...". A
// published agent is not touched: the hub keeps serving what was published
// until the user publishes again.
type KnowledgeCheck struct {
	Agent   string    `json:"agent"`
	KB      string    `json:"kb"`
	Changed []string  `json:"changed"` // what changed, newest first (at most 5)
	State   string    `json:"state"`   // "waiting", "running", "done", "error"
	RanAt   time.Time `json:"ranAt,omitzero"`
	Total   int       `json:"total"`
	Failing []string  `json:"failing"` // the questions whose retrieval or answer check failed
	Error   string    `json:"error,omitempty"`
}

// checkDelay gathers a burst of changes (a sync storing many pages) into
// one run.
var checkDelay = 3 * time.Second

type checker struct {
	mu      sync.Mutex
	pending map[string]*KnowledgeCheck // by agent
	running bool
}

var checkers sync.Map // *App -> *checker

func (a *App) checker() *checker {
	c, _ := checkers.LoadOrStore(a, &checker{pending: map[string]*KnowledgeCheck{}})
	return c.(*checker)
}

func (a *App) checkFile(agentName string) string {
	return filepath.Join(a.cfg.DataDir, "checks", agentName+".json")
}

// AgentCheck returns the last check run because the agent's knowledge
// changed (state "" when there was none).
func (a *App) AgentCheck(agentName string) (KnowledgeCheck, error) {
	if _, err := a.agents.Get(agentName); err != nil {
		return KnowledgeCheck{}, userError(err)
	}
	c := a.checker()
	c.mu.Lock()
	if p, ok := c.pending[agentName]; ok {
		out := *p
		c.mu.Unlock()
		return out, nil
	}
	c.mu.Unlock()
	var kc KnowledgeCheck
	if b, err := os.ReadFile(a.checkFile(agentName)); err == nil {
		_ = json.Unmarshal(b, &kc)
	}
	if kc.Failing == nil {
		kc.Failing = []string{}
	}
	if kc.Changed == nil {
		kc.Changed = []string{}
	}
	return kc, nil
}

// knowledgeChanged queues a re-run of the test set of every agent that
// answers from kbName and has one.
func (a *App) knowledgeChanged(kbName string, what []string) {
	defs, err := a.agents.List()
	if err != nil {
		return
	}
	agentsDir := filepath.Join(a.cfg.DataDir, "agents")
	c := a.checker()
	c.mu.Lock()
	defer c.mu.Unlock()
	queued := false
	for _, d := range defs {
		if !slices.Contains(d.KBs, kbName) {
			continue
		}
		if qs, err := agent.LoadTestSet(agentsDir, d.Name); err != nil || len(qs) == 0 {
			continue
		}
		p, ok := c.pending[d.Name]
		if !ok {
			p = &KnowledgeCheck{Agent: d.Name, KB: kbName, State: "waiting", Failing: []string{}}
			c.pending[d.Name] = p
		}
		for _, w := range what {
			if !strings.Contains(w, "://") {
				w = filepath.Base(w)
			}
			if w != "" && !slices.Contains(p.Changed, w) {
				p.Changed = append([]string{w}, p.Changed...)
			}
		}
		p.Changed = p.Changed[:min(len(p.Changed), 5)]
		queued = true
	}
	if queued && !c.running {
		c.running = true
		go a.runChecks()
	}
}

// runChecks runs the queued test sets one at a time, in the background.
func (a *App) runChecks() {
	c := a.checker()
	for {
		time.Sleep(checkDelay)
		c.mu.Lock()
		var next *KnowledgeCheck
		for _, p := range c.pending {
			if p.State == "waiting" {
				next = p
				break
			}
		}
		if next == nil {
			c.running = false
			c.mu.Unlock()
			return
		}
		next.State = "running"
		name := next.Agent
		c.mu.Unlock()

		kc := a.runCheck(name)
		c.mu.Lock()
		p := c.pending[name]
		kc.Changed, kc.KB = p.Changed, p.KB
		if p.State == "running" { // no change arrived meanwhile
			delete(c.pending, name)
		} else {
			p.State = "waiting"
		}
		c.mu.Unlock()
		if b, err := json.MarshalIndent(kc, "", "  "); err == nil {
			_ = os.MkdirAll(filepath.Dir(a.checkFile(name)), 0o700)
			_ = store.WriteFileAtomic(a.checkFile(name), b, 0o600)
		}
	}
}

func (a *App) runCheck(name string) KnowledgeCheck {
	kc := KnowledgeCheck{Agent: name, State: "done", RanAt: time.Now().UTC(), Failing: []string{}}
	def, err := a.agents.Get(name)
	if err != nil {
		kc.State, kc.Error = "error", err.Error()
		return kc
	}
	agentsDir := filepath.Join(a.cfg.DataDir, "agents")
	qs, err := agent.LoadTestSet(agentsDir, name)
	if err != nil {
		kc.State, kc.Error = "error", err.Error()
		return kc
	}
	a.mu.Lock()
	runner := a.runner
	a.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Minute)
	defer cancel()
	run, err := a.tests.Run(ctx, runner, def, qs, nil)
	if err != nil {
		kc.State, kc.Error = "error", llm.Sentence(err)
		return kc
	}
	kc.Total = len(run.Results)
	for _, r := range run.Results {
		if r.Retrieval == "fail" || r.AnswerOK == "fail" || r.Error != "" {
			kc.Failing = append(kc.Failing, r.Q)
		}
	}
	return kc
}

// changedDocs names the documents of kbName stored since a job started
// ("prices.xlsx" rather than the folder it was found in); fallback when
// none was (only removals).
func (a *App) changedDocs(kbName string, since time.Time, fallback []string) []string {
	kb, err := a.store.KB(kbName)
	if err != nil {
		return fallback
	}
	var out []string
	for _, d := range kb.Docs() {
		if !d.Ingested.Before(since) {
			out = append(out, d.Path)
		}
	}
	if len(out) == 0 {
		return fallback
	}
	return out
}
