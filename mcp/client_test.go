package mcp_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"atoll/agent"
	"atoll/internal/ollamafake"
	"atoll/llm"
	"atoll/mcp"
)

// harness is an agent on the scripted model whose tools are MCP tools, with
// an Allow step that records what it was shown.
type harness struct {
	t      *testing.T
	fake   *ollamafake.Server
	runner *agent.Runner
	mgr    *mcp.Manager
	mu     sync.Mutex
	shown  []agent.HTTPCall
	refuse bool
}

func newHarness(t *testing.T, servers map[string]mcp.ServerConfig) *harness {
	fake := ollamafake.New(t)
	c, err := llm.New(fake.URL)
	must(t, err)
	h := &harness{t: t, fake: fake}
	h.mgr = mcp.NewManager(func() mcp.Config { return mcp.Config{Servers: servers} })
	t.Cleanup(h.mgr.Close)
	h.runner = agent.NewRunner(c, nil, nil)
	h.runner.MCP = h.mgr
	h.runner.Confirm = func(_ context.Context, call agent.HTTPCall) error {
		h.mu.Lock()
		defer h.mu.Unlock()
		h.shown = append(h.shown, call)
		if h.refuse {
			return agent.ErrDenied
		}
		return nil
	}
	return h
}

// ask scripts the model to call one tool, then to answer, and returns the
// tool use and what the model was given as the tool's result.
func (h *harness) ask(def agent.Definition, fn string, args map[string]any) (agent.ToolUse, string) {
	h.t.Helper()
	h.fake.Script(ollamafake.Reply{ToolCalls: []ollamafake.ToolCall{{Name: fn, Arguments: args}}}, ollamafake.Reply{Text: "Done."})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	ans, err := h.runner.AskWith(ctx, def, agent.AskOptions{Ephemeral: true}, "Please use the tool.", nil)
	must(h.t, err)
	if len(ans.Tools) != 1 {
		h.t.Fatalf("tool uses = %+v", ans.Tools)
	}
	chats := h.fake.Chats()
	last := chats[len(chats)-1].Messages
	got := last[len(last)-1]
	if got.Role != "tool" {
		h.t.Fatalf("the model was not given the tool's result: %+v", last)
	}
	return ans.Tools[0], got.Content
}

func (h *harness) lastShown() agent.HTTPCall {
	h.mu.Lock()
	defer h.mu.Unlock()
	if len(h.shown) == 0 {
		h.t.Fatal("nothing went through the Allow step")
	}
	return h.shown[len(h.shown)-1]
}

func everything(t *testing.T, timeout int) mcp.ServerConfig {
	return mcp.ServerConfig{Command: "node", Args: []string{nodeScript(t, "@modelcontextprotocol/server-everything", "dist/index.js"), "stdio"}, Timeout: timeout}
}

func def(tools ...string) agent.Definition {
	return agent.Definition{Name: "helper", Model: ollamafake.DefaultChatModel, Tools: tools}
}

func TestAgentCallsEverythingOverStdio(t *testing.T) {
	h := newHarness(t, map[string]mcp.ServerConfig{"everything": everything(t, 2)})
	d := def("mcp:everything/echo", "mcp:everything/get-sum", "mcp:everything/trigger-long-running-operation")

	// The tools reach the model with their descriptions and schemas.
	use, result := h.ask(d, "everything__echo", map[string]any{"message": "hello from atoll"})
	var offered string
	for _, c := range h.fake.Chats() {
		offered += string(c.Tools)
	}
	for _, want := range []string{`"everything__echo"`, "Echoes back the input string", `"everything__get_sum"`, `"message"`} {
		if !strings.Contains(offered, want) {
			t.Fatalf("the model was not offered %s: %s", want, offered)
		}
	}
	if use.Error || !strings.Contains(result, "hello from atoll") {
		t.Fatalf("echo: %+v / %q", use, result)
	}
	shown := h.lastShown()
	if shown.Tool != "mcp:everything/echo" || shown.Method != "MCP" || !strings.Contains(shown.URL, "server-everything") || shown.Agent != "helper" || shown.Allowed {
		t.Fatalf("Allow step showed %+v", shown)
	}
	if !strings.Contains(shown.Arguments, `"message": "hello from atoll"`) {
		t.Fatalf("Allow step did not show the exact arguments: %s", shown.Arguments)
	}

	use, result = h.ask(d, "everything__get_sum", map[string]any{"a": 2, "b": 40})
	if use.Error || !strings.Contains(result, "42") {
		t.Fatalf("get-sum: %+v / %q", use, result)
	}

	// The tool's own error goes back to the model as an error.
	use, result = h.ask(d, "everything__get_sum", map[string]any{"a": "two"})
	if !use.Error || !strings.HasPrefix(result, "Error: ") {
		t.Fatalf("bad arguments: %+v / %q", use, result)
	}

	// A call slower than the server's timeout (2 s) is given up.
	start := time.Now()
	use, result = h.ask(d, "everything__trigger_long_running_operation", map[string]any{"duration": 30, "steps": 3})
	if !use.Error || !strings.Contains(result, "did not answer within 2s") || time.Since(start) > 25*time.Second {
		t.Fatalf("timeout: %+v / %q after %s", use, result, time.Since(start))
	}
	// ...and the server still answers afterwards.
	use, result = h.ask(d, "everything__echo", map[string]any{"message": "still here"})
	if use.Error || !strings.Contains(result, "still here") {
		t.Fatalf("after timeout: %+v / %q", use, result)
	}

	// A tool the agent has not enabled is not called, whatever the model says.
	n := len(h.shown)
	use, _ = h.ask(d, "everything__get_env", map[string]any{})
	if !use.Error || len(h.shown) != n {
		t.Fatalf("a tool not enabled ran: %+v", use)
	}
}

func TestRefusedCallIsNotMade(t *testing.T) {
	dir := t.TempDir()
	h := newHarness(t, map[string]mcp.ServerConfig{"fs": {Command: "node", Args: []string{nodeScript(t, "@modelcontextprotocol/server-filesystem", "dist/index.js"), dir}}})
	h.refuse = true
	target := filepath.Join(dir, "note.txt")
	use, result := h.ask(def("mcp:fs/write_file"), "fs__write_file", map[string]any{"path": target, "content": "should not exist"})
	if !use.Error || !strings.Contains(result, "was not called") || !strings.Contains(result, agent.ErrDenied.Error()) {
		t.Fatalf("refused: %+v / %q", use, result)
	}
	if _, err := os.Stat(target); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("the refused call wrote the file (%v)", err)
	}
	// Allowed: the same call is made.
	h.refuse = false
	use, result = h.ask(def("mcp:fs/write_file"), "fs__write_file", map[string]any{"path": target, "content": "written"})
	if b, err := os.ReadFile(target); use.Error || err != nil || string(b) != "written" {
		t.Fatalf("allowed: %+v / %q / %q %v", use, result, b, err)
	}
}

func TestFilesystemServer(t *testing.T) {
	dir, outside := t.TempDir(), t.TempDir()
	must(t, os.WriteFile(filepath.Join(dir, "menu.txt"), []byte("brioche 5 euros"), 0o644))
	must(t, os.WriteFile(filepath.Join(outside, "secret.txt"), []byte("do not read"), 0o644))
	h := newHarness(t, map[string]mcp.ServerConfig{"fs": {Command: "node", Args: []string{nodeScript(t, "@modelcontextprotocol/server-filesystem", "dist/index.js"), dir}}})
	d := def("mcp:fs/read_text_file")
	d.Allow = []string{"mcp:fs/read_text_file"}
	use, result := h.ask(d, "fs__read_text_file", map[string]any{"path": filepath.Join(dir, "menu.txt")})
	if use.Error || !strings.Contains(result, "brioche 5 euros") {
		t.Fatalf("read: %+v / %q", use, result)
	}
	if !h.lastShown().Allowed {
		t.Fatal("a tool on the agent's allow-list was not marked allowed")
	}
	use, result = h.ask(d, "fs__read_text_file", map[string]any{"path": filepath.Join(outside, "secret.txt")})
	if !use.Error || strings.Contains(result, "do not read") {
		t.Fatalf("outside the allowed folder: %+v / %q", use, result)
	}
}

// TestCrashedServerIsRestarted: a stdio server killed between calls is
// started again on the next one, and the model is told.
func TestCrashedServerIsRestarted(t *testing.T) {
	h := newHarness(t, map[string]mcp.ServerConfig{"everything": everything(t, 10)})
	d := def("mcp:everything/echo")
	if use, _ := h.ask(d, "everything__echo", map[string]any{"message": "one"}); use.Error {
		t.Fatalf("first call: %+v", use)
	}
	p := h.mgr.Process("everything")
	if p == nil {
		t.Fatal("no process")
	}
	must(t, p.Kill())
	deadline := time.Now().Add(30 * time.Second)
	for h.mgr.Running("everything") {
		if time.Now().After(deadline) {
			t.Fatal("the manager did not notice the server died")
		}
		time.Sleep(20 * time.Millisecond)
	}
	use, result := h.ask(d, "everything__echo", map[string]any{"message": "two"})
	if use.Error || !strings.Contains(result, "two") || !strings.Contains(result, "had stopped and was started again") {
		t.Fatalf("after the crash: %+v / %q", use, result)
	}
	if q := h.mgr.Process("everything"); q == nil || q.Pid == p.Pid {
		t.Fatal("the server was not started again")
	}
}

// TestServerThatCannotStart: a command that exits at once is an error for
// the model naming the server, not a failed turn.
func TestServerThatCannotStart(t *testing.T) {
	h := newHarness(t, map[string]mcp.ServerConfig{"broken": {Command: "node", Args: []string{"-e", "console.error('missing API key'); process.exit(3)"}}})
	h.fake.Script(ollamafake.Reply{ToolCalls: []ollamafake.ToolCall{{Name: "broken__x", Arguments: map[string]any{}}}}, ollamafake.Reply{Text: "Done."})
	ans, err := h.runner.AskWith(context.Background(), def("mcp:broken/x"), agent.AskOptions{Ephemeral: true}, "go", nil)
	must(t, err)
	if ans.Answer != "Done." || len(ans.Tools) != 1 || !ans.Tools[0].Error {
		t.Fatalf("answer = %+v", ans)
	}
	if _, err := h.mgr.Tools(context.Background(), "broken"); err == nil || !strings.Contains(err.Error(), "broken") || !strings.Contains(err.Error(), "missing API key") {
		t.Fatalf("Tools error = %v", err)
	}
}

func TestEverythingOverStreamableHTTP(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	must(t, err)
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	srv := exec.Command("node", nodeScript(t, "@modelcontextprotocol/server-everything", "dist/index.js"), "streamableHttp")
	srv.Env = append(os.Environ(), fmt.Sprintf("PORT=%d", port))
	must(t, srv.Start())
	t.Cleanup(func() { _ = srv.Process.Kill(); _ = srv.Wait() })
	deadline := time.Now().Add(60 * time.Second)
	for {
		c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", port))
		if err == nil {
			c.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("server-everything did not start listening")
		}
		time.Sleep(50 * time.Millisecond)
	}
	url := fmt.Sprintf("http://127.0.0.1:%d/mcp", port)
	h := newHarness(t, map[string]mcp.ServerConfig{"remote": {Type: "http", URL: url, Headers: map[string]string{"X-Test": "1"}}})
	use, result := h.ask(def("mcp:remote/get-sum"), "remote__get_sum", map[string]any{"a": 1.5, "b": 2})
	if use.Error || !strings.Contains(result, "3.5") {
		t.Fatalf("get-sum over HTTP: %+v / %q", use, result)
	}
	if h.lastShown().URL != url {
		t.Fatalf("Allow step showed %+v", h.lastShown())
	}
}

func TestParseClaudeDesktopConfig(t *testing.T) {
	c, err := mcp.ParseConfig([]byte(`{"mcpServers": {
		"filesystem": {"command": "npx", "args": ["-y", "@modelcontextprotocol/server-filesystem", "/home/me/Desktop"]},
		"remote": {"type": "http", "url": "https://mcp.example.com/mcp", "headers": {"Authorization": "Bearer x"}},
		"github": {"command": "docker", "args": ["run", "-i", "ghcr.io/github/github-mcp-server"], "env": {"GITHUB_PERSONAL_ACCESS_TOKEN": "t"}}
	}}`))
	must(t, err)
	if len(c.Servers) != 3 || c.Servers["remote"].Describe() != "https://mcp.example.com/mcp" || c.Servers["github"].Env["GITHUB_PERSONAL_ACCESS_TOKEN"] != "t" {
		t.Fatalf("config = %+v", c)
	}
	for _, bad := range []string{`{"mcpServers": {"x": {}}}`, `{"mcpServers": {"x": {"url": "ftp://a"}}}`, `{"mcpServers": {"../x": {"command": "a"}}}`, `[1]`, `{}`} {
		if _, err := mcp.ParseConfig([]byte(bad)); err == nil {
			t.Errorf("%s was accepted", bad)
		}
	}
}
