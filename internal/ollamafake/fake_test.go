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

// TestVisionModel: a vision model reports the capability and answers a chat
// with an image from the script; a model without it refuses images.
func TestVisionModel(t *testing.T) {
	s := New(t)
	s.AddModel(VisionModel("fake-vision"))
	resp, err := http.Post(s.URL+"/api/show", "application/json", strings.NewReader(`{"model":"fake-vision"}`))
	if err != nil {
		t.Fatal(err)
	}
	var show struct{ Capabilities []string }
	json.NewDecoder(resp.Body).Decode(&show)
	resp.Body.Close()
	if strings.Join(show.Capabilities, ",") != "completion,vision" {
		t.Fatalf("capabilities %v", show.Capabilities)
	}
	s.Script(Reply{Text: "Lemon tart 4.50"})
	body := `{"model":"fake-vision","stream":false,"messages":[{"role":"user","content":"read","images":["iVBORw0KGgo="]}]}`
	resp, err = http.Post(s.URL+"/api/chat", "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	var out struct{ Message struct{ Content string } }
	json.NewDecoder(resp.Body).Decode(&out)
	resp.Body.Close()
	if out.Message.Content != "Lemon tart 4.50" || len(s.Chats()[0].Messages[0].Images) != 1 {
		t.Fatalf("answer %q, chats %+v", out.Message.Content, s.Chats())
	}
	resp, err = http.Post(s.URL+"/api/chat", "application/json", strings.NewReader(strings.Replace(body, "fake-vision", DefaultChatModel, 1)))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusInternalServerError {
		t.Fatalf("images to a model without vision: status %d", resp.StatusCode)
	}
}
