package llm

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/ollama/ollama/api"
)

// Message is one turn of a conversation. Role is "system", "user",
// "assistant" or "tool".
type Message struct {
	Role      string
	Content   string
	ToolCalls []ToolCall // on assistant messages that called tools
	// ToolName names the tool whose result a "tool" message carries. Ollama
	// 0.6.5's API has no field for it, so it is not sent; the model links a
	// result to its call by order.
	ToolName string
	Images   [][]byte // raw image bytes, for vision models
}

// ToolCall is a function call the model asked for.
type ToolCall struct {
	Name      string
	Arguments map[string]any
}

// Tool describes a function the model may call. Parameters is a JSON schema
// object. Ollama 0.6.5 keeps only type, required and, per property, type,
// description and enum: nested objects and array item schemas are dropped on
// the server, so keep tool parameters flat.
type Tool struct {
	Name        string
	Description string
	Parameters  json.RawMessage
}

// ChatRequest is one chat completion.
type ChatRequest struct {
	Model    string
	Messages []Message
	Tools    []Tool
	// Format is `"json"` or a JSON schema object for a structured answer.
	Format      json.RawMessage
	Temperature *float64
	// NumCtx is the context window in tokens. Zero means: computed from the
	// prompt's size and the model's context length (see Client.Chat).
	NumCtx int
	// NumPredict caps the answer's length in tokens; zero leaves the model's
	// default.
	NumPredict int
}

// ChatResult is a finished (or, with an error, partial) answer.
type ChatResult struct {
	Content      string
	ToolCalls    []ToolCall
	PromptTokens int           // as counted by Ollama
	EvalTokens   int           // answer tokens
	TTFT         time.Duration // time to the first token (or tool call)
	NumCtx       int           // the context window sent
	DoneReason   string        // "stop", "length", ...
}

// replyReserve is the room kept for the answer when NumPredict is not set.
const replyReserve = 1024

// minNumCtx is the smallest window sent; Ollama's old default.
const minNumCtx = 2048

// Chat runs one chat completion. With onToken set it streams: onToken gets
// each piece of content as it arrives, called from the api client's stream
// callback; returning an error from it stops generation and Chat returns that
// error. With onToken nil the answer comes in one piece.
//
// Cancelling ctx closes the connection, which stops generation on the server;
// Chat then returns ctx's error and the partial result. A stream that ends
// without Ollama's final "done" message returns ErrStreamCut, also with the
// partial result.
//
// num_ctx is always sent: without it Ollama uses its default window (2048
// tokens on older versions) and silently drops the start of longer prompts.
// Unless req.NumCtx is set it is the estimated prompt size plus room for the
// answer, rounded up to a power of two from 2048 (so the model is not
// reloaded for every small change in prompt size: Ollama reloads a model when
// num_ctx changes) and capped at the model's context length.
//
// When Tools are given, Ollama 0.6.5 holds back content until it knows the
// answer is not a tool call, so tokens arrive in one piece at the end.
func (c *Client) Chat(ctx context.Context, req ChatRequest, onToken func(string) error) (ChatResult, error) {
	var res ChatResult
	areq, err := c.chatRequest(ctx, req)
	if err != nil {
		return res, err
	}
	stream := onToken != nil
	areq.Stream = &stream
	res.NumCtx = areq.Options["num_ctx"].(int)

	var (
		content strings.Builder
		sawDone bool
		start   = time.Now()
	)
	err = c.api.Chat(ctx, areq, func(r api.ChatResponse) error {
		if (r.Message.Content != "" || len(r.Message.ToolCalls) > 0) && res.TTFT == 0 {
			res.TTFT = time.Since(start)
		}
		for _, tc := range r.Message.ToolCalls {
			res.ToolCalls = append(res.ToolCalls, ToolCall{Name: tc.Function.Name, Arguments: tc.Function.Arguments})
		}
		if r.Message.Content != "" {
			content.WriteString(r.Message.Content)
			if onToken != nil {
				if err := onToken(r.Message.Content); err != nil {
					return callerError{err}
				}
			}
		}
		if r.Done {
			sawDone = true
			res.PromptTokens, res.EvalTokens, res.DoneReason = r.PromptEvalCount, r.EvalCount, r.DoneReason
		}
		return nil
	})
	res.Content = content.String()
	var ce callerError
	switch {
	case errors.As(err, &ce):
		return res, ce.err
	case err != nil:
		return res, c.fail(ctx, "chat", req.Model, err)
	case sawDone:
		return res, nil
	case ctx.Err() != nil:
		// The api client ends a cancelled stream without an error.
		return res, ctx.Err()
	default:
		return res, &Error{Op: "chat", URL: c.URL(), Model: req.Model, Kind: ErrStreamCut,
			Err: fmt.Errorf("stream ended after %d bytes of answer without a done message", content.Len())}
	}
}

// callerError carries an error from onToken through the api client, so it is
// returned as is rather than mapped.
type callerError struct{ err error }

func (e callerError) Error() string { return e.err.Error() }

func (c *Client) chatRequest(ctx context.Context, req ChatRequest) (*api.ChatRequest, error) {
	if req.Model == "" {
		return nil, errors.New("llm: chat request without a model")
	}
	areq := &api.ChatRequest{
		Model:   req.Model,
		Format:  req.Format,
		Options: map[string]any{},
	}
	for _, m := range req.Messages {
		am := api.Message{Role: m.Role, Content: m.Content}
		for _, tc := range m.ToolCalls {
			am.ToolCalls = append(am.ToolCalls, api.ToolCall{Function: api.ToolCallFunction{Name: tc.Name, Arguments: tc.Arguments}})
		}
		for _, img := range m.Images {
			am.Images = append(am.Images, api.ImageData(img))
		}
		areq.Messages = append(areq.Messages, am)
	}
	for _, t := range req.Tools {
		at := api.Tool{Type: "function", Function: api.ToolFunction{Name: t.Name, Description: t.Description}}
		if len(t.Parameters) > 0 {
			if err := json.Unmarshal(t.Parameters, &at.Function.Parameters); err != nil {
				return nil, fmt.Errorf("llm: parameters of tool %q: %w", t.Name, err)
			}
		}
		if at.Function.Parameters.Type == "" {
			at.Function.Parameters.Type = "object"
		}
		areq.Tools = append(areq.Tools, at)
	}
	if req.Temperature != nil {
		areq.Options["temperature"] = *req.Temperature
	}
	if req.NumPredict > 0 {
		areq.Options["num_predict"] = req.NumPredict
	}
	numCtx := req.NumCtx
	if numCtx <= 0 {
		info, err := c.showCached(ctx, req.Model)
		if err != nil {
			var e *Error
			if errors.As(err, &e) {
				e.Op = "chat"
			}
			return nil, err
		}
		numCtx = NumCtxFor(info.ContextLength, EstimateTokens(req), req.NumPredict)
	}
	areq.Options["num_ctx"] = numCtx
	return areq, nil
}

// EstimateTokens is a deliberately high estimate of the prompt's size in
// tokens: UTF-8 bytes / 3 (about 1.3 times the real count for English, about
// one token per character for Chinese) plus a few tokens per message for the
// template.
func EstimateTokens(req ChatRequest) int {
	n := 0
	for _, m := range req.Messages {
		n += len(m.Content)/3 + 8
		for _, tc := range m.ToolCalls {
			b, _ := json.Marshal(tc.Arguments)
			n += (len(tc.Name)+len(b))/3 + 8
		}
		n += 768 * len(m.Images) // a typical vision encoder's patch count
	}
	for _, t := range req.Tools {
		n += (len(t.Name)+len(t.Description)+len(t.Parameters))/3 + 16
	}
	return n
}

// NumCtxFor picks the context window for a prompt of promptTokens: room for
// the prompt and the answer (numPredict, or 1024 if not positive), rounded up
// to a power of two no smaller than 2048, capped at the model's context
// length when known (modelCtx > 0).
func NumCtxFor(modelCtx, promptTokens, numPredict int) int {
	reply := numPredict
	if reply <= 0 {
		reply = replyReserve
	}
	need := promptTokens + reply
	n := minNumCtx
	for n < need {
		n *= 2
	}
	if modelCtx > 0 && n > modelCtx {
		n = modelCtx
	}
	return n
}

// PromptBudget is how many prompt tokens (as EstimateTokens counts them) fit
// in model's context with room left for an answer of numPredict tokens (1024
// if not positive). Prompt builders use it to drop retrieved passages
// themselves, and say so, rather than let Ollama cut the prompt's start.
func (c *Client) PromptBudget(ctx context.Context, model string, numPredict int) (int, error) {
	info, err := c.showCached(ctx, model)
	if err != nil {
		return 0, err
	}
	if numPredict <= 0 {
		numPredict = replyReserve
	}
	if info.ContextLength <= 0 {
		return minNumCtx - numPredict, nil // unknown: assume Ollama's old default
	}
	return max(info.ContextLength-numPredict, 0), nil
}
