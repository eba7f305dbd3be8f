package mcp_test

import (
	"context"
	"encoding/json"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"atoll/internal/ollamafake"
	"atoll/internal/testbin"
)

// TestInspectorCLI: the official MCP Inspector, in CLI mode, lists and
// calls `atoll mcp`'s tools and reads a resource.
func TestInspectorCLI(t *testing.T) {
	fake := ollamafake.New(t)
	data := bakery(t, fake)
	launcher := nodeScript(t, "@modelcontextprotocol/inspector", "clients/launcher/build/index.js")
	inspect := func(args ...string) map[string]any {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		argv := append([]string{launcher, "--cli", testbin.Atoll(t), "--data", data, "--ollama", fake.URL, "mcp", "--kb", "shop"}, args...)
		out, err := exec.CommandContext(ctx, "node", argv...).Output()
		if err != nil {
			var stderr []byte
			if ee, ok := err.(*exec.ExitError); ok {
				stderr = ee.Stderr
			}
			t.Fatalf("inspector %s: %v\n%s\n%s", strings.Join(args, " "), err, out, stderr)
		}
		var v map[string]any
		if err := json.Unmarshal(out[strings.IndexByte(string(out), '{'):], &v); err != nil {
			t.Fatalf("inspector printed no JSON: %v\n%s", err, out)
		}
		return v
	}

	listed := inspect("--method", "tools/list")
	var names []string
	for _, tl := range listed["tools"].([]any) {
		tool := tl.(map[string]any)
		names = append(names, tool["name"].(string))
		if tool["inputSchema"] == nil || tool["description"] == "" {
			t.Errorf("tool %v has no schema or description", tool["name"])
		}
	}
	if strings.Join(names, ",") != "list_documents,search_knowledge" {
		t.Fatalf("tools = %v", names)
	}

	called := inspect("--method", "tools/call", "--tool-name", "search_knowledge", "--tool-arg", "query=closed mondays", "k=2")
	passages := called["structuredContent"].(map[string]any)["passages"].([]any)
	if len(passages) == 0 || len(passages) > 2 {
		t.Fatalf("passages = %v", passages)
	}
	first := passages[0].(map[string]any)
	if filepath.Base(first["file"].(string)) != "faq.md" || !strings.Contains(first["text"].(string), "closed on Mondays") {
		t.Fatalf("first passage = %v", first)
	}

	resources := inspect("--method", "resources/list")["resources"].([]any)
	if len(resources) != 2 {
		t.Fatalf("resources = %v", resources)
	}
	var uri string
	for _, r := range resources {
		if r.(map[string]any)["name"] == "faq.md" {
			uri = r.(map[string]any)["uri"].(string)
		}
	}
	read := inspect("--method", "resources/read", "--uri", uri)
	contents := read["contents"].([]any)
	if len(contents) != 1 || !strings.Contains(contents[0].(map[string]any)["text"].(string), "Birthday cakes need three days' notice.") {
		t.Fatalf("read %s = %v", uri, read)
	}
}
