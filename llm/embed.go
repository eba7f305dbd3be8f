package llm

import (
	"context"
	"fmt"
	"math"
	"sync"

	"github.com/ollama/ollama/api"
)

// Defaults for EmbedBatched when batch or concurrency is not positive.
const (
	DefaultEmbedBatch       = 32
	DefaultEmbedConcurrency = 2
)

// Embed embeds texts with one /api/embed request carrying the whole array and
// returns one unit-length vector per text, in order. Ollama normalises too;
// doing it here as well costs nothing and lets callers rely on it for any
// server or model (dot product = cosine similarity).
func (c *Client) Embed(ctx context.Context, model string, texts []string) ([][]float32, error) {
	if len(texts) == 0 {
		return nil, nil
	}
	resp, err := c.api.Embed(ctx, &api.EmbedRequest{Model: model, Input: texts})
	if err != nil {
		return nil, c.fail(ctx, "embed", model, err)
	}
	if len(resp.Embeddings) != len(texts) {
		return nil, &Error{Op: "embed", URL: c.URL(), Model: model,
			Err: fmt.Errorf("asked for %d embeddings, got %d", len(texts), len(resp.Embeddings))}
	}
	for i, v := range resp.Embeddings {
		if len(v) == 0 {
			return nil, &Error{Op: "embed", URL: c.URL(), Model: model, Err: fmt.Errorf("empty embedding for text %d", i)}
		}
		normalize(v)
	}
	return resp.Embeddings, nil
}

// EmbedBatched embeds texts in batches of batch texts, with at most
// concurrency requests in flight, and returns the vectors in the order of
// texts. progress, if not nil, is called with the number of texts embedded so
// far after each batch (from one goroutine at a time, never decreasing).
// The first failure cancels the batches still running and is returned.
func (c *Client) EmbedBatched(ctx context.Context, model string, texts []string, batch, concurrency int, progress func(done int)) ([][]float32, error) {
	if len(texts) == 0 {
		return nil, nil
	}
	if batch <= 0 {
		batch = DefaultEmbedBatch
	}
	if concurrency <= 0 {
		concurrency = DefaultEmbedConcurrency
	}
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)

	out := make([][]float32, len(texts))
	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		done     int
		firstErr error
	)
	sem := make(chan struct{}, concurrency)
loop:
	for start := 0; start < len(texts); start += batch {
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
			break loop
		}
		end := min(start+batch, len(texts))
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			vecs, err := c.Embed(ctx, model, texts[start:end])
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				if firstErr == nil {
					firstErr = err
					cancel(err)
				}
				return
			}
			copy(out[start:end], vecs)
			done += end - start
			if progress != nil && firstErr == nil {
				progress(done)
			}
		}()
	}
	wg.Wait()
	if firstErr != nil {
		return nil, firstErr
	}
	if err := ctx.Err(); err != nil {
		return nil, context.Cause(ctx)
	}
	return out, nil
}

// normalize scales v to unit length in place (a zero vector stays zero).
func normalize(v []float32) {
	var sum float64
	for _, x := range v {
		sum += float64(x) * float64(x)
	}
	if sum == 0 || math.Abs(sum-1) < 1e-6 {
		return
	}
	inv := 1 / math.Sqrt(sum)
	for i, x := range v {
		v[i] = float32(float64(x) * inv)
	}
}
