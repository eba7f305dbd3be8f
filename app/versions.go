package app

import (
	"fmt"
	"time"

	"atoll/agent"
)

// AgentVersion is one saved version of an agent, for the history list.
type AgentVersion struct {
	Version     int       `json:"version"`
	Updated     time.Time `json:"updated"`
	Model       string    `json:"model"`
	Description string    `json:"description"`
}

// AgentVersions lists an agent's saved versions, newest first.
func (a *App) AgentVersions(name string) ([]AgentVersion, error) {
	vs, err := a.agents.Versions(name)
	if err != nil {
		return nil, userError(err)
	}
	out := make([]AgentVersion, 0, len(vs))
	for i := len(vs) - 1; i >= 0; i-- {
		d, err := a.agents.GetVersion(name, vs[i])
		if err != nil {
			continue
		}
		out = append(out, AgentVersion{Version: d.Version, Updated: d.Updated, Model: d.Model, Description: d.Description})
	}
	return out, nil
}

// GetAgentVersion returns one saved version, to view it.
func (a *App) GetAgentVersion(name string, version int) (agent.Definition, error) {
	d, err := a.agents.GetVersion(name, version)
	return d, userError(err)
}

// RestoreAgentVersion saves an earlier version again as the newest one; the
// versions in between stay in the history.
func (a *App) RestoreAgentVersion(name string, version int) (agent.Definition, error) {
	d, err := a.agents.GetVersion(name, version)
	if err != nil {
		return agent.Definition{}, userError(err)
	}
	cur, err := a.agents.Get(name)
	if err != nil {
		return agent.Definition{}, userError(err)
	}
	if cur.Version == version {
		return cur, fmt.Errorf("version %d is already the current one", version)
	}
	return a.agents.Save(d)
}
