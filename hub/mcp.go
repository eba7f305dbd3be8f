package hub

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"

	sdk "github.com/modelcontextprotocol/go-sdk/mcp"

	"atoll/llm"
	"atoll/mcp"
)

// Each published agent is an MCP server at /mcp/{agent} (Streamable HTTP),
// offering the same one thing its OpenAI-compatible API offers: ask a
// question, get the answer with its citations. Documents are not offered
// as resources: a publisher shares answers, not files. The hub runs no MCP
// server of its own: an agent's mcp: tools are simply absent here.

// maxMCPQuestion matches the chat API's bound on a question.
const maxMCPQuestion = 4000

type mcpServerKey struct{}

// mcpServers keeps each agent's MCP server for its current version:
// building one costs about 0.2 ms and 100 KB (BenchmarkAgentMCPServer),
// and a client's question takes three requests. At most one entry per
// published agent name.
type mcpServers struct {
	mu sync.Mutex
	m  map[string]mcpServerEntry
}

type mcpServerEntry struct {
	version int
	bundle  string
	srv     *sdk.Server
}

// mcpKeyKey carries the API key id of an /mcp request to its ask call,
// for usage per key.
type mcpKeyKey struct{}

// mcpHandler serves /mcp/{agent}. The SDK's handler runs stateless: no
// session outlives its request, so a client cannot make the hub hold state
// by opening sessions, and every request passes the rate limit and the
// access check like any API request.
func (h *Hub) mcpHandler() http.Handler {
	sdkHandler := sdk.NewStreamableHTTPHandler(func(r *http.Request) *sdk.Server {
		s, _ := r.Context().Value(mcpServerKey{}).(*sdk.Server)
		return s
	}, &sdk.StreamableHTTPOptions{
		Stateless:           true,
		MaxRequestBodyBytes: maxChatBody,
		// The hub is meant to be reached by name, often through a proxy on
		// this machine, so a loopback connection with a public Host is the
		// normal case. The endpoint carries no cookies or credentials of
		// the visitor's, so DNS rebinding gains nothing over calling it.
		DisableLocalhostProtection:   true,
		PropagateRequestCancellation: true,
	})
	cache := &mcpServers{m: map[string]mcpServerEntry{}}
	return h.publicAPI(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mcpCORS(w)
		if r.Method == http.MethodOptions {
			w.WriteHeader(http.StatusNoContent)
			return
		}
		name := r.PathValue("agent")
		sv, err := h.cache.agent(r.Context(), name)
		cache.mu.Lock()
		e, ok := cache.m[name]
		if err != nil {
			delete(cache.m, name) // unpublished
		} else if !ok || e.version != sv.ver.Number || e.bundle != sv.ver.Bundle {
			e = mcpServerEntry{sv.ver.Number, sv.ver.Bundle, h.agentMCPServer(sv)}
			cache.m[name] = e
		}
		cache.mu.Unlock()
		if err != nil {
			writeErr(w, http.StatusNotFound, fmt.Sprintf("no published agent is called %q; GET /api/agents lists them", name))
			return
		}
		keyID, ok := h.checkAccess(w, r, sv)
		if !ok {
			return
		}
		release, ok := h.checkQuota(w, r, sv.agent.Workspace, time.Now())
		if !ok {
			return
		}
		defer release()
		srv := e.srv
		ctx := context.WithValue(r.Context(), mcpServerKey{}, srv)
		ctx = context.WithValue(ctx, mcpKeyKey{}, keyID)
		r = r.WithContext(ctx)
		sdkHandler.ServeHTTP(w, r)
	}))
}

// publicAPI is the access rule shared by the agents' public APIs: today
// they are open (rate-limited per client by logged). An API key check
// belongs here, once, for every route wrapped with it.
func (h *Hub) publicAPI(next http.Handler) http.Handler {
	return next
}

func mcpCORS(w http.ResponseWriter) {
	w.Header().Set("Access-Control-Allow-Origin", "*")
	w.Header().Set("Access-Control-Allow-Headers", "Content-Type, Authorization, Accept, Mcp-Session-Id, Mcp-Protocol-Version, Last-Event-ID")
	w.Header().Set("Access-Control-Expose-Headers", "Mcp-Session-Id, Mcp-Protocol-Version")
	w.Header().Set("Access-Control-Allow-Methods", "POST, OPTIONS")
}

// agentMCPServer serves one version of an agent: a republished or
// rolled-back agent gets a new one (a new version) on its next request.
func (h *Hub) agentMCPServer(sv served) *sdk.Server {
	def := sv.def
	srv := sdk.NewServer(&sdk.Implementation{Name: "atoll-hub", Title: def.Name, Version: fmt.Sprint(def.Version)}, &sdk.ServerOptions{
		Instructions: fmt.Sprintf("Ask the agent %q with the ask tool; it answers from its documents with numbered citations.", def.Name),
	})
	sdk.AddTool(srv, &sdk.Tool{
		Name:        "ask",
		Description: strings.TrimSpace(fmt.Sprintf("Ask the agent %q a question; it answers from its documents with numbered citations. %s", def.Name, def.Description)),
	}, func(ctx context.Context, _ *sdk.CallToolRequest, in mcp.AskInput) (*sdk.CallToolResult, mcp.AskOutput, error) {
		q := strings.TrimSpace(in.Question)
		if q == "" {
			return nil, mcp.AskOutput{}, fmt.Errorf("the question is empty")
		}
		if len([]rune(q)) > maxMCPQuestion {
			return nil, mcp.AskOutput{}, fmt.Errorf("the question is longer than %d characters", maxMCPQuestion)
		}
		// As a chat-completions request without a conversation: a new
		// conversation, kept for the hub's retention period.
		keyID, _ := ctx.Value(mcpKeyKey{}).(string)
		ans, err := h.askOnce(ctx, sv, keyID, q)
		if err != nil {
			return nil, mcp.AskOutput{}, fmt.Errorf("the agent could not answer: %s", llm.Sentence(err))
		}
		out := mcp.AskOutput{Answer: ans.Answer, Citations: []mcp.Citation{}, NotCovered: ans.NotCovered}
		var b strings.Builder
		b.WriteString(ans.Answer)
		for _, c := range ans.Citations {
			if !c.Used {
				continue
			}
			out.Citations = append(out.Citations, mcp.Citation{N: c.N, File: c.Source, Page: c.Page, Text: c.Text})
			fmt.Fprintf(&b, "\n[%d] %s", c.N, c.Source)
			if c.Page > 0 {
				fmt.Fprintf(&b, ", page %d", c.Page)
			}
		}
		return &sdk.CallToolResult{Content: []sdk.Content{&sdk.TextContent{Text: b.String()}}}, out, nil
	})
	return srv
}
