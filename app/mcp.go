package app

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"time"

	"atoll/agent"
	"atoll/mcp"
	"atoll/store"
)

// The user's MCP servers live in DATA/mcp.json, in Claude Desktop's own
// shape ({"mcpServers": {...}}), readable by the user only: env and headers
// may hold keys. Agents use a server's tool only when enabled as
// "mcp:<server>/<tool>", and every call waits for the same Allow as an HTTP
// tool's.

func mcpConfigPath(dataDir string) string { return filepath.Join(dataDir, "mcp.json") }

// LoadMCPConfig reads DATA/mcp.json; no servers when it is missing or bad.
func LoadMCPConfig(dataDir string) mcp.Config {
	c := mcp.Config{}
	if b, err := os.ReadFile(mcpConfigPath(dataDir)); err == nil {
		if parsed, err := mcp.ParseConfig(b); err == nil {
			c = parsed
		}
	}
	if c.Servers == nil {
		c.Servers = map[string]mcp.ServerConfig{}
	}
	return c
}

// newMCPManager runs the configured servers for an app's agents; it is made
// once in New, before the runner (which connect remakes under a.mu).
func newMCPManager(dataDir string) *mcp.Manager {
	return mcp.NewManager(func() mcp.Config { return LoadMCPConfig(dataDir) })
}

func (a *App) mcpManager() *mcp.Manager { return a.mcp }

// GetMCPServers returns the configured servers.
func (a *App) GetMCPServers() (mcp.Config, error) {
	return LoadMCPConfig(a.cfg.DataDir), nil
}

// SaveMCPServers replaces the configured servers with a Claude-Desktop-style
// JSON text (pasted or imported as is).
func (a *App) SaveMCPServers(text string) (mcp.Config, error) {
	c, err := mcp.ParseConfig([]byte(text))
	if err != nil {
		return mcp.Config{}, err
	}
	b, _ := json.MarshalIndent(c, "", "  ")
	if err := store.WriteFileAtomic(mcpConfigPath(a.cfg.DataDir), b, 0o600); err != nil {
		return mcp.Config{}, err
	}
	return c, nil
}

// ListMCPTools starts (or reaches) a server and lists its tools with their
// descriptions and argument schemas; each is enabled on an agent by its ID.
func (a *App) ListMCPTools(server string) ([]agent.MCPTool, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	return a.mcpManager().Tools(ctx, server)
}

// MCPToolList is every configured server's tools; Errors has one entry
// for each server that could not be started or reached.
type MCPToolList struct {
	Tools  []agent.MCPTool   `json:"tools"`
	Errors []MCPServerFailed `json:"errors"`
}

// MCPServerFailed is a server that could not be listed, and why.
type MCPServerFailed struct {
	Server string `json:"server"`
	Error  string `json:"error"`
}

// ListAllMCPTools lists the tools of every configured server; a server that
// fails is named in Errors, the others still listed. (One struct, not three
// results: Wails and the HTTP transport pass on a value and an error only.)
func (a *App) ListAllMCPTools() (MCPToolList, error) {
	c := LoadMCPConfig(a.cfg.DataDir)
	names := make([]string, 0, len(c.Servers))
	for n, s := range c.Servers {
		if !s.Disabled {
			names = append(names, n)
		}
	}
	sort.Strings(names)
	out := MCPToolList{Tools: []agent.MCPTool{}, Errors: []MCPServerFailed{}}
	for _, n := range names {
		ts, err := a.ListMCPTools(n)
		if err != nil {
			out.Errors = append(out.Errors, MCPServerFailed{Server: n, Error: err.Error()})
			continue
		}
		out.Tools = append(out.Tools, ts...)
	}
	return out, nil
}

// AlwaysAllowTool puts a tool ("http:NAME" or "mcp:SERVER/TOOL") on the
// agent's allow-list: its calls no longer wait for Allow. It saves a new
// version of the agent, so the change shows in its history.
func (a *App) AlwaysAllowTool(agentName, tool string) (agent.Definition, error) {
	if !strings.HasPrefix(tool, agent.HTTPToolPrefix) && !strings.HasPrefix(tool, agent.MCPToolPrefix) {
		return agent.Definition{}, fmt.Errorf("only your own tools (http:NAME, mcp:SERVER/TOOL) ask for Allow; %q does not", tool)
	}
	d, err := a.agents.Get(agentName)
	if err != nil {
		return agent.Definition{}, userError(err)
	}
	if !slices.Contains(d.Tools, tool) {
		return agent.Definition{}, fmt.Errorf("the agent %q does not use the tool %s: enable it first", agentName, tool)
	}
	if slices.Contains(d.Allow, tool) {
		return d, nil
	}
	d.Allow = append(d.Allow, tool)
	return a.agents.Save(d)
}
