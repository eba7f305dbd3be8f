package publish

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/gofrs/flock"

	"atoll/store"
)

// ConfigFile is the remembered hub in a data folder, readable by the user
// only: the desktop window and the command line share it.
const ConfigFile = "publish.json"

// Config is the remembered hub: its address, the publisher token, and the
// public name each agent was published under there when it is not the
// agent's own (a hub gives a name to the workspace that published it
// first, so another workspace's agent may be published as another name).
type Config struct {
	URL   string `json:"url"`
	Token string `json:"token"`
	// Names maps a hub's address to local agent name → public name.
	// Keyed by hub because a name taken on one hub may be free on another.
	Names map[string]map[string]string `json:"names,omitempty"`
}

// ReadConfig returns the data folder's remembered hub; a missing or
// unreadable file is an empty one (nothing published yet).
func ReadConfig(dataDir string) Config {
	var c Config
	if b, err := os.ReadFile(filepath.Join(dataDir, ConfigFile)); err == nil {
		_ = json.Unmarshal(b, &c)
	}
	return c
}

// UpdateConfig re-reads the remembered hub, lets change edit it and
// writes it back, holding a lock on the file, so two publishes finishing
// together (the window and the command line, or two agents) each keep the
// other's public name.
func UpdateConfig(dataDir string, change func(*Config)) error {
	if err := os.MkdirAll(dataDir, 0o700); err != nil {
		return fmt.Errorf("couldn't create the data folder %s: %w", dataDir, err)
	}
	path := filepath.Join(dataDir, ConfigFile)
	fl := flock.New(path+".lock", flock.SetPermissions(0o600))
	ctx, cancel := context.WithTimeout(context.Background(), store.LockWait)
	defer cancel()
	if ok, err := fl.TryLockContext(ctx, 20*time.Millisecond); err != nil || !ok {
		return fmt.Errorf("another Atoll is writing %s: try again when it has finished", path)
	}
	defer fl.Unlock()
	c := ReadConfig(dataDir)
	change(&c)
	b, _ := json.MarshalIndent(c, "", "  ")
	return store.WriteFileAtomic(path, b, 0o600)
}

// PublicName is the name the agent local has on the remembered hub: the
// remembered public name, else its own.
func (c Config) PublicName(local string) string {
	if p := c.Names[c.URL][local]; p != "" {
		return p
	}
	return local
}

// Remember records that local is published as public on the remembered
// hub; the agent's own name needs no entry. Another agent remembered under
// the same public name loses it: the hub now serves this one under it.
func (c *Config) Remember(local, public string) {
	for l, p := range c.Names[c.URL] {
		if p == public && l != local {
			delete(c.Names[c.URL], l)
		}
	}
	if public == "" || public == local {
		if m := c.Names[c.URL]; m != nil {
			delete(m, local)
			if len(m) == 0 {
				delete(c.Names, c.URL)
			}
		}
		return
	}
	if c.Names == nil {
		c.Names = map[string]map[string]string{}
	}
	if c.Names[c.URL] == nil {
		c.Names[c.URL] = map[string]string{}
	}
	c.Names[c.URL][local] = public
}

// LocalName is the agent here that is published on the remembered hub as
// public: the one remembered under that public name, else the agent of the
// same name unless it is published under another; "" when none is.
func (c Config) LocalName(public string) string {
	for l, p := range c.Names[c.URL] {
		if p == public {
			return l
		}
	}
	if _, moved := c.Names[c.URL][public]; moved {
		return ""
	}
	return public
}

// PublicNames is local → public name for the remembered hub, the agents
// published under their own name left out.
func (c Config) PublicNames() map[string]string {
	out := map[string]string{}
	for l, p := range c.Names[c.URL] {
		out[l] = p
	}
	return out
}

// PullKey keys the review pull cursor of local's items: the hub, and the
// public name when it is not the agent's own, so a publication under a new
// name is pulled from its beginning.
func (c Config) PullKey(local string) string {
	if p := c.PublicName(local); p != local {
		return c.URL + "#" + p
	}
	return c.URL
}
