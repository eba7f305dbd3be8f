package app

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"time"

	"atoll/agent"
	"atoll/llm"
	"atoll/publish"
)

// PublishInfo is the remembered hub; the token itself never goes back to
// the interface. Names are the public names agents were published under
// there, where not their own (local name → public name).
type PublishInfo struct {
	URL      string            `json:"url"`
	HasToken bool              `json:"hasToken"`
	Names    map[string]string `json:"names"`
}

// publishConfig is the remembered hub, shared with the command line.
type publishConfig = publish.Config

func (a *App) publishConfig() publishConfig { return publish.ReadConfig(a.cfg.DataDir) }

// savePublishConfig replaces the remembered hub and token, keeping the
// public names remembered for it.
func (a *App) savePublishConfig(c publishConfig) error {
	return publish.UpdateConfig(a.cfg.DataDir, func(cur *publish.Config) {
		cur.URL, cur.Token = c.URL, c.Token
		for l, p := range c.Names[c.URL] {
			cur.Remember(l, p)
		}
	})
}

// PublishSettings returns the remembered hub address and public names.
func (a *App) PublishSettings() (PublishInfo, error) {
	c := a.publishConfig()
	return PublishInfo{URL: c.URL, HasToken: c.Token != "", Names: c.PublicNames()}, nil
}

// PublishEvent is the publish:progress payload.
type PublishEvent struct {
	Job   string `json:"job"`
	Agent string `json:"agent"`
	Phase string `json:"phase"` // "testing", "bundling", "uploading", "done"
	Tests string `json:"tests"` // the test set's result, when the agent has one
	Sent  int64  `json:"sent"`
	Total int64  `json:"total"`
	Done  bool   `json:"done"`
	Error string `json:"error"`
	// Code names an error the window explains in its own words:
	// "name-taken" (another workspace on the hub has the public name).
	Code   string             `json:"code,omitempty"`
	Result *publish.Published `json:"result,omitempty"`
}

// codeNameTaken is PublishEvent.Code for a public name another workspace
// on the hub published first.
const codeNameTaken = "name-taken"

// PublishSummary is what publishing agentName sends and where, for the
// Publish screen to show before anything leaves the machine. An empty
// hubURL names the remembered hub.
func (a *App) PublishSummary(agentName, hubURL string) (publish.Summary, error) {
	x := &publish.Exporter{Store: a.store, Agents: a.agents}
	s, err := x.Summarize(agentName, publish.ExportOptions{})
	if err != nil {
		return publish.Summary{}, userError(err)
	}
	s.Hub = strings.TrimRight(strings.TrimSpace(hubURL), "/")
	if s.Hub == "" {
		s.Hub = a.publishConfig().URL
	}
	return s, nil
}

// PublishAgent bundles an agent with its knowledge and uploads it to a hub;
// progress and the public links arrive as publish:progress events. An empty
// hubURL or token uses the remembered one. The hub is asked whether it
// takes the token before the job starts (a wrong token or address is
// returned as the error, within publish.CheckTimeout, and nothing is sent);
// address and token are remembered (in a file readable by the user only)
// only once the hub has accepted the bundle. publicName is the name on the
// hub: empty for the one remembered from the agent's last publish there,
// else the agent's own; it is remembered with the hub.
func (a *App) PublishAgent(agentName, hubURL, token, publicName string) (string, error) {
	if _, err := a.agents.Get(agentName); err != nil {
		return "", userError(err)
	}
	if publicName = strings.TrimSpace(publicName); publicName != "" {
		if err := agent.ValidName(publicName); err != nil {
			return "", fmt.Errorf("public name: %w", err)
		}
	}
	c := a.publishConfig()
	if hubURL = strings.TrimRight(strings.TrimSpace(hubURL), "/"); hubURL != "" {
		c.URL = hubURL
	}
	if token = strings.TrimSpace(token); token != "" {
		c.Token = token
	}
	if publicName == "" {
		publicName = c.PublicName(agentName)
	}
	as := ""
	if publicName != agentName {
		as = publicName
	}
	if !strings.HasPrefix(c.URL, "http://") && !strings.HasPrefix(c.URL, "https://") {
		return "", errors.New("enter the hub's address, starting with https:// (or http:// on a local network)")
	}
	if c.Token == "" {
		return "", errors.New("enter the publisher token the hub's owner created with `atoll hub token create`")
	}
	if err := publish.CheckToken(context.Background(), c.URL, c.Token); err != nil {
		return "", err
	}
	job := newID()
	ctx, cancel := context.WithCancel(context.Background())
	a.jobs.Store(job, cancel)
	a.bg.Add(1) // Close waits for it
	go func() {
		defer a.bg.Done()
		defer a.jobs.Delete(job)
		defer cancel()
		ev := PublishEvent{Job: job, Agent: agentName, Phase: "testing"}
		// The agent's test set runs first, so what is published has been checked.
		agentsDir := filepath.Join(a.cfg.DataDir, "agents")
		if qs, err := agent.LoadTestSet(agentsDir, agentName); err == nil && len(qs) > 0 {
			a.send(EventPublishProgress, ev)
			def, _ := a.agents.Get(agentName)
			a.mu.Lock()
			runner := a.runner
			a.mu.Unlock()
			if run, err := agent.NewTestRuns(agentsDir).Run(ctx, runner, def, qs, nil); err != nil {
				ev.Tests = "The test set could not run: " + llm.Sentence(err)
			} else {
				ev.Tests = run.Summary()
			}
		}
		ev.Phase = "bundling"
		a.send(EventPublishProgress, ev)
		var buf bytes.Buffer
		x := &publish.Exporter{Store: a.store, Agents: a.agents, Models: a.client(), Generator: "atoll " + a.cfg.Version}
		if _, _, err := x.Export(ctx, &buf, agentName, publish.ExportOptions{}); err != nil {
			ev.Done, ev.Error = true, err.Error()
			a.send(EventPublishProgress, ev)
			return
		}
		ev.Phase, ev.Total = "uploading", int64(buf.Len())
		last := time.Time{}
		res, err := publish.Upload(ctx, c.URL, c.Token, &buf, ev.Total, func(sent, total int64) {
			if time.Since(last) > 100*time.Millisecond || sent == total {
				last = time.Now()
				ev.Sent = sent
				a.send(EventPublishProgress, ev)
			}
		}, as)
		ev.Done, ev.Phase = true, "done"
		var taken *publish.NameTakenError
		switch {
		case errors.As(err, &taken):
			// The hub's text names the command line's --as; here the
			// field above the button is the way out.
			ev.Error = fmt.Sprintf("Another workspace on this hub already uses the name %q: choose a public name above.", publicName)
			ev.Code = codeNameTaken
		case err != nil:
			ev.Error = err.Error()
		default:
			ev.Result = &res
			err := publish.UpdateConfig(a.cfg.DataDir, func(cur *publish.Config) {
				cur.URL, cur.Token = c.URL, c.Token
				cur.Remember(agentName, res.Agent)
			})
			if err != nil {
				ev.Error = "Published, but the hub's address, token and public name could not be remembered: " + err.Error()
			}
		}
		a.send(EventPublishProgress, ev)
	}()
	return job, nil
}

// RollbackPublished asks the remembered hub to publish the previous version
// of an agent again.
func (a *App) RollbackPublished(agentName string) (publish.RolledBack, error) {
	c := a.publishConfig()
	if c.URL == "" || c.Token == "" {
		return publish.RolledBack{}, errors.New("publish the agent first: the hub's address and token are not set")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	return publish.Rollback(ctx, c.URL, c.Token, c.PublicName(agentName))
}

// hubCall runs one publisher call against the remembered hub.
func (a *App) hubCall(fn func(ctx context.Context, c publishConfig) error) error {
	c := a.publishConfig()
	if c.URL == "" || c.Token == "" {
		return errors.New("publish the agent first: the hub's address and token are not set")
	}
	return fn(context.Background(), c)
}

// PublishedAgent is one of the workspace's agents on the hub: Name is
// its public name, Local the agent here published under it ("" when
// none is).
type PublishedAgent struct {
	publish.Agent
	Local string `json:"local"`
}

// PublishedAgents lists the agents the remembered hub serves for this
// workspace, with each one's access ("open" or "key").
func (a *App) PublishedAgents() ([]PublishedAgent, error) {
	out := []PublishedAgent{}
	err := a.hubCall(func(ctx context.Context, c publishConfig) error {
		list, err := publish.WorkspaceAgents(ctx, c.URL, c.Token)
		for _, p := range list {
			out = append(out, PublishedAgent{Agent: p, Local: c.LocalName(p.Name)})
		}
		return err
	})
	return out, err
}

// SetAgentAccess makes a published agent open to everyone ("open") or
// answer only requests carrying one of its API keys ("key").
func (a *App) SetAgentAccess(agentName, access string) error {
	return a.hubCall(func(ctx context.Context, c publishConfig) error {
		return publish.SetAccess(ctx, c.URL, c.Token, c.PublicName(agentName), access)
	})
}

// ListKeys lists a published agent's API keys (never their secrets).
func (a *App) ListKeys(agentName string) ([]publish.Key, error) {
	out := []publish.Key{}
	err := a.hubCall(func(ctx context.Context, c publishConfig) (err error) {
		out, err = publish.Keys(ctx, c.URL, c.Token, c.PublicName(agentName))
		return err
	})
	return out, err
}

// CreateKey makes a named API key for a published agent. The answer's key
// field is the only time the secret is shown; it is not kept here.
func (a *App) CreateKey(agentName, name string) (publish.Key, error) {
	if name = strings.TrimSpace(name); name == "" {
		return publish.Key{}, errors.New("name the key (for example the site that will use it) so you can tell it apart later")
	}
	var k publish.Key
	err := a.hubCall(func(ctx context.Context, c publishConfig) (err error) {
		k, err = publish.CreateKey(ctx, c.URL, c.Token, c.PublicName(agentName), name)
		return err
	})
	return k, err
}

// RevokeKey withdraws one of a published agent's API keys.
func (a *App) RevokeKey(agentName, id string) error {
	return a.hubCall(func(ctx context.Context, c publishConfig) error {
		return publish.RevokeKey(ctx, c.URL, c.Token, c.PublicName(agentName), id)
	})
}

// Usage is the workspace's use of the remembered hub per day, and each
// key's, over the last days days.
func (a *App) Usage(days int) ([]publish.UsageDay, error) {
	out := []publish.UsageDay{}
	err := a.hubCall(func(ctx context.Context, c publishConfig) (err error) {
		out, err = publish.Usage(ctx, c.URL, c.Token, days)
		return err
	})
	return out, err
}
