// Package agent holds agent definitions (versioned on disk), conversations,
// and the run loop that answers a question from an agent's knowledge.
package agent

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"atoll/store"
)

// Definition is everything that makes an agent.
type Definition struct {
	Name        string   `json:"name"`
	Avatar      string   `json:"avatar,omitempty"`
	Description string   `json:"description"`
	Language    string   `json:"language"` // "en", "zh", or "" to follow the user
	System      string   `json:"system"`
	Opening     string   `json:"opening"`
	Starters    []string `json:"starters"`
	Model       string   `json:"model"`
	KBs         []string `json:"kbs"`
	Temperature float64  `json:"temperature"`
	NumCtx      int      `json:"numCtx,omitempty"` // 0: the model's own context length
	Followups   bool     `json:"followups"`
	Memory      bool     `json:"memory"`
	Tools       []string `json:"tools,omitempty"` // names from KnownTools
	// Allow lists the tools ("http:NAME", "mcp:SERVER/TOOL") this agent may
	// call without asking ("always allow this tool for this agent").
	Allow    []string  `json:"allow,omitempty"`
	LeadForm *LeadForm `json:"leadForm,omitempty"`
	Version  int       `json:"version"`
	Updated  time.Time `json:"updated"`
}

// ErrNotFound is returned for an agent that does not exist.
var ErrNotFound = errors.New("agent not found")

var agentName = regexp.MustCompile(`^[\p{L}\p{N}][\p{L}\p{N} _.\-]{0,63}$`)

// ValidName reports whether name can be an agent's name (and folder).
func ValidName(name string) error {
	if !agentName.MatchString(name) || strings.HasSuffix(name, ".") || strings.HasSuffix(name, " ") {
		return fmt.Errorf("%q is not a valid agent name: use letters, digits, spaces, '-', '_' or '.', up to 64 characters", name)
	}
	return nil
}

// Validate checks the fields a user must fix before saving.
func (d Definition) Validate() error {
	if err := ValidName(d.Name); err != nil {
		return err
	}
	if strings.TrimSpace(d.Model) == "" {
		return fmt.Errorf("agent %q needs a chat model", d.Name)
	}
	if d.Temperature < 0 || d.Temperature > 2 {
		return fmt.Errorf("temperature must be between 0 and 2")
	}
	for _, t := range d.Tools {
		if name, ok := strings.CutPrefix(t, HTTPToolPrefix); ok && toolName.MatchString(name) {
			continue // the user's own tool, defined in their settings
		}
		if validMCPTool(t) {
			continue // a tool of one of the user's MCP servers
		}
		if !slices.Contains(KnownTools, t) {
			return fmt.Errorf("agent %q: unknown tool %q (available: %s, http:NAME for a tool of your own, or mcp:SERVER/TOOL)", d.Name, t, strings.Join(KnownTools, ", "))
		}
	}
	if d.LeadForm != nil {
		if err := d.LeadForm.Validate(); err != nil {
			return fmt.Errorf("agent %q: %w", d.Name, err)
		}
	}
	return nil
}

// Repo stores definitions as DATA/agents/<name>/v<N>.json; the highest N is
// current, and earlier versions stay for viewing and restoring.
type Repo struct {
	dir string
	mu  sync.Mutex
}

// NewRepo uses dir (DATA/agents).
func NewRepo(dir string) *Repo { return &Repo{dir: dir} }

// List returns the current version of every agent, by name.
func (r *Repo) List() ([]Definition, error) {
	entries, err := os.ReadDir(r.dir)
	if errors.Is(err, os.ErrNotExist) {
		return []Definition{}, nil
	}
	if err != nil {
		return nil, err
	}
	out := []Definition{}
	for _, e := range entries {
		if !e.IsDir() {
			continue
		}
		if d, err := r.Get(e.Name()); err == nil {
			out = append(out, d)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

func (r *Repo) versions(name string) ([]int, error) {
	entries, err := os.ReadDir(filepath.Join(r.dir, name))
	if err != nil {
		return nil, err
	}
	var vs []int
	for _, e := range entries {
		n := e.Name()
		if strings.HasPrefix(n, "v") && strings.HasSuffix(n, ".json") {
			if v, err := strconv.Atoi(strings.TrimSuffix(strings.TrimPrefix(n, "v"), ".json")); err == nil {
				vs = append(vs, v)
			}
		}
	}
	sort.Ints(vs)
	return vs, nil
}

// Versions lists an agent's saved version numbers, oldest first.
func (r *Repo) Versions(name string) ([]int, error) {
	if !agentName.MatchString(name) {
		return nil, ErrNotFound
	}
	vs, err := r.versions(name)
	if err != nil || len(vs) == 0 {
		return nil, fmt.Errorf("%q: %w", name, ErrNotFound)
	}
	return vs, nil
}

// Get returns the current version.
func (r *Repo) Get(name string) (Definition, error) {
	vs, err := r.Versions(name)
	if err != nil {
		return Definition{}, err
	}
	return r.GetVersion(name, vs[len(vs)-1])
}

// GetVersion returns one saved version.
func (r *Repo) GetVersion(name string, v int) (Definition, error) {
	if !agentName.MatchString(name) {
		return Definition{}, ErrNotFound
	}
	b, err := os.ReadFile(filepath.Join(r.dir, name, fmt.Sprintf("v%d.json", v)))
	if err != nil {
		return Definition{}, fmt.Errorf("%q version %d: %w", name, v, ErrNotFound)
	}
	var d Definition
	if err := json.Unmarshal(b, &d); err != nil {
		return Definition{}, fmt.Errorf("agent %q version %d is damaged: %w", name, v, err)
	}
	return d, nil
}

// Save validates d and stores it as a new version.
func (r *Repo) Save(d Definition) (Definition, error) {
	if err := d.Validate(); err != nil {
		return Definition{}, err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	dir := filepath.Join(r.dir, d.Name)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return Definition{}, err
	}
	if d.Starters == nil {
		d.Starters = []string{}
	}
	if d.KBs == nil {
		d.KBs = []string{}
	}
	d.Updated = time.Now().UTC()
	// The version file appears whole or not at all, and a number another
	// process took in the meantime is never overwritten: the next one is tried.
	for {
		vs, _ := r.versions(d.Name)
		d.Version = 1
		if len(vs) > 0 {
			d.Version = vs[len(vs)-1] + 1
		}
		b, _ := json.MarshalIndent(d, "", "  ")
		err := store.WriteFileNew(filepath.Join(dir, fmt.Sprintf("v%d.json", d.Version)), b, 0o600)
		if errors.Is(err, fs.ErrExist) {
			continue
		}
		if err != nil {
			return Definition{}, fmt.Errorf("couldn't save agent %q: %w", d.Name, err)
		}
		return d, nil
	}
}

// Delete removes an agent and its versions.
func (r *Repo) Delete(name string) error {
	if _, err := r.Versions(name); err != nil {
		return err
	}
	return os.RemoveAll(filepath.Join(r.dir, name))
}
