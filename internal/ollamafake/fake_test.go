package ollamafake

import (
	"encoding/json"
	"math"
	"net/http"
	"strings"
	"testing"
)

func TestVectorDeterministicUnit(t *testing.T) {
	a, b := Vector("hello", 32), Vector("hello", 32)
	c := Vector("world", 32)
	var n float64
	same := true
	for i := range a {
		n += float64(a[i]) * float64(a[i])
		if a[i] != b[i] {
			t.Fatal("Vector is not deterministic")
		}
		same = same && a[i] == c[i]
	}
	if math.Abs(n-1) > 1e-5 || same {
		t.Errorf("norm %v, distinct texts equal: %v", n, same)
	}
}

func TestChatWireFormat(t *testing.T) {
	s := New(t)
	s.Script(Reply{Tokens: []string{"a", "b"}, ToolCalls: []ToolCall{{Name: "f", Arguments: map[string]any{"x": 1.0}}}})
	resp, err := http.Post(s.URL+"/api/chat", "application/json", strings.NewReader(`{"model":"fake-chat","messages":[{"role":"user","content":"hi"}],"options":{"num_ctx":2048}}`))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	dec := json.NewDecoder(resp.Body)
	var lines []map[string]any
	for dec.More() {
		var m map[string]any
		if err := dec.Decode(&m); err != nil {
			t.Fatal(err)
		}
		lines = append(lines, m)
	}
	if len(lines) != 4 || lines[3]["done"] != true || lines[2]["message"].(map[string]any)["tool_calls"] == nil {
		t.Errorf("lines = %v", lines)
	}
	if got := s.Chats()[0].Options["num_ctx"]; got != 2048.0 {
		t.Errorf("recorded num_ctx = %v", got)
	}

	resp, err = http.Post(s.URL+"/api/chat", "application/json", strings.NewReader(`{"model":"nope","messages":[]}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		t.Errorf("missing model: status %d", resp.StatusCode)
	}
}
