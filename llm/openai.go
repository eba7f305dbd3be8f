package llm

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"strings"
	"time"
)

// OpenAI is a client for any OpenAI-compatible server (vLLM, llama.cpp's
// server, a hosted API): what a hub uses when a larger deployment points it
// at a serving cluster instead of Ollama. It offers the same Chat, Show and
// Embed as Client, so the agent code runs unchanged. Tool calling is not
// used through it (Show reports completion only): agents answer with
// retrieval before every answer.
type OpenAI struct {
	base          string
	key           string
	contextLength int
	http          *http.Client
}

// NewOpenAI talks to baseURL (e.g. http://gpu-box:8000/v1) with an optional
// API key. contextLength is the served models' context window, which these
// servers do not report.
func NewOpenAI(baseURL, key string, contextLength int) (*OpenAI, error) {
	baseURL = strings.TrimRight(baseURL, "/")
	if !strings.HasPrefix(baseURL, "http://") && !strings.HasPrefix(baseURL, "https://") {
		return nil, fmt.Errorf("%q is not an http(s) address", baseURL)
	}
	if contextLength <= 0 {
		contextLength = 8192
	}
	return &OpenAI{base: baseURL, key: key, contextLength: contextLength, http: &http.Client{}}, nil
}

func (o *OpenAI) post(ctx context.Context, path string, body any) (*http.Response, error) {
	b, _ := json.Marshal(body)
	req, err := http.NewRequestWithContext(ctx, "POST", o.base+path, bytes.NewReader(b))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	if o.key != "" {
		req.Header.Set("Authorization", "Bearer "+o.key)
	}
	res, err := o.http.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, &Error{Op: "openai " + path, URL: o.base, Kind: ErrUnavailable, Err: err}
	}
	if res.StatusCode != http.StatusOK {
		defer res.Body.Close()
		msg, _ := io.ReadAll(io.LimitReader(res.Body, 4096))
		kind := error(nil)
		if res.StatusCode == http.StatusNotFound {
			kind = ErrModelNotFound
		}
		return nil, &Error{Op: "openai " + path, URL: o.base, Kind: kind, Err: fmt.Errorf("%s: %s", res.Status, strings.TrimSpace(string(msg)))}
	}
	return res, nil
}

// Show describes a served model as far as these servers allow.
func (o *OpenAI) Show(ctx context.Context, model string) (ModelInfo, error) {
	return ModelInfo{Name: model, ContextLength: o.contextLength, Capabilities: []string{CapCompletion}}, nil
}

// Chat streams a chat completion through onToken (nil: not streamed).
func (o *OpenAI) Chat(ctx context.Context, req ChatRequest, onToken func(string) error) (ChatResult, error) {
	msgs := make([]map[string]string, 0, len(req.Messages))
	for _, m := range req.Messages {
		msgs = append(msgs, map[string]string{"role": m.Role, "content": m.Content})
	}
	body := map[string]any{"model": req.Model, "messages": msgs, "stream": onToken != nil}
	if req.Temperature != nil {
		body["temperature"] = *req.Temperature
	}
	if req.NumPredict > 0 {
		body["max_tokens"] = req.NumPredict
	}
	if len(req.Format) > 0 {
		body["response_format"] = map[string]any{"type": "json_schema", "json_schema": map[string]any{"name": "answer", "schema": req.Format}}
	}
	start := time.Now()
	res, err := o.post(ctx, "/chat/completions", body)
	if err != nil {
		return ChatResult{}, err
	}
	defer res.Body.Close()
	var out ChatResult
	if onToken == nil {
		var r struct {
			Choices []struct {
				Message      struct{ Content string }
				FinishReason string `json:"finish_reason"`
			}
		}
		if err := json.NewDecoder(res.Body).Decode(&r); err != nil || len(r.Choices) == 0 {
			return out, &Error{Op: "openai chat", URL: o.base, Kind: ErrStreamCut, Err: fmt.Errorf("no answer in the reply: %v", err)}
		}
		out.Content, out.DoneReason, out.TTFT = r.Choices[0].Message.Content, r.Choices[0].FinishReason, time.Since(start)
		return out, nil
	}
	var text strings.Builder
	sc := bufio.NewScanner(res.Body)
	sc.Buffer(make([]byte, 64<<10), 4<<20)
	done := false
	for sc.Scan() {
		line, ok := strings.CutPrefix(sc.Text(), "data: ")
		if !ok {
			continue
		}
		if line == "[DONE]" {
			done = true
			break
		}
		var c struct {
			Choices []struct {
				Delta        struct{ Content string }
				FinishReason *string `json:"finish_reason"`
			}
		}
		if json.Unmarshal([]byte(line), &c) != nil || len(c.Choices) == 0 {
			continue
		}
		if s := c.Choices[0].Delta.Content; s != "" {
			if out.TTFT == 0 {
				out.TTFT = time.Since(start)
			}
			text.WriteString(s)
			if err := onToken(s); err != nil {
				out.Content = text.String()
				return out, err
			}
		}
		if f := c.Choices[0].FinishReason; f != nil {
			out.DoneReason = *f
		}
	}
	out.Content = text.String()
	if ctx.Err() != nil {
		return out, ctx.Err()
	}
	if !done && out.DoneReason == "" {
		return out, &Error{Op: "openai chat", URL: o.base, Kind: ErrStreamCut, Err: errors.New("the stream ended without [DONE]")}
	}
	return out, nil
}

// Embed embeds texts in one request (/embeddings), L2-normalised.
func (o *OpenAI) Embed(ctx context.Context, model string, texts []string) ([][]float32, error) {
	res, err := o.post(ctx, "/embeddings", map[string]any{"model": model, "input": texts})
	if err != nil {
		return nil, err
	}
	defer res.Body.Close()
	var r struct {
		Data []struct {
			Index     int
			Embedding []float32
		}
	}
	if err := json.NewDecoder(res.Body).Decode(&r); err != nil || len(r.Data) != len(texts) {
		return nil, &Error{Op: "openai embeddings", URL: o.base, Err: fmt.Errorf("%d vectors for %d texts (%v)", len(r.Data), len(texts), err)}
	}
	out := make([][]float32, len(texts))
	for _, d := range r.Data {
		if d.Index < 0 || d.Index >= len(out) {
			return nil, &Error{Op: "openai embeddings", URL: o.base, Err: fmt.Errorf("vector index %d out of range", d.Index)}
		}
		var n float64
		for _, x := range d.Embedding {
			n += float64(x) * float64(x)
		}
		if n > 0 {
			inv := float32(1 / math.Sqrt(n))
			for i := range d.Embedding {
				d.Embedding[i] *= inv
			}
		}
		out[d.Index] = d.Embedding
	}
	return out, nil
}

// List returns the served models (/models), for checking that a bundle's
// embedding model is served before it is published.
func (o *OpenAI) List(ctx context.Context) ([]ModelInfo, error) {
	req, err := http.NewRequestWithContext(ctx, "GET", o.base+"/models", nil)
	if err != nil {
		return nil, err
	}
	if o.key != "" {
		req.Header.Set("Authorization", "Bearer "+o.key)
	}
	res, err := o.http.Do(req)
	if err != nil {
		return nil, &Error{Op: "openai models", URL: o.base, Kind: ErrUnavailable, Err: err}
	}
	defer res.Body.Close()
	var r struct {
		Data []struct{ ID string }
	}
	if res.StatusCode != http.StatusOK || json.NewDecoder(res.Body).Decode(&r) != nil {
		return nil, &Error{Op: "openai models", URL: o.base, Err: fmt.Errorf("unexpected answer: %s", res.Status)}
	}
	out := make([]ModelInfo, 0, len(r.Data))
	for _, m := range r.Data {
		out = append(out, ModelInfo{Name: m.ID, ContextLength: o.contextLength, Capabilities: []string{CapCompletion, CapEmbedding}})
	}
	return out, nil
}
