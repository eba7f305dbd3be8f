package app

import (
	"errors"

	"atoll/agent"
)

// The desktop has one end user; published agents will pass their visitor's id.

// ListMemories returns what an agent remembers about the desktop user.
func (a *App) ListMemories(agentName string) ([]agent.Fact, error) {
	if _, err := a.agents.Get(agentName); err != nil {
		return nil, userError(err)
	}
	return a.memory.List(agentName, agent.LocalUser)
}

// UpdateMemory corrects one remembered fact.
func (a *App) UpdateMemory(agentName, id, text string) (agent.Fact, error) {
	f, err := a.memory.Update(agentName, agent.LocalUser, id, text)
	return f, memoryError(err)
}

// DeleteMemory forgets one fact.
func (a *App) DeleteMemory(agentName, id string) error {
	return memoryError(a.memory.Delete(agentName, agent.LocalUser, id))
}

// ClearMemories forgets everything an agent remembers about the desktop user.
func (a *App) ClearMemories(agentName string) error {
	return a.memory.Clear(agentName, agent.LocalUser)
}

func memoryError(err error) error {
	if errors.Is(err, agent.ErrFactNotFound) {
		return errors.New("that memory no longer exists — it may have been deleted; refresh the list")
	}
	return err
}
