package mcp_test

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"atoll/internal/ollamafake"
	"atoll/internal/testbin"
)

// TestAskConsentOnCLI: `atoll ask` refuses an MCP call unless --yes is given
// or the agent's allow-list names the tool, and prints each call.
func TestAskConsentOnCLI(t *testing.T) {
	fake := ollamafake.New(t)
	data, dir := t.TempDir(), t.TempDir()
	target := filepath.Join(dir, "order.txt")
	cfg := map[string]any{"mcpServers": map[string]any{"fs": map[string]any{
		"command": "node", "args": []string{nodeScript(t, "@modelcontextprotocol/server-filesystem", "dist/index.js"), dir}}}}
	b, _ := json.Marshal(cfg)
	must(t, os.WriteFile(filepath.Join(data, "mcp.json"), b, 0o600))
	runAtoll(t, "--data", data, "--ollama", fake.URL, "agent", "create", "clerk", "--model", ollamafake.DefaultChatModel, "--tools", "mcp:fs/write_file")

	ask := func(extra ...string) (string, string) {
		t.Helper()
		fake.Script(ollamafake.Reply{ToolCalls: []ollamafake.ToolCall{{Name: "fs__write_file", Arguments: map[string]any{"path": target, "content": "one cake"}}}}, ollamafake.Reply{Text: "Noted."})
		var out, errb bytes.Buffer
		cmd := exec.Command(testbin.Atoll(t), append([]string{"--data", data, "--ollama", fake.URL, "ask", "--agent", "clerk"}, append(extra, "Write my order")...)...)
		cmd.Stdout, cmd.Stderr = &out, &errb
		if err := cmd.Run(); err != nil {
			t.Fatalf("ask: %v\n%s", err, errb.String())
		}
		return out.String(), errb.String()
	}
	_, stderr := ask()
	if !strings.Contains(stderr, "tool mcp:fs/write_file: refused") || !strings.Contains(stderr, "one cake") {
		t.Fatalf("stderr = %s", stderr)
	}
	if _, err := os.Stat(target); err == nil {
		t.Fatal("the refused call wrote the file")
	}
	chats := fake.Chats()
	if last := chats[len(chats)-1].Messages; !strings.Contains(last[len(last)-1].Content, "was not called") {
		t.Fatalf("the model was not told of the refusal: %+v", last[len(last)-1])
	}

	_, stderr = ask("--yes")
	if b, err := os.ReadFile(target); err != nil || string(b) != "one cake" {
		t.Fatalf("--yes did not make the call: %v %q\n%s", err, b, stderr)
	}
	if !strings.Contains(stderr, "tool mcp:fs/write_file: MCP node ") || !strings.Contains(stderr, `"content": "one cake"`) {
		t.Fatalf("the call was not printed: %s", stderr)
	}
}
