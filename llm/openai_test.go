package llm

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// fakeOpenAI is a scripted OpenAI-compatible server.
func fakeOpenAI(t *testing.T, cut bool) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer k" {
			http.Error(w, "no key", 401)
			return
		}
		var req map[string]any
		json.NewDecoder(r.Body).Decode(&req)
		switch r.URL.Path {
		case "/v1/chat/completions":
			if req["model"] != "served" {
				http.Error(w, `{"error":{"message":"model not found"}}`, 404)
				return
			}
			if req["stream"] != true {
				fmt.Fprint(w, `{"choices":[{"message":{"role":"assistant","content":"whole answer"},"finish_reason":"stop"}]}`)
				return
			}
			w.Header().Set("Content-Type", "text/event-stream")
			for _, tok := range []string{"one ", "two ", "three"} {
				fmt.Fprintf(w, "data: {\"choices\":[{\"delta\":{\"content\":%q},\"finish_reason\":null}]}\n\n", tok)
				w.(http.Flusher).Flush()
			}
			if cut {
				return
			}
			fmt.Fprint(w, "data: {\"choices\":[{\"delta\":{},\"finish_reason\":\"stop\"}]}\n\ndata: [DONE]\n\n")
		case "/v1/embeddings":
			in := req["input"].([]any)
			fmt.Fprint(w, `{"data":[`)
			for i := len(in) - 1; i >= 0; i-- { // out of order on purpose
				fmt.Fprintf(w, `{"index":%d,"embedding":[%d,4]}`, i, 3*(i+1))
				if i > 0 {
					fmt.Fprint(w, ",")
				}
			}
			fmt.Fprint(w, `]}`)
		}
	}))
	t.Cleanup(srv.Close)
	return srv
}

func TestOpenAIBackend(t *testing.T) {
	srv := fakeOpenAI(t, false)
	o, err := NewOpenAI(srv.URL+"/v1", "k", 16384)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	var toks []string
	res, err := o.Chat(ctx, ChatRequest{Model: "served", Messages: []Message{{Role: "user", Content: "hi"}}}, func(s string) error { toks = append(toks, s); return nil })
	if err != nil || res.Content != "one two three" || len(toks) != 3 || res.DoneReason != "stop" {
		t.Fatalf("stream: %+v %v %v", res, toks, err)
	}
	res, err = o.Chat(ctx, ChatRequest{Model: "served"}, nil)
	if err != nil || res.Content != "whole answer" {
		t.Fatalf("non-streaming: %+v %v", res, err)
	}
	if _, err := o.Chat(ctx, ChatRequest{Model: "other"}, nil); !errors.Is(err, ErrModelNotFound) {
		t.Fatalf("unknown model: %v", err)
	}
	vecs, err := o.Embed(ctx, "e", []string{"a", "b"})
	if err != nil || len(vecs) != 2 || math.Abs(float64(vecs[0][0])-0.6) > 1e-6 || math.Abs(float64(vecs[1][0])-6/math.Sqrt(52)) > 1e-6 {
		t.Fatalf("embeddings in order and normalised: %v %v", vecs, err)
	}
	info, _ := o.Show(ctx, "served")
	if info.ContextLength != 16384 || info.Has(CapTools) {
		t.Fatalf("show: %+v", info)
	}
	cutSrv := fakeOpenAI(t, true)
	oc, _ := NewOpenAI(cutSrv.URL+"/v1", "k", 0)
	if res, err := oc.Chat(ctx, ChatRequest{Model: "served"}, func(string) error { return nil }); !errors.Is(err, ErrStreamCut) || res.Content != "one two three" {
		t.Fatalf("cut stream: %+v %v", res, err)
	}
	down, _ := NewOpenAI("http://127.0.0.1:9/v1", "", 0)
	if _, err := down.Embed(ctx, "e", []string{"x"}); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("down: %v", err)
	}
	if _, err := NewOpenAI("ftp://x", "", 0); err == nil || !strings.Contains(err.Error(), "http") {
		t.Fatal("a non-http address must be refused")
	}
}
