package app

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"time"

	"atoll/agent"
	"atoll/llm"
	"atoll/publish"
	"atoll/store"
)

// PublishInfo is the remembered hub; the token itself never goes back to
// the interface.
type PublishInfo struct {
	URL      string `json:"url"`
	HasToken bool   `json:"hasToken"`
}

type publishConfig struct {
	URL   string `json:"url"`
	Token string `json:"token"`
}

func (a *App) publishPath() string { return filepath.Join(a.cfg.DataDir, "publish.json") }

func (a *App) publishConfig() publishConfig {
	var c publishConfig
	if b, err := os.ReadFile(a.publishPath()); err == nil {
		_ = json.Unmarshal(b, &c)
	}
	return c
}

func (a *App) savePublishConfig(c publishConfig) error {
	b, _ := json.MarshalIndent(c, "", "  ")
	return store.WriteFileAtomic(a.publishPath(), b, 0o600)
}

// PublishSettings returns the remembered hub address.
func (a *App) PublishSettings() (PublishInfo, error) {
	c := a.publishConfig()
	return PublishInfo{URL: c.URL, HasToken: c.Token != ""}, nil
}

// PublishEvent is the publish:progress payload.
type PublishEvent struct {
	Job    string             `json:"job"`
	Agent  string             `json:"agent"`
	Phase  string             `json:"phase"` // "testing", "bundling", "uploading", "done"
	Tests  string             `json:"tests"` // the test set's result, when the agent has one
	Sent   int64              `json:"sent"`
	Total  int64              `json:"total"`
	Done   bool               `json:"done"`
	Error  string             `json:"error"`
	Result *publish.Published `json:"result,omitempty"`
}

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
// only once the hub has accepted the bundle.
func (a *App) PublishAgent(agentName, hubURL, token string) (string, error) {
	if _, err := a.agents.Get(agentName); err != nil {
		return "", userError(err)
	}
	c := a.publishConfig()
	if hubURL = strings.TrimRight(strings.TrimSpace(hubURL), "/"); hubURL != "" {
		c.URL = hubURL
	}
	if token = strings.TrimSpace(token); token != "" {
		c.Token = token
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
		})
		ev.Done, ev.Phase = true, "done"
		if err != nil {
			ev.Error = err.Error()
		} else {
			ev.Result = &res
			if err := a.savePublishConfig(c); err != nil {
				ev.Error = "Published, but the hub's address and token could not be remembered: " + err.Error()
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
	return publish.Rollback(ctx, c.URL, c.Token, agentName)
}

// hubCall runs one publisher call against the remembered hub.
func (a *App) hubCall(fn func(ctx context.Context, c publishConfig) error) error {
	c := a.publishConfig()
	if c.URL == "" || c.Token == "" {
		return errors.New("publish the agent first: the hub's address and token are not set")
	}
	return fn(context.Background(), c)
}

// PublishedAgents lists the agents the remembered hub serves for this
// workspace, with each one's access ("open" or "key").
func (a *App) PublishedAgents() ([]publish.Agent, error) {
	var out []publish.Agent
	err := a.hubCall(func(ctx context.Context, c publishConfig) (err error) {
		out, err = publish.WorkspaceAgents(ctx, c.URL, c.Token)
		return err
	})
	return out, err
}

// SetAgentAccess makes a published agent open to everyone ("open") or
// answer only requests carrying one of its API keys ("key").
func (a *App) SetAgentAccess(agentName, access string) error {
	return a.hubCall(func(ctx context.Context, c publishConfig) error {
		return publish.SetAccess(ctx, c.URL, c.Token, agentName, access)
	})
}

// ListKeys lists a published agent's API keys (never their secrets).
func (a *App) ListKeys(agentName string) ([]publish.Key, error) {
	out := []publish.Key{}
	err := a.hubCall(func(ctx context.Context, c publishConfig) (err error) {
		out, err = publish.Keys(ctx, c.URL, c.Token, agentName)
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
		k, err = publish.CreateKey(ctx, c.URL, c.Token, agentName, name)
		return err
	})
	return k, err
}

// RevokeKey withdraws one of a published agent's API keys.
func (a *App) RevokeKey(agentName, id string) error {
	return a.hubCall(func(ctx context.Context, c publishConfig) error {
		return publish.RevokeKey(ctx, c.URL, c.Token, agentName, id)
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
