package app

import (
	"context"
	"errors"
	"strings"
	"time"

	"atoll/agent"
	"atoll/llm"
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
