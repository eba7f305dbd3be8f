package agent

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"atoll/internal/ollamatest"
	"atoll/knowledge"
	"atoll/llm"
	"atoll/store"
)

// recorder remembers the last chat request the runner sent.
type recorder struct {
	*llm.Client
	last llm.ChatRequest
}

func (r *recorder) Chat(ctx context.Context, req llm.ChatRequest, fn func(string) error) (llm.ChatResult, error) {
	r.last = req
	return r.Client.Chat(ctx, req, fn)
}

// BenchmarkTTFTAtoll measures the time to first token of a whole Atoll
// answer (query embedding, hybrid retrieval, prompt assembly, the stream)
// beside a direct /api/chat of the very prompt Atoll built, in alternating
// rounds against the real Ollama test server with the models loaded.
func BenchmarkTTFTAtoll(b *testing.B) {
	srv := ollamatest.Shared(b)
	c, err := llm.New(srv.URL)
	if err != nil {
		b.Fatal(err)
	}
	dir := b.TempDir()
	docs := filepath.Join(dir, "docs")
	os.MkdirAll(docs, 0o755)
	os.WriteFile(filepath.Join(docs, "faq.md"), []byte("# Cakes\n\nCustom birthday cakes need at least 48 hours notice.\n\n# Delivery\n\nWe deliver within 5 km for 4 euros.\n"), 0o644)
	st, _ := store.Open(filepath.Join(dir, "data"))
	defer st.Close()
	if _, err := knowledge.New(st, c).Run(context.Background(), "b", "kb", srv.EmbedModel, []string{docs}, nil); err != nil {
		b.Fatal(err)
	}
	rec := &recorder{Client: c}
	r := NewRunner(rec, &knowledge.Searcher{Store: st, Embedder: c}, nil)
	q := "How much notice do birthday cakes need?"
	// Ollama reuses the cached prompt prefix of the previous request, so each
	// round starts both prompts with a fresh marker: neither side gets a
	// cache hit the other does not.
	round := 0
	ask := func() (time.Duration, []llm.Message, int) {
		round++
		def := Definition{Name: "b", Model: srv.ChatModel, KBs: []string{"kb"}, System: fmt.Sprintf("Atoll round %06d.", round)}
		start := time.Now()
		var ttft time.Duration
		_, err := r.Ask(context.Background(), def, "", q, func(string) error {
			if ttft == 0 {
				ttft = time.Since(start)
			}
			return nil
		})
		if err != nil {
			b.Fatal(err)
		}
		return ttft, rec.last.Messages, rec.last.NumCtx
	}
	direct := func(msgs []llm.Message, numCtx int) time.Duration {
		wire := make([]map[string]string, len(msgs))
		for i, m := range msgs {
			wire[i] = map[string]string{"role": m.Role, "content": m.Content}
		}
		wire[0]["content"] = strings.Replace(wire[0]["content"], "Atoll round", "Plain round", 1)
		body, _ := json.Marshal(map[string]any{"model": srv.ChatModel, "messages": wire, "options": map[string]any{"num_ctx": numCtx, "temperature": 0}})
		start := time.Now()
		resp, err := http.Post(srv.URL+"/api/chat", "application/json", bytes.NewReader(body))
		if err != nil {
			b.Fatal(err)
		}
		defer resp.Body.Close()
		var ttft time.Duration
		sc := bufio.NewScanner(resp.Body)
		for sc.Scan() {
			var line struct {
				Message struct{ Content string }
				Done    bool
			}
			json.Unmarshal(sc.Bytes(), &line)
			if ttft == 0 && (line.Message.Content != "" || line.Done) {
				ttft = time.Since(start)
			}
		}
		return ttft
	}
	_, msgs, n := ask() // load the models
	direct(msgs, n)
	var atoll, plain time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		a, msgs, n := ask()
		atoll += a
		plain += direct(msgs, n)
	}
	b.ReportMetric(float64(atoll.Microseconds())/1000/float64(b.N), "ms-ttft-atoll")
	b.ReportMetric(float64(plain.Microseconds())/1000/float64(b.N), "ms-ttft-direct")
	b.ReportMetric(float64((atoll-plain).Microseconds())/1000/float64(b.N), "ms-added")
}
