package hub

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	sdk "github.com/modelcontextprotocol/go-sdk/mcp"

	"atoll/agent"
	"atoll/internal/ollamafake"
	"atoll/mcp"
)

func mcpConnect(t *testing.T, url string) (*sdk.ClientSession, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c := sdk.NewClient(&sdk.Implementation{Name: "test", Version: "1"}, nil)
	return c.Connect(ctx, &sdk.StreamableClientTransport{Endpoint: url, MaxRetries: 1, DisableStandaloneSSE: true}, nil)
}

// TestAgentOverMCP: the Go SDK's own client reaches a published agent at
// /mcp/{agent}, finds its one tool and gets an answer with citations.
func TestAgentOverMCP(t *testing.T) {
	th := newTestHub(t, 0, nil)
	sess, err := mcpConnect(t, th.srv.URL+"/mcp/baker")
	if err != nil {
		t.Fatal(err)
	}
	defer sess.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	tools, err := sess.ListTools(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(tools.Tools) != 1 || tools.Tools[0].Name != "ask" || !strings.Contains(tools.Tools[0].Description, `"baker"`) {
		t.Fatalf("tools: %+v", tools.Tools)
	}
	if res, err := sess.ListResources(ctx, nil); err == nil && len(res.Resources) > 0 {
		t.Fatalf("the hub must not hand out documents: %+v", res.Resources)
	}
	th.fake.Script(ollamafake.Reply{Text: "Birthday cakes need 48 hours notice [1]."})
	res, err := sess.CallTool(ctx, &sdk.CallToolParams{Name: "ask", Arguments: map[string]any{"question": "How much notice do birthday cakes need?"}})
	if err != nil {
		t.Fatal(err)
	}
	if res.IsError {
		t.Fatalf("ask failed: %+v", res.Content)
	}
	text := res.Content[0].(*sdk.TextContent).Text
	if !strings.Contains(text, "48 hours notice [1]") || !strings.Contains(text, "[1] docs/faq.md") {
		t.Fatalf("answer text: %q", text)
	}
	var out mcp.AskOutput
	b, _ := json.Marshal(res.StructuredContent)
	if err := json.Unmarshal(b, &out); err != nil || len(out.Citations) != 1 || out.Citations[0].File != "docs/faq.md" || !strings.Contains(out.Citations[0].Text, "48 hours") {
		t.Fatalf("structured answer: %s (%v)", b, err)
	}
	// The question reached the model like a chat-completions question.
	chats := th.fake.Chats()
	if last := chats[len(chats)-1].Messages; !strings.Contains(last[len(last)-1].Content, "How much notice") {
		t.Fatalf("the model got %+v", last)
	}

	empty, err := sess.CallTool(ctx, &sdk.CallToolParams{Name: "ask", Arguments: map[string]any{"question": strings.Repeat("x", 4001)}})
	if err != nil || !empty.IsError || !strings.Contains(empty.Content[0].(*sdk.TextContent).Text, "longer than 4000") {
		t.Fatalf("a long question: %+v %v", empty, err)
	}
}

// TestMCPServesTheCurrentVersion: a republished agent is served as its new
// version at once, and an unpublished one is gone.
func TestMCPServesTheCurrentVersion(t *testing.T) {
	th := newTestHub(t, 0, nil)
	describe := func() string {
		sess, err := mcpConnect(t, th.srv.URL+"/mcp/baker")
		if err != nil {
			return "error: " + err.Error()
		}
		defer sess.Close()
		tools, err := sess.ListTools(context.Background(), nil)
		if err != nil || len(tools.Tools) != 1 {
			t.Fatalf("%+v %v", tools, err)
		}
		return tools.Tools[0].Description
	}
	if d := describe(); strings.Contains(d, "pastries") {
		t.Fatalf("version 1: %q", d)
	}
	if code, body := th.do(t, "POST", "/api/publish", bundleOf(t, agent.Definition{Name: "baker", Model: "tiny", Description: "Now with pastries."})); code != 200 {
		t.Fatalf("version 2: %d %s", code, body)
	}
	if d := describe(); !strings.Contains(d, "Now with pastries.") {
		t.Fatalf("version 2: %q", d)
	}
	if code, body := th.do(t, "DELETE", "/api/agents/baker", nil); code != 200 {
		t.Fatalf("unpublish: %d %s", code, body)
	}
	if d := describe(); !strings.HasPrefix(d, "error:") {
		t.Fatalf("unpublished: %q", d)
	}
}

func TestMCPUnknownAgent(t *testing.T) {
	th := newTestHub(t, 0, nil)
	if _, err := mcpConnect(t, th.srv.URL+"/mcp/nobody"); err == nil {
		t.Fatal("connected to an agent that is not published")
	}
	res := post(t, th.srv.URL+"/mcp/nobody", initialize)
	defer res.Body.Close()
	var body struct{ Error struct{ Message string } }
	json.NewDecoder(res.Body).Decode(&body)
	if res.StatusCode != 404 || !strings.Contains(body.Error.Message, `no published agent is called "nobody"`) || !res.Close {
		t.Fatalf("%d %+v %v", res.StatusCode, body, res.Header)
	}
}

const initialize = `{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"raw","version":"1"}}}`

func rawMCP(t *testing.T, url, host, body string) *http.Response {
	t.Helper()
	req, _ := http.NewRequest("POST", url, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json, text/event-stream")
	if host != "" {
		req.Host = host
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

// TestMCPBehindAProxy: a proxy on the same machine passes the public host
// name; the SDK's DNS-rebinding guard would refuse every such request.
func TestMCPBehindAProxy(t *testing.T) {
	th := newTestHub(t, 0, nil)
	res := rawMCP(t, th.srv.URL+"/mcp/baker", "hub.example.com", initialize)
	res.Body.Close()
	if res.StatusCode != 200 {
		t.Fatalf("initialize with Host hub.example.com over loopback: %d", res.StatusCode)
	}
}

// TestMCPRateLimitedAndBounded: the same per-client limit as the chat API
// (decided on headers, the connection closed), and the same body bound.
func TestMCPRateLimitedAndBounded(t *testing.T) {
	th := newTestHub(t, 1, nil) // a burst of 10, then one a minute
	codes := map[int]int{}
	for range 12 {
		res := rawMCP(t, th.srv.URL+"/mcp/baker", "", initialize)
		res.Body.Close()
		codes[res.StatusCode]++
		if res.StatusCode == 429 && !res.Close {
			t.Fatal("a refused request must close its connection")
		}
	}
	if codes[200] != 10 || codes[429] != 2 {
		t.Fatalf("burst of 10 then 429: %v", codes)
	}

	big := newTestHub(t, 0, nil)
	res := rawMCP(t, big.srv.URL+"/mcp/baker", "", `{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"pad":"`+strings.Repeat("x", maxChatBody)+`"}}`)
	res.Body.Close()
	if res.StatusCode != http.StatusRequestEntityTooLarge {
		t.Fatalf("a body over %d KB: %d", maxChatBody>>10, res.StatusCode)
	}
}

// BenchmarkAgentMCPServer is the cost of building an agent's MCP server,
// which the hub does on every /mcp request.
func BenchmarkAgentMCPServer(b *testing.B) {
	th := newTestHub(b, 0, nil)
	sv, err := th.h.cache.agent(context.Background(), "baker")
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		th.h.agentMCPServer(sv)
	}
}

// BenchmarkMCPAsk is one question from a new MCP client: connect
// (initialize and its notification) and call ask, the model a scripted fake.
func BenchmarkMCPAsk(b *testing.B) {
	th := newTestHub(b, 0, nil)
	th.fake.OnChat(func(ollamafake.ChatRequest) ollamafake.Reply { return ollamafake.Reply{Text: "48 hours [1]."} })
	ctx := context.Background()
	for b.Loop() {
		c := sdk.NewClient(&sdk.Implementation{Name: "bench", Version: "1"}, nil)
		sess, err := c.Connect(ctx, &sdk.StreamableClientTransport{Endpoint: th.srv.URL + "/mcp/baker", DisableStandaloneSSE: true}, nil)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := sess.CallTool(ctx, &sdk.CallToolParams{Name: "ask", Arguments: map[string]any{"question": "Notice for cakes?"}}); err != nil {
			b.Fatal(err)
		}
		sess.Close()
	}
}
