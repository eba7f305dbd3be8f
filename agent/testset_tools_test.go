package agent

import (
	"context"
	"encoding/json"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"atoll/internal/ollamafake"
)

// echoMCP is one MCP server, "everything", with an echo tool.
type echoMCP struct{ calls int }

func (e *echoMCP) Tool(_ context.Context, server, name string) (MCPTool, error) {
	return MCPTool{Server: server, Name: name, Description: "Echoes back the input", Schema: json.RawMessage(`{"type":"object","properties":{"message":{"type":"string"}}}`)}, nil
}

func (e *echoMCP) Call(_ context.Context, _, _ string, args map[string]any) (string, error) {
	e.calls++
	return "Echo: " + args["message"].(string), nil
}

func (e *echoMCP) Describe(string) string { return "node everything stdio" }

// TestTestSetChecksToolCalls: a question can require that a tool was
// called ("tools") or was not ("no_tools"), named as the agent names it;
// the run records the calls made.
func TestTestSetChecksToolCalls(t *testing.T) {
	srv, c := fakeClient(t)
	data := t.TempDir()
	r := NewRunner(c, queryRetriever{}, NewConversations(filepath.Join(data, "conversations")))
	mcp := &echoMCP{}
	r.MCP = mcp
	def := Definition{Name: "echoer", Model: ollamafake.DefaultChatModel, Tools: []string{"mcp:everything/echo", ToolCalculate}}
	set, err := ParseTestSet(strings.NewReader(`{"q": "Echo hello", "tools": ["mcp:everything/echo"], "no_tools": ["calculate"]}
{"q": "What is 2+2?", "tools": ["mcp:everything/echo"]}
{"q": "Echo bye", "no_tools": ["mcp:everything/echo"]}
`))
	if err != nil {
		t.Fatal(err)
	}
	srv.OnChat(func(req ollamafake.ChatRequest) ollamafake.Reply {
		last := req.Messages[len(req.Messages)-1]
		if last.Role == "tool" {
			return ollamafake.Reply{Text: "Done: " + last.Content}
		}
		switch {
		case strings.Contains(last.Content, "Echo"):
			word := strings.Fields(last.Content)[1]
			return ollamafake.Reply{ToolCalls: []ollamafake.ToolCall{call(mcpFuncName("everything", "echo"), map[string]any{"message": word})}}
		default:
			return ollamafake.Reply{ToolCalls: []ollamafake.ToolCall{call(ToolCalculate, map[string]any{"expression": "2+2"})}}
		}
	})
	run, err := NewTestRuns(filepath.Join(data, "agents")).Run(context.Background(), r, def, set, nil)
	if err != nil {
		t.Fatal(err)
	}
	if mcp.calls != 2 {
		t.Fatalf("the echo tool ran %d times, want 2", mcp.calls)
	}
	r0, r1, r2 := run.Results[0], run.Results[1], run.Results[2]
	if !slices.Equal(r0.Called, []string{"mcp:everything/echo"}) || r0.AnswerOK != "pass" || !strings.Contains(r0.Answer, "Echo: hello") {
		t.Fatalf("echo asked for and made: %+v", r0)
	}
	if !slices.Equal(r1.Called, []string{ToolCalculate}) || r1.AnswerOK != "fail" || !slices.Equal(r1.ToolsMissing, []string{"mcp:everything/echo"}) {
		t.Fatalf("echo asked for, not made: %+v", r1)
	}
	if r2.AnswerOK != "fail" || !slices.Equal(r2.ToolsForbidden, []string{"mcp:everything/echo"}) {
		t.Fatalf("echo forbidden, made: %+v", r2)
	}
	if run.AnswerTotal != 3 || run.AnswerPassed != 1 {
		t.Fatalf("run: %d/%d", run.AnswerPassed, run.AnswerTotal)
	}
}
