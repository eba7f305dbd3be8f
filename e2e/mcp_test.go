package e2e

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
	"github.com/gofrs/flock"

	"atoll/agent"
	"atoll/internal/ollamafake"
)

// mcpTools installs the reference MCP servers from npm exactly as package
// mcp's tests do (same pinned lock file, same cache folder and lock), so a
// machine that ran either installs once. It returns the folder holding
// node_modules.
func mcpTools(t *testing.T) string {
	t.Helper()
	src := filepath.Join("..", "mcp", "testdata", "tools")
	lock, err := os.ReadFile(filepath.Join(src, "package-lock.json"))
	if err != nil {
		t.Fatal(err)
	}
	cache, err := os.UserCacheDir()
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(lock)
	dir := filepath.Join(cache, "atoll", "mcp-tools-"+hex.EncodeToString(sum[:6]))
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	fl := flock.New(dir + ".lock")
	if err := fl.Lock(); err != nil {
		t.Fatal(err)
	}
	defer fl.Unlock()
	if _, err := os.Stat(filepath.Join(dir, "node_modules", ".installed")); err == nil {
		return dir
	}
	for _, f := range []string{"package.json", "package-lock.json"} {
		b, err := os.ReadFile(filepath.Join(src, f))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, f), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	cmd := exec.Command("npm", "install", "--no-audit", "--no-fund", "--loglevel=error")
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("installing the MCP test tools from npm: %v\n%s", err, out)
	}
	if err := os.WriteFile(filepath.Join(dir, "node_modules", ".installed"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

// TestMCPToolFromSettings: an MCP server (the reference server-everything,
// over stdio) is added in Settings as Claude Desktop's JSON, its tools are
// listed, one is enabled on an agent, and when the scripted model calls it
// the window shows the exact arguments, runs it only after Allow, and the
// server's own result reaches the answer. "Always allow" lands on the agent.
func TestMCPToolFromSettings(t *testing.T) {
	everything := filepath.Join(mcpTools(t), "node_modules", "@modelcontextprotocol", "server-everything", "dist", "index.js")
	if _, err := os.Stat(everything); err != nil {
		t.Fatal(err)
	}
	fake := ollamafake.New(t)
	e := start(t, fake.URL, func(data string) {
		seedAgent(t, data, agent.Definition{Name: "shop", Model: ollamafake.DefaultChatModel})
	})
	cfg, _ := json.Marshal(map[string]any{"mcpServers": map[string]any{
		"everything": map[string]any{"command": "node", "args": []string{everything, "stdio"}},
	}})
	var echo string
	e.run("add the server in Settings",
		chromedp.Navigate(e.url+"/#/settings"),
		chromedp.WaitVisible(tid("settings-mcp-json")),
		typeInto("settings-mcp-json", string(cfg)),
		chromedp.Click(tid("settings-mcp-save")),
		// Started, listed with descriptions.
		waitText(tid("settings-mcp-tool-everything-echo"), func(s string) bool { return strings.Contains(s, "echo") && len(s) > len("echo")+5 }, &echo),
		chromedp.ScrollIntoView(tid("settings-mcp")),
	)
	e.screenshot("mcp-settings")
	if _, err := os.Stat(filepath.Join(e.data, "mcp.json")); err != nil {
		t.Fatalf("the servers were not saved: %v", err)
	}

	e.run("enable its echo tool on the agent",
		chromedp.Navigate(e.url+"/#/agents"),
		chromedp.WaitVisible(tid("agent-row-shop")),
		waitText(tid("agent-version"), func(s string) bool { return strings.Contains(s, "1") }, nil),
		chromedp.WaitVisible(tid("agent-tool-mcp-everything-echo")),
		chromedp.Click(tid("agent-tool-mcp-everything-echo")),
		chromedp.Click(tid("agent-save")),
		waitText(tid("agent-version"), func(s string) bool { return strings.Contains(s, "2") }, nil),
	)
	repo := agent.NewRepo(filepath.Join(e.data, "agents"))
	if d, err := repo.Get("shop"); err != nil || !slices.Contains(d.Tools, "mcp:everything/echo") {
		t.Fatalf("saved agent: %+v %v", d, err)
	}

	// The model calls the tool, then answers with what the tool returned:
	// the answer can only hold the server's reply if the call really ran.
	fake.OnChat(func(req ollamafake.ChatRequest) ollamafake.Reply {
		last := req.Messages[len(req.Messages)-1]
		if last.Role == "tool" {
			return ollamafake.Reply{Text: "The tool answered: " + last.Content}
		}
		return ollamafake.Reply{ToolCalls: []ollamafake.ToolCall{{Name: "everything__echo", Arguments: map[string]any{"message": "hello from Atoll"}}}}
	})
	e.run("ask",
		chromedp.Navigate(e.url+"/#/chat"),
		chromedp.WaitEnabled(tid("chat-input")),
		chromedp.SendKeys(tid("chat-input"), "Please echo something"),
		chromedp.WaitEnabled(tid("chat-send")),
		chromedp.SendKeys(tid("chat-input"), kb.Enter),
		waitText(tid("tool-confirm-args"), func(s string) bool { return strings.Contains(s, `"message": "hello from Atoll"`) }, nil),
	)
	if title := eval[string](e, `document.querySelector('[data-testid="tool-confirm"] h2').textContent`); !strings.Contains(title, "mcp:everything/echo") {
		t.Fatalf("the dialog names %q", title)
	}
	e.screenshot("mcp-tool-confirm")
	e.run("allow, always",
		chromedp.Click(tid("tool-always")),
		chromedp.Click(tid("tool-allow")),
		waitText(tid("answer"), func(s string) bool { return strings.Contains(s, "Echo: hello from Atoll") }, nil),
	)
	e.screenshot("mcp-answer")
	e.run("the agent now allows the tool",
		chromedp.Func(func(ctx context.Context, _ *chromedp.Target) error {
			for {
				if d, err := repo.Get("shop"); err == nil && slices.Contains(d.Allow, "mcp:everything/echo") {
					return nil
				}
				select {
				case <-ctx.Done():
					return ctx.Err()
				case <-time.After(150 * time.Millisecond):
				}
			}
		}),
	)
}
