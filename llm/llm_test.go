package llm_test

import (
	"context"
	"encoding/json"
	"errors"
	"math"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"atoll/internal/ollamafake"
	"atoll/llm"
)

func newClient(t *testing.T, url string) *llm.Client {
	t.Helper()
	c, err := llm.New(url)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func fake(t *testing.T) (*ollamafake.Server, *llm.Client) {
	srv := ollamafake.New(t)
	return srv, newClient(t, srv.URL)
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func TestNewURL(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"", "http://127.0.0.1:11434"},
		{"127.0.0.1:11434", "http://127.0.0.1:11434"},
		{"localhost", "http://localhost:11434"},
		{"http://10.0.0.2:8080/", "http://10.0.0.2:8080"},
		{"https://ollama.example.org", "https://ollama.example.org:443"},
		{"http://[::1]:11434", "http://[::1]:11434"},
	} {
		c, err := llm.New(tc.in)
		if err != nil {
			t.Errorf("New(%q): %v", tc.in, err)
			continue
		}
		if got := c.URL(); got != tc.want {
			t.Errorf("New(%q).URL() = %q, want %q", tc.in, got, tc.want)
		}
	}
	for _, bad := range []string{"ftp://host:1", "http://", "http://a b"} {
		if _, err := llm.New(bad); err == nil {
			t.Errorf("New(%q) accepted", bad)
		}
	}
}

func TestVersion(t *testing.T) {
	_, c := fake(t)
	v, err := c.Version(ctxT(t))
	if err != nil || v != ollamafake.Version {
		t.Fatalf("Version = %q, %v", v, err)
	}
}

func norm(v []float32) float64 {
	var s float64
	for _, x := range v {
		s += float64(x) * float64(x)
	}
	return math.Sqrt(s)
}

func texts(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = "passage number " + strings.Repeat("x", i%7) + string(rune('a'+i%26)) + " " + time.Duration(i).String()
	}
	return out
}

func TestEmbedOneRequestNormalised(t *testing.T) {
	srv, c := fake(t)
	srv.SetEmbedScale(3) // the client must not trust the server to normalise
	in := texts(5)
	vecs, err := c.Embed(ctxT(t), ollamafake.DefaultEmbedModel, in)
	if err != nil {
		t.Fatal(err)
	}
	calls := srv.EmbedCalls()
	if len(calls) != 1 || len(calls[0]) != len(in) {
		t.Fatalf("embed requests = %v, want one request with %d texts", len(calls), len(in))
	}
	for i, v := range vecs {
		if len(v) != 64 {
			t.Fatalf("vector %d has %d dims", i, len(v))
		}
		if n := norm(v); math.Abs(n-1) > 1e-5 {
			t.Errorf("vector %d norm = %v", i, n)
		}
		want := ollamafake.Vector(in[i], 64)
		for j := range v {
			if math.Abs(float64(v[j]-want[j])) > 1e-5 {
				t.Fatalf("vector %d differs from the fake's at %d", i, j)
			}
		}
	}
	if vecs, err := c.Embed(ctxT(t), ollamafake.DefaultEmbedModel, nil); err != nil || vecs != nil || len(srv.EmbedCalls()) != 1 {
		t.Errorf("Embed(nil) = %v, %v; it should not send a request", vecs, err)
	}
}

func TestEmbedBatchedSplitsKeepsOrderBoundsConcurrency(t *testing.T) {
	srv, c := fake(t)
	// Later batches answer faster, so completion order differs from request order.
	srv.SetEmbedDelay(func(in []string) time.Duration {
		return time.Duration(40-len(in[0])%40) * time.Millisecond
	})
	in := texts(100)
	var mu sync.Mutex
	var seen []int
	vecs, err := c.EmbedBatched(ctxT(t), ollamafake.DefaultEmbedModel, in, 16, 3, func(done int) {
		mu.Lock()
		seen = append(seen, done)
		mu.Unlock()
	})
	if err != nil {
		t.Fatal(err)
	}
	calls := srv.EmbedCalls()
	if len(calls) != 7 {
		t.Fatalf("requests = %d, want 7 (100 texts in batches of 16)", len(calls))
	}
	sizes := map[int]int{}
	for _, call := range calls {
		sizes[len(call)]++
	}
	if sizes[16] != 6 || sizes[4] != 1 {
		t.Errorf("batch sizes = %v, want six of 16 and one of 4", sizes)
	}
	if m := srv.MaxConcurrentEmbeds(); m > 3 || m < 2 {
		t.Errorf("max concurrent requests = %d, want 2..3", m)
	}
	for i, v := range vecs {
		want := ollamafake.Vector(in[i], 64)
		if v[0] != want[0] || v[63] != want[63] {
			t.Fatalf("vector %d is not the embedding of text %d: order lost", i, i)
		}
	}
	for i := 1; i < len(seen); i++ {
		if seen[i] <= seen[i-1] {
			t.Errorf("progress went %v", seen)
			break
		}
	}
	if len(seen) != 7 || seen[len(seen)-1] != 100 {
		t.Errorf("progress = %v, want 7 calls ending at 100", seen)
	}
}

func TestEmbedBatchedFailsFast(t *testing.T) {
	srv, c := fake(t)
	_, err := c.EmbedBatched(ctxT(t), "nope", texts(50), 10, 2, nil)
	if !errors.Is(err, llm.ErrModelNotFound) {
		t.Fatalf("err = %v, want ErrModelNotFound", err)
	}
	if n := len(srv.EmbedCalls()); n > 3 {
		t.Errorf("%d requests after the first failure; it should stop early", n)
	}
}

func TestChatStreamsTokens(t *testing.T) {
	srv, c := fake(t)
	srv.Script(ollamafake.Reply{Tokens: []string{"Hel", "lo", ", ", "world"}, PromptTokens: 12})
	var got []string
	res, err := c.Chat(ctxT(t), llm.ChatRequest{
		Model:    ollamafake.DefaultChatModel,
		Messages: []llm.Message{{Role: "system", Content: "Be brief."}, {Role: "user", Content: "Hi"}},
	}, func(tok string) error { got = append(got, tok); return nil })
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(got, "|") != "Hel|lo|, |world" {
		t.Errorf("tokens = %q", got)
	}
	if res.Content != "Hello, world" || res.PromptTokens != 12 || res.EvalTokens != 4 || res.TTFT <= 0 || res.DoneReason != "stop" {
		t.Errorf("result = %+v", res)
	}
	req := srv.Chats()[0]
	if req.Stream != nil && !*req.Stream {
		t.Error("streaming chat sent stream:false")
	}
	if len(req.Messages) != 2 || req.Messages[0].Role != "system" || req.Messages[1].Content != "Hi" {
		t.Errorf("messages sent = %+v", req.Messages)
	}
}

func TestChatNonStreaming(t *testing.T) {
	srv, c := fake(t)
	srv.Script(ollamafake.Reply{Text: "All in one piece"})
	res, err := c.Chat(ctxT(t), llm.ChatRequest{Model: ollamafake.DefaultChatModel, Messages: []llm.Message{{Role: "user", Content: "Hi"}}}, nil)
	if err != nil || res.Content != "All in one piece" {
		t.Fatalf("Chat = %+v, %v", res, err)
	}
	if s := srv.Chats()[0].Stream; s == nil || *s {
		t.Error("onToken nil should send stream:false")
	}
}

func TestChatCancelMidStream(t *testing.T) {
	srv, c := fake(t)
	srv.Script(ollamafake.Reply{Tokens: strings.Split(strings.Repeat("tok ", 200), " "), Delay: 20 * time.Millisecond})
	ctx, cancel := context.WithCancel(ctxT(t))
	var n int
	start := time.Now()
	res, err := c.Chat(ctx, llm.ChatRequest{Model: ollamafake.DefaultChatModel, Messages: []llm.Message{{Role: "user", Content: "go"}}},
		func(string) error {
			n++
			if n == 3 {
				cancel()
			}
			return nil
		})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
	if time.Since(start) > 2*time.Second || n > 4 {
		t.Errorf("took %s and %d tokens after cancel", time.Since(start), n)
	}
	if res.Content == "" {
		t.Error("the partial answer should come back with the error")
	}
	waitFor(t, func() bool { return srv.Cancelled() == 1 }, "the server to see the stream abandoned")
	if llm.Sentence(err) != "Stopped." {
		t.Errorf("Sentence = %q", llm.Sentence(err))
	}
}

func TestChatOnTokenErrorStops(t *testing.T) {
	srv, c := fake(t)
	srv.Script(ollamafake.Reply{Tokens: strings.Split(strings.Repeat("tok ", 200), " "), Delay: 5 * time.Millisecond})
	stop := errors.New("window closed")
	n := 0
	_, err := c.Chat(ctxT(t), llm.ChatRequest{Model: ollamafake.DefaultChatModel, Messages: []llm.Message{{Role: "user", Content: "go"}}},
		func(string) error { n++; return stop })
	if err != stop || n != 1 {
		t.Fatalf("err = %v after %d tokens, want the onToken error itself after 1", err, n)
	}
	waitFor(t, func() bool { return srv.Cancelled() == 1 }, "the server to see the stream abandoned")
}

func waitFor(t *testing.T, cond func() bool, what string) {
	t.Helper()
	deadline := time.Now().Add(3 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestChatToolCalls(t *testing.T) {
	srv, c := fake(t)
	srv.Script(ollamafake.Reply{ToolCalls: []ollamafake.ToolCall{
		{Name: "save_lead", Arguments: map[string]any{"email": "ann@example.org", "name": "Ann"}},
		{Name: "search_docs", Arguments: map[string]any{"query": "refund policy"}},
	}})
	tool := llm.Tool{
		Name:        "save_lead",
		Description: "Save a visitor's contact details",
		Parameters:  json.RawMessage(`{"type":"object","required":["email"],"properties":{"email":{"type":"string","description":"e-mail"},"name":{"type":"string"},"kind":{"type":"string","enum":["a","b"]}}}`),
	}
	for _, stream := range []bool{true, false} {
		var onToken func(string) error
		if stream {
			onToken = func(string) error { return nil }
		}
		res, err := c.Chat(ctxT(t), llm.ChatRequest{
			Model: ollamafake.DefaultChatModel, Tools: []llm.Tool{tool},
			Messages: []llm.Message{
				{Role: "user", Content: "I'm Ann"},
				{Role: "assistant", ToolCalls: []llm.ToolCall{{Name: "search_docs", Arguments: map[string]any{"query": "x"}}}},
				{Role: "tool", ToolName: "search_docs", Content: "nothing"},
			},
		}, onToken)
		if err != nil {
			t.Fatal(err)
		}
		if len(res.ToolCalls) != 2 || res.ToolCalls[0].Name != "save_lead" || res.ToolCalls[0].Arguments["email"] != "ann@example.org" ||
			res.ToolCalls[1].Arguments["query"] != "refund policy" {
			t.Errorf("stream=%v: tool calls = %+v", stream, res.ToolCalls)
		}
		srv.Script(ollamafake.Reply{ToolCalls: []ollamafake.ToolCall{
			{Name: "save_lead", Arguments: map[string]any{"email": "ann@example.org", "name": "Ann"}},
			{Name: "search_docs", Arguments: map[string]any{"query": "refund policy"}},
		}})
	}
	req := srv.Chats()[0]
	var tools []struct {
		Type     string
		Function struct {
			Name       string
			Parameters struct {
				Type       string
				Required   []string
				Properties map[string]struct {
					Type, Description string
					Enum              []string
				}
			}
		}
	}
	if err := json.Unmarshal(req.Tools, &tools); err != nil {
		t.Fatal(err)
	}
	if len(tools) != 1 || tools[0].Type != "function" || tools[0].Function.Name != "save_lead" ||
		tools[0].Function.Parameters.Required[0] != "email" || len(tools[0].Function.Parameters.Properties["kind"].Enum) != 2 {
		t.Errorf("tools sent = %s", req.Tools)
	}
	if tc := req.Messages[1].ToolCalls; len(tc) != 1 || tc[0].Function.Name != "search_docs" {
		t.Errorf("assistant tool call not sent back: %s", req.Raw)
	}
}

func TestChatFormatPassedThrough(t *testing.T) {
	srv, c := fake(t)
	schema := `{"type":"object","properties":{"answer":{"type":"string"},"confidence":{"type":"number"}},"required":["answer"]}`
	srv.Script(ollamafake.Reply{JSON: map[string]any{"answer": "42", "confidence": 0.9}})
	res, err := c.Chat(ctxT(t), llm.ChatRequest{Model: ollamafake.DefaultChatModel, Format: json.RawMessage(schema),
		Messages: []llm.Message{{Role: "user", Content: "?"}}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	var got struct{ Answer string }
	if err := json.Unmarshal([]byte(res.Content), &got); err != nil || got.Answer != "42" {
		t.Errorf("content = %q (%v)", res.Content, err)
	}
	var sent, want any
	json.Unmarshal(srv.Chats()[0].Format, &sent)
	json.Unmarshal([]byte(schema), &want)
	if b1, _ := json.Marshal(sent); string(b1) != mustJSON(want) {
		t.Errorf("format sent = %s", srv.Chats()[0].Format)
	}
}

func mustJSON(v any) string { b, _ := json.Marshal(v); return string(b) }

func TestChatModelMissing(t *testing.T) {
	_, c := fake(t)
	for _, numCtx := range []int{0, 4096} { // via Show (num_ctx computed) and via /api/chat itself
		_, err := c.Chat(ctxT(t), llm.ChatRequest{Model: "qwen9:7b", NumCtx: numCtx, Messages: []llm.Message{{Role: "user", Content: "hi"}}}, func(string) error { return nil })
		if !errors.Is(err, llm.ErrModelNotFound) {
			t.Fatalf("num_ctx %d: err = %v, want ErrModelNotFound", numCtx, err)
		}
		want := "The model \"qwen9:7b\" is not installed — run `ollama pull qwen9:7b` or choose another model."
		if got := llm.Sentence(err); got != want {
			t.Errorf("Sentence = %q", got)
		}
	}
	_, err := c.Embed(ctxT(t), "nomic-nope", []string{"x"})
	if !errors.Is(err, llm.ErrModelNotFound) || !strings.Contains(llm.Sentence(err), "ollama pull nomic-nope") {
		t.Errorf("embed: %v / %s", err, llm.Sentence(err))
	}
	_, err = c.Show(ctxT(t), "gone")
	if !errors.Is(err, llm.ErrModelNotFound) || !strings.Contains(llm.Sentence(err), `"gone"`) {
		t.Errorf("show: %v / %s", err, llm.Sentence(err))
	}
}

func TestServerDown(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close() // nothing listens there now
	c := newClient(t, addr)
	checks := map[string]func() error{
		"version": func() error { _, err := c.Version(ctxT(t)); return err },
		"chat": func() error {
			_, err := c.Chat(ctxT(t), llm.ChatRequest{Model: "m", NumCtx: 2048, Messages: []llm.Message{{Role: "user", Content: "hi"}}}, func(string) error { return nil })
			return err
		},
		"chat+show": func() error {
			_, err := c.Chat(ctxT(t), llm.ChatRequest{Model: "m", Messages: []llm.Message{{Role: "user", Content: "hi"}}}, nil)
			return err
		},
		"embed": func() error { _, err := c.Embed(ctxT(t), "m", []string{"x"}); return err },
		"list":  func() error { _, err := c.List(ctxT(t)); return err },
		"ps":    func() error { _, err := c.Running(ctxT(t)); return err },
		"pull":  func() error { return c.Pull(ctxT(t), "m", nil) },
	}
	want := "Ollama is not reachable at http://" + addr + " — start it with `ollama serve`."
	for name, call := range checks {
		err := call()
		if !errors.Is(err, llm.ErrUnavailable) {
			t.Errorf("%s: err = %v, want ErrUnavailable", name, err)
		}
		if got := llm.Sentence(err); got != want {
			t.Errorf("%s: Sentence = %q", name, got)
		}
	}
	c = newClient(t, "ollama-host.invalid:11434")
	if _, err := c.Version(ctxT(t)); !errors.Is(err, llm.ErrUnavailable) {
		t.Errorf("DNS failure: err = %v, want ErrUnavailable", err)
	}
}

func TestChatStreamCut(t *testing.T) {
	srv, c := fake(t)
	srv.Script(ollamafake.Reply{Tokens: []string{"one ", "two ", "three ", "four"}, CutAfter: 2})
	var got []string
	res, err := c.Chat(ctxT(t), llm.ChatRequest{Model: ollamafake.DefaultChatModel, Messages: []llm.Message{{Role: "user", Content: "count"}}},
		func(tok string) error { got = append(got, tok); return nil })
	if !errors.Is(err, llm.ErrStreamCut) {
		t.Fatalf("err = %v, want ErrStreamCut", err)
	}
	if res.Content != "one two " || len(got) != 2 {
		t.Errorf("partial = %q, tokens %q", res.Content, got)
	}
	if s := llm.Sentence(err); !strings.HasPrefix(s, "The answer stream from fake-chat was cut off") {
		t.Errorf("Sentence = %q", s)
	}
	srv.Script(ollamafake.Reply{Text: "whole answer", CutAfter: 1})
	if _, err := c.Chat(ctxT(t), llm.ChatRequest{Model: ollamafake.DefaultChatModel, Messages: []llm.Message{{Role: "user", Content: "x"}}}, nil); !errors.Is(err, llm.ErrStreamCut) && !errors.Is(err, llm.ErrUnavailable) {
		t.Errorf("non-streaming cut: err = %v", err)
	}
}

func TestChatServerErrorMidStream(t *testing.T) {
	srv, c := fake(t)
	srv.Script(ollamafake.Reply{Status: 500, Error: "llama runner process has terminated: signal: killed"})
	_, err := c.Chat(ctxT(t), llm.ChatRequest{Model: ollamafake.DefaultChatModel, Messages: []llm.Message{{Role: "user", Content: "x"}}}, func(string) error { return nil })
	if err == nil || errors.Is(err, llm.ErrModelNotFound) {
		t.Fatalf("err = %v", err)
	}
	if s := llm.Sentence(err); s != "Ollama reported an error: llama runner process has terminated: signal: killed." {
		t.Errorf("Sentence = %q", s)
	}
	srv.Script(ollamafake.Reply{Tokens: []string{"Partial", " answer"}, Error: "an error was encountered while running the model: unexpected EOF"})
	res, err := c.Chat(ctxT(t), llm.ChatRequest{Model: ollamafake.DefaultChatModel, Messages: []llm.Message{{Role: "user", Content: "x"}}}, func(string) error { return nil })
	if err == nil || res.Content != "Partial answer" || !strings.Contains(llm.Sentence(err), "unexpected EOF") {
		t.Errorf("error line mid-stream: %+v, %v", res, err)
	}
	srv.Script(ollamafake.Reply{Status: 400, Error: `registry.ollama.ai/library/gemma:2b does not support tools`})
	_, err = c.Chat(ctxT(t), llm.ChatRequest{Model: ollamafake.DefaultChatModel, Messages: []llm.Message{{Role: "user", Content: "x"}}}, nil)
	if !errors.Is(err, llm.ErrUnsupported) {
		t.Errorf("err = %v, want ErrUnsupported", err)
	}
}

func TestChatNumCtxAlwaysSent(t *testing.T) {
	srv, c := fake(t)
	srv.AddModel(ollamafake.Model{Name: "small-ctx", ContextLength: 4096, Capabilities: []string{"completion"}})
	srv.AddModel(ollamafake.Model{Name: "param-ctx", ContextLength: 131072, Parameters: "num_ctx 16384\nstop \"<|end|>\"", Capabilities: []string{"completion"}})
	long := strings.Repeat("lorem ipsum dolor sit amet ", 1000) // 27 kB: ~9000 estimated tokens
	temp := 0.2
	for _, tc := range []struct {
		name  string
		req   llm.ChatRequest
		want  int
		extra map[string]float64
	}{
		{"explicit", llm.ChatRequest{Model: ollamafake.DefaultChatModel, NumCtx: 3000}, 3000, nil},
		{"short prompt", llm.ChatRequest{Model: ollamafake.DefaultChatModel}, 2048, nil},
		{"long prompt", llm.ChatRequest{Model: ollamafake.DefaultChatModel, Messages: []llm.Message{{Role: "user", Content: long}}}, 8192, nil},
		{"long prompt, small model", llm.ChatRequest{Model: "small-ctx", Messages: []llm.Message{{Role: "user", Content: long}}}, 4096, nil},
		{"long prompt, Modelfile num_ctx", llm.ChatRequest{Model: "param-ctx", Messages: []llm.Message{{Role: "user", Content: long}}}, 16384, nil},
		{"num_predict counts", llm.ChatRequest{Model: ollamafake.DefaultChatModel, NumPredict: 3000, Temperature: &temp}, 4096, map[string]float64{"num_predict": 3000, "temperature": 0.2}},
	} {
		tc.req.Messages = append(tc.req.Messages, llm.Message{Role: "user", Content: "hi"})
		res, err := c.Chat(ctxT(t), tc.req, nil)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		chats := srv.Chats()
		opts := chats[len(chats)-1].Options
		if got, _ := opts["num_ctx"].(float64); int(got) != tc.want || res.NumCtx != tc.want {
			t.Errorf("%s: num_ctx sent %v, result %d, want %d", tc.name, opts["num_ctx"], res.NumCtx, tc.want)
		}
		for k, v := range tc.extra {
			if opts[k] != v {
				t.Errorf("%s: option %s = %v, want %v", tc.name, k, opts[k], v)
			}
		}
		if tc.extra == nil && (opts["temperature"] != nil || opts["num_predict"] != nil) {
			t.Errorf("%s: unset options sent: %v", tc.name, opts)
		}
	}
}

func TestPromptBudget(t *testing.T) {
	_, c := fake(t)
	if n, err := c.PromptBudget(ctxT(t), ollamafake.DefaultChatModel, 0); err != nil || n != 8192-1024 {
		t.Errorf("PromptBudget = %d, %v", n, err)
	}
	if n, err := c.PromptBudget(ctxT(t), ollamafake.DefaultChatModel, 2000); err != nil || n != 8192-2000 {
		t.Errorf("PromptBudget(2000) = %d, %v", n, err)
	}
	if _, err := c.PromptBudget(ctxT(t), "nope", 0); !errors.Is(err, llm.ErrModelNotFound) {
		t.Errorf("missing model: %v", err)
	}
}

func TestNumCtxFor(t *testing.T) {
	for _, tc := range []struct{ model, prompt, predict, want int }{
		{0, 10, 0, 2048},
		{8192, 1100, 0, 4096},
		{8192, 1024, 0, 2048},
		{8192, 100000, 0, 8192},
		{0, 100000, 0, 131072},
		{1024, 10, 0, 1024},
		{32768, 3000, 2000, 8192},
	} {
		if got := llm.NumCtxFor(tc.model, tc.prompt, tc.predict); got != tc.want {
			t.Errorf("NumCtxFor(%d, %d, %d) = %d, want %d", tc.model, tc.prompt, tc.predict, got, tc.want)
		}
	}
}

func TestShowAndList(t *testing.T) {
	srv, c := fake(t)
	// An older server: no capabilities field, so they are inferred.
	srv.AddModel(ollamafake.Model{Name: "old-tools", Family: "qwen2", ContextLength: 32768, EmbeddingLength: 3584,
		Template: "{{- if .Tools }}<tools>{{ range .Tools }}{{ . }}{{ end }}</tools>{{ end }}"})
	srv.AddModel(ollamafake.Model{Name: "old-embed", Family: "bert", ContextLength: 512, EmbeddingLength: 384, Embedding: true})

	info, err := c.Show(ctxT(t), ollamafake.DefaultChatModel)
	if err != nil {
		t.Fatal(err)
	}
	if info.ContextLength != 8192 || info.Family != "llama" || info.ParameterSize != "8B" || info.Quantization != "Q4_K_M" ||
		!info.Has(llm.CapTools) || !info.Has(llm.CapCompletion) || info.Digest == "" || info.Size == 0 || info.EmbeddingLength != 64 {
		t.Errorf("Show = %+v", info)
	}
	for name, want := range map[string][]string{
		"old-tools:latest":                       {"completion", "tools"},
		"old-embed":                              {"embedding"},
		ollamafake.DefaultEmbedModel + ":latest": {"embedding"},
	} {
		info, err := c.Show(ctxT(t), name)
		if err != nil {
			t.Fatal(err)
		}
		if strings.Join(info.Capabilities, ",") != strings.Join(want, ",") {
			t.Errorf("%s: capabilities %v, want %v", name, info.Capabilities, want)
		}
	}

	list, err := c.List(ctxT(t))
	if err != nil {
		t.Fatal(err)
	}
	byName := map[string]llm.ModelInfo{}
	for _, m := range list {
		byName[m.Name] = m
	}
	if len(list) != 4 {
		t.Errorf("List = %d models, want 4", len(list))
	}
	if m := byName["old-tools:latest"]; m.ContextLength != 32768 || !m.Has(llm.CapTools) || m.Digest == "" {
		t.Errorf("listed old-tools = %+v", m)
	}
	if m := byName["old-embed:latest"]; m.EmbeddingLength != 384 || !m.Has(llm.CapEmbedding) || m.Has(llm.CapCompletion) {
		t.Errorf("listed old-embed = %+v", m)
	}
}

func TestRunning(t *testing.T) {
	srv, c := fake(t)
	exp := time.Now().Add(time.Minute).Truncate(time.Second)
	srv.SetRunning(ollamafake.Running{Name: "a:latest", Size: 100, SizeVRAM: 40, ExpiresAt: exp})
	rs, err := c.Running(ctxT(t))
	if err != nil || len(rs) != 1 || rs[0].Name != "a:latest" || rs[0].Size != 100 || rs[0].SizeVRAM != 40 || !rs[0].ExpiresAt.Equal(exp) {
		t.Fatalf("Running = %+v, %v", rs, err)
	}
}

func TestPull(t *testing.T) {
	srv, c := fake(t)
	err := c.Pull(ctxT(t), "llama3.2", nil)
	if !errors.Is(err, llm.ErrPullFailed) {
		t.Fatalf("offline pull: err = %v, want ErrPullFailed", err)
	}
	s := llm.Sentence(err)
	for _, want := range []string{`"llama3.2"`, "registry.ollama.ai", "cannot be reached", "FROM ./file.gguf", "ollama create llama3.2 -f Modelfile"} {
		if !strings.Contains(s, want) {
			t.Errorf("Sentence %q lacks %q", s, want)
		}
	}

	srv.Pullable(ollamafake.Model{Name: "new-model", ContextLength: 2048, Capabilities: []string{"completion"}})
	var progress []llm.PullProgress
	if err := c.Pull(ctxT(t), "new-model", func(p llm.PullProgress) { progress = append(progress, p) }); err != nil {
		t.Fatal(err)
	}
	if len(progress) < 3 || progress[len(progress)-1].Status != "success" || progress[len(progress)-2].Completed != progress[len(progress)-2].Total {
		t.Errorf("progress = %+v", progress)
	}
	if _, err := c.Show(ctxT(t), "new-model"); err != nil {
		t.Errorf("pulled model not shown: %v", err)
	}
}

func TestSentenceOtherErrors(t *testing.T) {
	if got := llm.Sentence(nil); got != "" {
		t.Errorf("Sentence(nil) = %q", got)
	}
	if got := llm.Sentence(errors.New("plain")); got != "plain" {
		t.Errorf("Sentence(plain) = %q", got)
	}
	if got := llm.Sentence(context.DeadlineExceeded); !strings.Contains(got, "too long") {
		t.Errorf("Sentence(deadline) = %q", got)
	}
}
