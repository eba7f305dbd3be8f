package llm_test

// Integration tests against a real Ollama server (internal/ollamatest): the
// tiny generated model talks gibberish, but the protocol, streaming, errors
// and timing are Ollama's own. They run in the normal `go test`; the server
// starts on the first test that needs it (~0.2 s once the binary is built).

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"atoll/internal/ollamatest"
	"atoll/llm"
)

func TestMain(m *testing.M) { os.Exit(ollamatest.RunMain(m)) }

func realClient(t testing.TB) (*ollamatest.Server, *llm.Client) {
	t.Helper()
	srv := ollamatest.Shared(t)
	c, err := llm.New(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	return srv, c
}

func realCtx(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	t.Cleanup(cancel)
	return ctx
}

func TestRealVersion(t *testing.T) {
	_, c := realClient(t)
	v, err := c.Version(realCtx(t))
	// A `go install` build does not stamp its version: it reports 0.0.0.
	if err != nil || v == "" {
		t.Fatalf("Version = %q, %v", v, err)
	}
}

func TestRealListShow(t *testing.T) {
	srv, c := realClient(t)
	list, err := c.List(realCtx(t))
	if err != nil {
		t.Fatal(err)
	}
	byName := map[string]llm.ModelInfo{}
	for _, m := range list {
		byName[m.Name] = m
	}
	chat, tools := byName[srv.ChatModel+":latest"], byName[srv.ToolsModel+":latest"]
	if chat.ContextLength != ollamatest.ContextLength || !chat.Has(llm.CapCompletion) || chat.Has(llm.CapTools) || chat.Digest == "" || chat.Size == 0 {
		t.Errorf("listed %s = %+v", srv.ChatModel, chat)
	}
	if !tools.Has(llm.CapTools) {
		t.Errorf("listed %s = %+v, want the tools capability", srv.ToolsModel, tools)
	}

	info, err := c.Show(realCtx(t), srv.ChatModel)
	if err != nil {
		t.Fatal(err)
	}
	if info.ContextLength != ollamatest.ContextLength || info.EmbeddingLength != ollamatest.EmbeddingLength || info.Family != "llama" || info.Digest != chat.Digest {
		t.Errorf("Show = %+v", info)
	}
}

func cosine(a, b []float32) float64 {
	var dot, na, nb float64
	for i := range a {
		dot += float64(a[i]) * float64(b[i])
		na += float64(a[i]) * float64(a[i])
		nb += float64(b[i]) * float64(b[i])
	}
	return dot / math.Sqrt(na*nb)
}

func TestRealEmbedBatchedMatchesOneByOne(t *testing.T) {
	srv, c := realClient(t)
	in := benchTexts(24)
	batched, err := c.EmbedBatched(realCtx(t), srv.EmbedModel, in, 8, 2, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i, text := range in {
		one, err := c.Embed(realCtx(t), srv.EmbedModel, []string{text})
		if err != nil {
			t.Fatal(err)
		}
		if len(one[0]) != ollamatest.EmbeddingLength || len(batched[i]) != len(one[0]) {
			t.Fatalf("text %d: dims %d and %d", i, len(batched[i]), len(one[0]))
		}
		if cos := cosine(batched[i], one[0]); cos < 0.9999 {
			t.Errorf("text %d: batched and single embeddings differ (cosine %.6f)", i, cos)
		}
	}
	if cos := cosine(batched[0], batched[1]); cos > 0.9999 {
		t.Errorf("different texts gave the same vector (cosine %.6f)", cos)
	}
}

func TestRealChatStreams(t *testing.T) {
	srv, c := realClient(t)
	var events int
	zero := 0.0 // greedy, so the gibberish is the same on every run
	res, err := c.Chat(realCtx(t), llm.ChatRequest{
		Model:       srv.ChatModel,
		Temperature: &zero,
		Messages:    []llm.Message{{Role: "user", Content: "hello world"}}, // 14 token events under greedy decoding
	}, func(string) error { events++; return nil })
	if err != nil {
		t.Fatal(err)
	}
	if events < 2 {
		t.Errorf("%d token events, want more than one", events)
	}
	if res.PromptTokens == 0 || res.EvalTokens == 0 || res.EvalTokens > 24 || res.NumCtx != 2048 || res.TTFT <= 0 {
		t.Errorf("result = %+v", res)
	}
	t.Logf("%d events, %d prompt / %d answer tokens, TTFT %s", events, res.PromptTokens, res.EvalTokens, res.TTFT)
}

func TestRealChatCancelMidStream(t *testing.T) {
	srv, c := realClient(t)
	ctx, cancel := context.WithCancel(realCtx(t))
	defer cancel()
	var events int
	var cancelledAt time.Time
	zero := 0.0
	_, err := c.Chat(ctx, llm.ChatRequest{
		Model:       srv.ChatModel,
		Temperature: &zero,
		NumPredict:  4000, // far longer than the test waits
		Messages:    []llm.Message{{Role: "user", Content: "the answer of the document"}},
	}, func(string) error {
		events++
		if events == 3 {
			cancelledAt = time.Now()
			cancel()
		}
		return nil
	})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v after %d events, want context.Canceled (the model may have stopped on its own)", err, events)
	}
	if d := time.Since(cancelledAt); d > time.Second {
		t.Errorf("Chat returned %s after cancel", d)
	}
	// The server must still answer afterwards.
	if _, err := c.Chat(realCtx(t), llm.ChatRequest{Model: srv.ChatModel, Messages: []llm.Message{{Role: "user", Content: "again"}}}, nil); err != nil {
		t.Errorf("chat after a cancel: %v", err)
	}
}

func TestRealToolsCapability(t *testing.T) {
	srv, c := realClient(t)
	tools := []llm.Tool{{Name: "search_docs", Description: "Search the knowledge base",
		Parameters: json.RawMessage(`{"type":"object","required":["query"],"properties":{"query":{"type":"string"}}}`)}}
	msgs := []llm.Message{{Role: "user", Content: "find the refund policy"}}
	_, err := c.Chat(realCtx(t), llm.ChatRequest{Model: srv.ChatModel, Tools: tools, Messages: msgs}, nil)
	if !errors.Is(err, llm.ErrUnsupported) {
		t.Errorf("tools to a model without .Tools in its template: err = %v, want ErrUnsupported", err)
	}
	t.Logf("no tools: %s", llm.Sentence(err))
	// The tiny model's answer is noise, so no tool call is expected; the
	// request must simply be accepted.
	if _, err := c.Chat(realCtx(t), llm.ChatRequest{Model: srv.ToolsModel, Tools: tools, Messages: msgs}, func(string) error { return nil }); err != nil {
		t.Errorf("tools to %s: %v", srv.ToolsModel, err)
	}
}

func TestRealMissingModel(t *testing.T) {
	_, c := realClient(t)
	_, err := c.Chat(realCtx(t), llm.ChatRequest{Model: "absent-model", Messages: []llm.Message{{Role: "user", Content: "hi"}}}, func(string) error { return nil })
	if !errors.Is(err, llm.ErrModelNotFound) || !strings.Contains(llm.Sentence(err), "ollama pull absent-model") {
		t.Errorf("chat: %v / %s", err, llm.Sentence(err))
	}
	_, err = c.Chat(realCtx(t), llm.ChatRequest{Model: "absent-model", NumCtx: 2048, Messages: []llm.Message{{Role: "user", Content: "hi"}}}, func(string) error { return nil })
	if !errors.Is(err, llm.ErrModelNotFound) {
		t.Errorf("chat straight to /api/chat: %v", err)
	}
	if _, err := c.Embed(realCtx(t), "absent-model", []string{"x"}); !errors.Is(err, llm.ErrModelNotFound) {
		t.Errorf("embed: %v", err)
	}
}

func TestRealPullFailsClearly(t *testing.T) {
	_, c := realClient(t)
	// A name no registry has, so a machine with network does not download
	// anything either: offline it is ErrPullFailed, online ErrModelNotFound.
	const name = "atoll-test/no-such-model-7f3a"
	err := c.Pull(realCtx(t), name, nil)
	if !errors.Is(err, llm.ErrPullFailed) && !errors.Is(err, llm.ErrModelNotFound) {
		t.Fatalf("err = %v", err)
	}
	s := llm.Sentence(err)
	if !strings.Contains(s, "FROM ./file.gguf") || !strings.Contains(s, "ollama create "+name+" -f Modelfile") {
		t.Errorf("Sentence = %q", s)
	}
	t.Logf("pull: %s", s)
}

func TestRealRunningAfterChat(t *testing.T) {
	srv, c := realClient(t)
	if _, err := c.Chat(realCtx(t), llm.ChatRequest{Model: srv.ChatModel, Messages: []llm.Message{{Role: "user", Content: "hi"}}}, nil); err != nil {
		t.Fatal(err)
	}
	rs, err := c.Running(realCtx(t))
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range rs {
		if r.Name == srv.ChatModel+":latest" {
			if r.Size == 0 || r.ExpiresAt.Before(time.Now()) {
				t.Errorf("running = %+v", r)
			}
			return
		}
	}
	t.Errorf("running = %+v, want %s among them", rs, srv.ChatModel)
}

// benchTexts are short passages, all different, made of words the tiny
// model has whole tokens for (about 16 tokens each): its CPU build spends
// about a millisecond per prompt token, so longer texts would measure
// llama.cpp rather than the round trips batching saves.
func benchTexts(n int) []string {
	words := strings.Fields("the document answer question atoll ollama hello world of and to in a is")
	out := make([]string, n)
	for i := range out {
		var b strings.Builder
		fmt.Fprintf(&b, "%d", i)
		for j := 0; j < 12; j++ {
			b.WriteString(" ")
			b.WriteString(words[(i*7+j*j+i/len(words))%len(words)])
		}
		out[i] = b.String()
	}
	return out
}

const benchN = 256

func BenchmarkEmbedBatched(b *testing.B) {
	srv, c := realClient(b)
	in := benchTexts(benchN)
	ctx := context.Background()
	if _, err := c.Embed(ctx, srv.EmbedModel, in[:1]); err != nil { // load the model
		b.Fatal(err)
	}
	b.ResetTimer()
	for b.Loop() {
		if _, err := c.EmbedBatched(ctx, srv.EmbedModel, in, llm.DefaultEmbedBatch, llm.DefaultEmbedConcurrency, nil); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(b.N*benchN), "µs/text")
}

func BenchmarkEmbedOneByOne(b *testing.B) {
	srv, c := realClient(b)
	in := benchTexts(benchN)
	ctx := context.Background()
	if _, err := c.Embed(ctx, srv.EmbedModel, in[:1]); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for b.Loop() {
		for _, text := range in {
			if _, err := c.Embed(ctx, srv.EmbedModel, []string{text}); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(b.N*benchN), "µs/text")
}

// BenchmarkTTFTDirect is the time to the first token of a raw streaming
// /api/chat through net/http, with the model already loaded: the floor that
// Atoll's own path (BenchmarkTTFTClient) adds to.
//
// Each stream is read to its end (num_predict 4 keeps that short) rather than
// dropped after the first token: dropping streams at the first token in a
// tight loop wedged Ollama 0.6.5 after 50-90 requests (every later request
// hung until restart), a runner race on client disconnect.
func BenchmarkTTFTDirect(b *testing.B) {
	srv, _ := realClient(b)
	body, _ := json.Marshal(map[string]any{
		"model":    srv.ChatModel,
		"messages": []map[string]string{{"role": "user", "content": "hello world"}},
		"options":  map[string]any{"num_ctx": 2048, "num_predict": 4},
	})
	first := func() time.Duration {
		start := time.Now()
		resp, err := http.Post(srv.URL+"/api/chat", "application/json", bytes.NewReader(body))
		if err != nil {
			b.Fatal(err)
		}
		defer resp.Body.Close()
		var ttft time.Duration
		sc := bufio.NewScanner(resp.Body)
		for sc.Scan() {
			var r struct {
				Message struct{ Content string }
				Done    bool
				Error   string
			}
			if err := json.Unmarshal(sc.Bytes(), &r); err != nil || r.Error != "" {
				b.Fatalf("bad line %q: %v", sc.Bytes(), err)
			}
			if ttft == 0 && (r.Message.Content != "" || r.Done) {
				ttft = time.Since(start)
			}
			if r.Done {
				return ttft
			}
		}
		b.Fatal("stream ended without done")
		return 0
	}
	first() // load the model
	var total time.Duration
	b.ResetTimer()
	for b.Loop() {
		total += first()
	}
	b.ReportMetric(float64(total.Microseconds())/1000/float64(b.N), "ms-ttft")
}

// BenchmarkTTFTClient is the same through llm.Client.Chat (ChatResult.TTFT).
func BenchmarkTTFTClient(b *testing.B) {
	srv, c := realClient(b)
	req := llm.ChatRequest{Model: srv.ChatModel, NumCtx: 2048, NumPredict: 4, Messages: []llm.Message{{Role: "user", Content: "hello world"}}}
	ignore := func(string) error { return nil }
	if _, err := c.Chat(context.Background(), req, ignore); err != nil {
		b.Fatal(err)
	}
	var total time.Duration
	b.ResetTimer()
	for b.Loop() {
		res, err := c.Chat(context.Background(), req, ignore)
		if err != nil {
			b.Fatal(err)
		}
		total += res.TTFT
	}
	b.ReportMetric(float64(total.Microseconds())/1000/float64(b.N), "ms-ttft")
}

// The same pair against a server running four sequences at once (Ollama's
// own default when memory allows; the shared test server runs one): Ollama
// spreads a batch's texts over the sequences, one-by-one requests cannot.
func BenchmarkEmbedParallel4(b *testing.B) {
	if os.Getenv(ollamatest.SkipEnv) == "1" {
		b.Skipf("%s=1", ollamatest.SkipEnv)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute)
	defer cancel()
	srv, err := ollamatest.StartWith(ctx, ollamatest.Options{NumParallel: 4})
	if err != nil {
		b.Fatal(err)
	}
	defer srv.Stop()
	c, err := llm.New(srv.URL)
	if err != nil {
		b.Fatal(err)
	}
	in := benchTexts(benchN)
	if _, err := c.Embed(ctx, srv.EmbedModel, in[:1]); err != nil { // load the model
		b.Fatal(err)
	}
	run := func(name string, f func() error) {
		b.Run(name, func(b *testing.B) {
			for b.Loop() {
				if err := f(); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(b.N*benchN), "µs/text")
		})
	}
	run("batched", func() error {
		_, err := c.EmbedBatched(ctx, srv.EmbedModel, in, llm.DefaultEmbedBatch, llm.DefaultEmbedConcurrency, nil)
		return err
	})
	run("one-by-one", func() error {
		for _, text := range in {
			if _, err := c.Embed(ctx, srv.EmbedModel, []string{text}); err != nil {
				return err
			}
		}
		return nil
	})
}
