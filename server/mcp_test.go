package server

import (
	"strings"
	"testing"
)

// TestMCPMethodsInTheBrowser: the Settings screen's MCP calls work over
// HTTP as in the window, and a server that cannot start comes back as a
// sentence beside the (empty) list, not as a failed call.
func TestMCPMethodsInTheBrowser(t *testing.T) {
	h := newHarness(t, "")
	var saved struct {
		Servers map[string]struct {
			Command string `json:"command"`
		} `json:"mcpServers"`
	}
	h.mustCall("SaveMCPServers", &saved, `{"mcpServers": {"broken": {"command": "/nonexistent/atoll-mcp-server"}}}`)
	if saved.Servers["broken"].Command != "/nonexistent/atoll-mcp-server" {
		t.Fatalf("saved %+v", saved)
	}
	var got struct {
		Servers map[string]any `json:"mcpServers"`
	}
	h.mustCall("GetMCPServers", &got)
	if _, ok := got.Servers["broken"]; !ok {
		t.Fatalf("GetMCPServers: %+v", got)
	}
	var list struct {
		Tools  []any `json:"tools"`
		Errors []struct {
			Server, Error string
		} `json:"errors"`
	}
	h.mustCall("ListAllMCPTools", &list)
	if list.Tools == nil || len(list.Tools) != 0 || len(list.Errors) != 1 || list.Errors[0].Server != "broken" || !strings.Contains(list.Errors[0].Error, "MCP server broken could not be started") {
		t.Fatalf("ListAllMCPTools: %+v", list)
	}
	if code, b := h.call("SaveMCPServers", `{"mcpServers": {"x": {}}}`); code != 422 || !strings.Contains(string(b), "give the command") {
		t.Fatalf("a server without a command: %d %s", code, b)
	}
	if code, b := h.call("AlwaysAllowTool", "nobody", "mcp:broken/echo"); code != 422 || strings.Contains(string(b), "unknown method") {
		t.Fatalf("AlwaysAllowTool for a missing agent: %d %s", code, b)
	}
}
