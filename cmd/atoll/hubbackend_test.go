package main

import (
	"reflect"
	"testing"

	"atoll/llm"
)

// The hub's --backend forms: the older single-backend ones keep meaning
// what they meant, and KIND=URL values make a pool.
func TestHubBackendSpecs(t *testing.T) {
	const ollama = "http://127.0.0.1:11434"
	for _, c := range []struct {
		flags  []string
		openai string
		want   []llm.BackendSpec
	}{
		{nil, "", []llm.BackendSpec{{Kind: "ollama", URL: ollama}}},
		{[]string{"ollama"}, "", []llm.BackendSpec{{Kind: "ollama", URL: ollama}}},
		{[]string{"openai"}, "http://vllm:8000/v1", []llm.BackendSpec{{Kind: "openai", URL: "http://vllm:8000/v1", Key: "k", ContextLength: 4096}}},
		{[]string{"ollama=http://gpu1:11434", "openai=http://vllm:8000/v1"}, "", []llm.BackendSpec{
			{Kind: "ollama", URL: "http://gpu1:11434"},
			{Kind: "openai", URL: "http://vllm:8000/v1", Key: "k", ContextLength: 4096},
		}},
	} {
		got, err := backendList(c.flags).specs(ollama, c.openai, "k", 4096)
		if err != nil || !reflect.DeepEqual(got, c.want) {
			t.Errorf("--backend %q: %+v, %v; want %+v", c.flags, got, err, c.want)
		}
	}
}
