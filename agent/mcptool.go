package agent

import (
	"context"
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"

	"atoll/llm"
)

// MCPToolPrefix marks tools of MCP servers in Definition.Tools, as
// "mcp:<server>/<tool>". The servers are the user's (Settings); an agent
// uses only the tools it names, and every call goes through the same Allow
// step as an HTTP tool.
const MCPToolPrefix = "mcp:"

// MCPTool is one tool an MCP server offers.
type MCPTool struct {
	Server      string          `json:"server"`
	Name        string          `json:"name"`
	Description string          `json:"description"`
	Schema      json.RawMessage `json:"schema"` // JSON Schema of the arguments
}

// ID is the tool as Definition.Tools names it.
func (t MCPTool) ID() string { return MCPToolPrefix + t.Server + "/" + t.Name }

// MCPTools is what the runner needs from the MCP client (mcp.Manager).
type MCPTools interface {
	Tool(ctx context.Context, server, name string) (MCPTool, error)
	Call(ctx context.Context, server, name string, args map[string]any) (string, error)
	Describe(server string) string
}

var mcpID = regexp.MustCompile(`^mcp:([A-Za-z0-9][A-Za-z0-9_.\-]{0,39})/([^/\s]{1,128})$`)

// ParseMCPID splits "mcp:<server>/<tool>".
func ParseMCPID(id string) (server, tool string, ok bool) {
	m := mcpID.FindStringSubmatch(id)
	if m == nil {
		return "", "", false
	}
	return m[1], m[2], true
}

var notFuncChar = regexp.MustCompile(`[^A-Za-z0-9_]`)

// mcpFuncName is the name the model calls: server and tool joined, in the
// characters every model's function names allow, at most 64 of them.
func mcpFuncName(server, tool string) string {
	s := notFuncChar.ReplaceAllString(server, "_") + "__" + notFuncChar.ReplaceAllString(tool, "_")
	if len(s) > 64 {
		s = s[:64]
	}
	return s
}

// mcpSpecs are the enabled MCP tools as the model sees them. A server that
// can't be reached drops its tools from this turn: the agent still answers.
func (t *turn) mcpSpec(id string) (llm.Tool, bool) {
	server, name, ok := ParseMCPID(id)
	if !ok || t.r.MCP == nil {
		return llm.Tool{}, false
	}
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	tl, err := t.r.MCP.Tool(ctx, server, name)
	if err != nil {
		return llm.Tool{}, false
	}
	schema := tl.Schema
	if len(schema) == 0 || string(schema) == "null" {
		schema = json.RawMessage(`{"type":"object","properties":{}}`)
	}
	return llm.Tool{Name: mcpFuncName(server, name), Description: tl.Description, Parameters: schema}, true
}

// mcpTool finds the enabled MCP tool the model called by its function name.
func (t *turn) mcpTool(fn string) (server, tool string, ok bool) {
	if t.r.MCP == nil {
		return "", "", false
	}
	for _, id := range t.def.Tools {
		if s, n, ok := ParseMCPID(id); ok && mcpFuncName(s, n) == fn {
			return s, n, true
		}
	}
	return "", "", false
}

// callMCP asks for consent exactly as callHTTP does, showing the exact
// arguments, then calls the tool.
func (t *turn) callMCP(ctx context.Context, server, tool string, args map[string]any) (string, error) {
	id := MCPToolPrefix + server + "/" + tool
	shown, _ := json.MarshalIndent(args, "", "  ")
	if args == nil {
		shown = []byte("{}")
	}
	call := HTTPCall{Tool: id, Method: "MCP", URL: t.r.MCP.Describe(server), Arguments: string(shown), Agent: t.def.Name, Allowed: slices.Contains(t.def.Allow, id)}
	if t.r.Confirm != nil {
		if err := t.r.Confirm(ctx, call); err != nil {
			return "", fmt.Errorf("%s was not called: %v", id, err)
		}
	}
	return t.r.MCP.Call(ctx, server, tool, args)
}

// validMCPTool tells Validate that a Tools entry names an MCP tool.
func validMCPTool(id string) bool {
	_, _, ok := ParseMCPID(id)
	return ok && strings.HasPrefix(id, MCPToolPrefix)
}
