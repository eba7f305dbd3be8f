package llm

import (
	"context"
	"errors"
	"math"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/ollama/ollama/api"
)

// Capabilities a model can have, as Ollama names them.
const (
	CapCompletion = "completion"
	CapTools      = "tools"
	CapEmbedding  = "embedding"
	CapVision     = "vision"
	CapInsert     = "insert"
)

// ModelInfo is what Atoll needs to know about an installed model.
type ModelInfo struct {
	Name            string
	Family          string // e.g. "llama", "qwen2", "nomic-bert"
	ParameterSize   string // e.g. "7.6B"
	Quantization    string // e.g. "Q4_K_M"
	Digest          string
	Size            int64 // bytes on disk
	ContextLength   int   // tokens; 0 if unknown
	EmbeddingLength int   // the model's hidden size; for embedding models, the vector length
	Capabilities    []string
}

// Has reports whether the model has capability cap.
func (m ModelInfo) Has(cap string) bool {
	for _, c := range m.Capabilities {
		if c == cap {
			return true
		}
	}
	return false
}

// Show returns the facts about one model. ContextLength is model_info's
// "<arch>.context_length", replaced by the model's num_ctx parameter when its
// Modelfile sets one (that is what Ollama will use by default).
//
// Capabilities are as /api/show reports them (Ollama 0.6.4 and later); for an
// older server that reports none they are inferred the way Ollama itself
// decides them: "embedding" if model_info has "<arch>.pooling_type", else
// "completion"; "vision" if it has "<arch>.vision.block_count" or a
// projector; "tools" if the template mentions .Tools; "insert" if it
// mentions .Suffix.
func (c *Client) Show(ctx context.Context, model string) (ModelInfo, error) {
	resp, err := c.api.Show(ctx, &api.ShowRequest{Model: model})
	if err != nil {
		return ModelInfo{}, c.fail(ctx, "show", model, err)
	}
	info := modelInfoFromShow(model, resp)
	// Digest and size are only in the list; it is a cheap local call.
	if list, err := c.api.List(ctx); err == nil {
		for _, m := range list.Models {
			if sameModel(m.Name, model) || sameModel(m.Model, model) {
				info.Digest, info.Size = m.Digest, m.Size
				break
			}
		}
	}
	c.mu.Lock()
	c.shown[model] = info
	c.mu.Unlock()
	return info, nil
}

// showCached is Show, remembered per client: model facts do not change
// unless the model is pulled or re-created.
func (c *Client) showCached(ctx context.Context, model string) (ModelInfo, error) {
	c.mu.Lock()
	info, ok := c.shown[model]
	c.mu.Unlock()
	if ok {
		return info, nil
	}
	return c.Show(ctx, model)
}

// Forget drops what the client remembers about model (after it was
// re-created outside Atoll, say).
func (c *Client) Forget(model string) {
	c.mu.Lock()
	delete(c.shown, model)
	c.mu.Unlock()
}

func sameModel(a, b string) bool {
	return strings.TrimSuffix(a, ":latest") == strings.TrimSuffix(b, ":latest")
}

func modelInfoFromShow(name string, resp *api.ShowResponse) ModelInfo {
	info := ModelInfo{
		Name:          name,
		Family:        resp.Details.Family,
		ParameterSize: resp.Details.ParameterSize,
		Quantization:  resp.Details.QuantizationLevel,
	}
	arch, _ := resp.ModelInfo["general.architecture"].(string)
	if info.Family == "" {
		info.Family = arch
	}
	info.ContextLength = intValue(resp.ModelInfo[arch+".context_length"])
	info.EmbeddingLength = intValue(resp.ModelInfo[arch+".embedding_length"])
	if n := parameter(resp.Parameters, "num_ctx"); n > 0 {
		info.ContextLength = n
	}
	for _, c := range resp.Capabilities {
		info.Capabilities = append(info.Capabilities, string(c))
	}
	if len(info.Capabilities) == 0 {
		info.Capabilities = inferCapabilities(arch, resp)
	}
	return info
}

func inferCapabilities(arch string, resp *api.ShowResponse) []string {
	var caps []string
	if _, ok := resp.ModelInfo[arch+".pooling_type"]; ok {
		caps = append(caps, CapEmbedding)
	} else {
		caps = append(caps, CapCompletion)
	}
	if _, ok := resp.ModelInfo[arch+".vision.block_count"]; ok || len(resp.ProjectorInfo) > 0 {
		caps = append(caps, CapVision)
	}
	if strings.Contains(resp.Template, ".Tools") {
		caps = append(caps, CapTools)
	}
	if strings.Contains(resp.Template, ".Suffix") {
		caps = append(caps, CapInsert)
	}
	return caps
}

// intValue reads a JSON number (float64 after decoding into map[string]any).
func intValue(v any) int {
	switch n := v.(type) {
	case float64:
		if n > 0 && n < math.MaxInt32 {
			return int(n)
		}
	case int:
		return n
	case int64:
		return int(n)
	}
	return 0
}

// parameter reads an integer from /api/show's "parameters" text, one
// "name value" pair per line.
func parameter(params, name string) int {
	for _, line := range strings.Split(params, "\n") {
		f := strings.Fields(line)
		if len(f) == 2 && f[0] == name {
			if n, err := strconv.Atoi(f[1]); err == nil {
				return n
			}
		}
	}
	return 0
}

// List returns the installed models. Each is completed with Show (context
// length, capabilities), a few at a time; a model whose Show fails keeps what
// the list said about it.
func (c *Client) List(ctx context.Context) ([]ModelInfo, error) {
	resp, err := c.api.List(ctx)
	if err != nil {
		return nil, c.fail(ctx, "list", "", err)
	}
	out := make([]ModelInfo, len(resp.Models))
	var wg sync.WaitGroup
	sem := make(chan struct{}, 4)
	for i, m := range resp.Models {
		out[i] = ModelInfo{
			Name: m.Name, Family: m.Details.Family, ParameterSize: m.Details.ParameterSize,
			Quantization: m.Details.QuantizationLevel, Digest: m.Digest, Size: m.Size,
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			sr, err := c.api.Show(ctx, &api.ShowRequest{Model: m.Name})
			if err != nil {
				return
			}
			full := modelInfoFromShow(m.Name, sr)
			full.Digest, full.Size = m.Digest, m.Size
			if full.Family == "" {
				full.Family = out[i].Family
			}
			out[i] = full
			c.mu.Lock()
			c.shown[m.Name] = full
			c.mu.Unlock()
		}()
	}
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return out, nil
}

// Running is a model loaded in memory.
type Running struct {
	Name      string
	Size      int64 // bytes in memory
	SizeVRAM  int64 // of which on the GPU
	ExpiresAt time.Time
}

// Running returns the models currently loaded (/api/ps).
func (c *Client) Running(ctx context.Context) ([]Running, error) {
	resp, err := c.api.ListRunning(ctx)
	if err != nil {
		return nil, c.fail(ctx, "ps", "", err)
	}
	out := make([]Running, 0, len(resp.Models))
	for _, m := range resp.Models {
		out = append(out, Running{Name: m.Name, Size: m.Size, SizeVRAM: m.SizeVRAM, ExpiresAt: m.ExpiresAt})
	}
	return out, nil
}

// PullProgress is one progress report of a download.
type PullProgress struct {
	Status    string // "pulling manifest", "pulling <digest>", "verifying sha256 digest", "success"
	Total     int64  // bytes of the current layer, 0 if not known
	Completed int64
}

// Pull downloads a model from the Ollama library, reporting progress to fn
// (which may be nil). Failures wrap ErrPullFailed (no network, disk full),
// ErrModelNotFound (no such model in the library) or ErrUnavailable (Ollama
// itself not reachable); Sentence explains how to import a GGUF file instead.
func (c *Client) Pull(ctx context.Context, name string, fn func(PullProgress)) error {
	var last string
	err := c.api.Pull(ctx, &api.PullRequest{Model: name}, func(p api.ProgressResponse) error {
		last = p.Status
		if fn != nil {
			fn(PullProgress{Status: p.Status, Total: p.Total, Completed: p.Completed})
		}
		return nil
	})
	c.Forget(name)
	if err == nil && ctx.Err() != nil {
		return ctx.Err()
	}
	if err == nil && last != "success" {
		return &Error{Op: "pull", URL: c.URL(), Model: name, Kind: ErrPullFailed,
			Err: errors.New("the download ended before Ollama reported success")}
	}
	if err == nil {
		return nil
	}
	mapped := c.fail(ctx, "pull", name, err)
	var e *Error
	if errors.As(mapped, &e) && e.Kind == nil {
		e.Kind = ErrPullFailed
		if strings.Contains(err.Error(), "file does not exist") {
			e.Kind = ErrModelNotFound // the registry has no such model
		}
	}
	return mapped
}
