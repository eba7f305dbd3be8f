package hub

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	sdk "github.com/modelcontextprotocol/go-sdk/mcp"

	"atoll/internal/ollamafake"
	"atoll/llm"
)

// TestBusyModelsAre429: when every model server is busy, a streamed
// question gets 429 with Retry-After and a sentence before any stream
// starts (before, the stream began and carried the error as an event, with
// status 200: nothing a client or balancer could act on).
func TestBusyModelsAre429(t *testing.T) {
	fake := ollamafake.New(t)
	pool, err := llm.NewPool(llm.PoolConfig{Backends: []llm.BackendSpec{{Kind: "ollama", URL: fake.URL}}, MaxConcurrent: 1, MaxQueue: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	dir := t.TempDir()
	legacyFolder(t, dir, ollamafake.DefaultChatModel)
	h, err := New(Config{Dir: dir, Model: pool, Embedder: pool})
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	r := &replica{h: h, fake: fake}
	r.srv = httptestServer(t, h)
	release := make(chan struct{})
	fake.OnChat(func(ollamafake.ChatRequest) ollamafake.Reply {
		<-release
		return ollamafake.Reply{Text: "48 hours."}
	})
	first := make(chan int, 1)
	go func() {
		code, _ := r.call(t, "POST", "/v1/chat/completions", "", chatBody("baker", "", "How much notice do birthday cakes need?", true))
		first <- code
	}()
	waitFor(t, 20*time.Second, func() bool { return len(fake.Chats()) > 0 })
	res, err := http.Post(r.srv.URL+"/v1/chat/completions", "application/json", strings.NewReader(string(chatBody("baker", "", "How much notice do birthday cakes need?", true))))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(res.Body)
	res.Body.Close()
	close(release)
	if res.StatusCode != 429 || res.Header.Get("Retry-After") == "" || !strings.Contains(string(b), "busy") || strings.Contains(string(b), "data:") {
		t.Fatalf("a question while the only model server is busy: %d %q %s", res.StatusCode, res.Header.Get("Retry-After"), b)
	}
	if c := <-first; c != 200 {
		t.Fatalf("the first question: %d", c)
	}
}

// bearer adds a credential to every request of an MCP client.
type bearer struct {
	tok  string
	next http.RoundTripper
}

func (b bearer) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set("Authorization", "Bearer "+b.tok)
	return b.next.RoundTrip(r)
}

// TestMCPKeyRequired: a key-required agent over MCP needs one of its keys,
// and its answers count as that key's usage.
func TestMCPKeyRequired(t *testing.T) {
	th := newTestHub(t, 0, nil)
	r := &replica{h: th.h, srv: th.srv, fake: th.fake}
	if code, body := r.call(t, "PUT", "/api/agents/baker/access", th.tok, []byte(`{"access":"key"}`)); code != 200 {
		t.Fatalf("access: %d %s", code, body)
	}
	var k struct{ ID, Key string }
	_, body := r.call(t, "POST", "/api/agents/baker/keys", th.tok, []byte(`{"name":"ide"}`))
	json.Unmarshal([]byte(body), &k)
	if _, err := mcpConnect(t, th.srv.URL+"/mcp/baker"); err == nil {
		t.Fatal("connected without a key")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c := sdk.NewClient(&sdk.Implementation{Name: "test", Version: "1"}, nil)
	sess, err := c.Connect(ctx, &sdk.StreamableClientTransport{Endpoint: th.srv.URL + "/mcp/baker", MaxRetries: 1, DisableStandaloneSSE: true,
		HTTPClient: &http.Client{Transport: bearer{k.Key, http.DefaultTransport}}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer sess.Close()
	th.fake.Script(ollamafake.Reply{Text: "48 hours [1]."})
	res, err := sess.CallTool(ctx, &sdk.CallToolParams{Name: "ask", Arguments: map[string]any{"question": "How much notice do birthday cakes need?"}})
	if err != nil || res.IsError {
		t.Fatalf("ask with the key: %+v %v", res, err)
	}
	_, body = r.call(t, "GET", "/api/usage", th.tok, nil)
	if !strings.Contains(body, `"key":"`+k.ID+`"`) {
		t.Fatalf("the key's usage: %s", body)
	}
}

func httptestServer(t *testing.T, h *Hub) *httptest.Server {
	srv := httptest.NewServer(h.Handler())
	t.Cleanup(srv.Close)
	return srv
}
