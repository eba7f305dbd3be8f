package app

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"time"

	"atoll/agent"
	"atoll/llm"
	"atoll/publish"
)

// ListLeads returns the contacts an agent has gathered with its lead form,
// oldest first.
func (a *App) ListLeads(agentName string) ([]agent.Lead, error) {
	if _, err := a.agents.Get(agentName); err != nil {
		return nil, userError(err)
	}
	return a.leads.List(agentName)
}

// ExportLeadsCSV returns an agent's leads as CSV text (Flowise's column
// names first) for the interface to save.
func (a *App) ExportLeadsCSV(agentName string) (string, error) {
	all, err := a.ListLeads(agentName)
	if err != nil {
		return "", err
	}
	return agent.LeadsCSV(all), nil
}

// RunAgentTest runs a test set (JSONL text, one question a line) against
// an agent's current version and returns the scored run, compared with the
// previous one. It blocks until every question is answered.
func (a *App) RunAgentTest(agentName, questionsJSONL string) (agent.TestRun, error) {
	def, err := a.agents.Get(agentName)
	if err != nil {
		return agent.TestRun{}, userError(err)
	}
	qs, err := agent.ParseTestSet(strings.NewReader(questionsJSONL))
	if err != nil {
		return agent.TestRun{}, err
	}
	// These questions become the agent's test set: publishing runs them first.
	if err := agent.SaveTestSet(filepath.Join(a.cfg.DataDir, "agents"), def.Name, []byte(questionsJSONL)); err != nil {
		return agent.TestRun{}, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Minute)
	defer cancel()
	a.mu.Lock()
	runner := a.runner
	a.mu.Unlock()
	run, err := a.tests.Run(ctx, runner, def, qs, nil)
	if err != nil {
		return run, errors.New(llm.Sentence(err))
	}
	return run, nil
}

// PullLeads copies the leads a published agent captured on the remembered
// hub into this data folder, merged with the ones here; it returns how many
// were new and how many merged.
func (a *App) PullLeads(agentName string) (map[string]int, error) {
	c := a.publishConfig()
	if c.URL == "" || c.Token == "" {
		return nil, errors.New("publish the agent first: the hub's address and token are not set")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	raw, err := publish.FetchLeads(ctx, c.URL, c.Token, c.PublicName(agentName))
	if err != nil {
		return nil, err
	}
	added, merged, err := agent.MergeRaw(a.leads, agentName, raw)
	if err != nil {
		return nil, err
	}
	return map[string]int{"added": added, "merged": merged}, nil
}

// AgentTests is an agent's test set and its last run, for the Agents screen.
type AgentTests struct {
	Questions string         `json:"questions"` // JSON lines, as last run
	Last      *agent.TestRun `json:"last"`
}

// AgentTestSet returns the agent's saved test set and its latest run.
func (a *App) AgentTestSet(agentName string) (AgentTests, error) {
	var out AgentTests
	if _, err := a.agents.Get(agentName); err != nil {
		return out, userError(err)
	}
	if b, err := os.ReadFile(filepath.Join(a.cfg.DataDir, "agents", agentName, "testset.jsonl")); err == nil {
		out.Questions = string(b)
	}
	ids, err := a.tests.List(agentName)
	if err != nil || len(ids) == 0 {
		return out, nil
	}
	if run, err := a.tests.Get(agentName, ids[len(ids)-1]); err == nil {
		out.Last = &run
	}
	return out, nil
}
