package agent

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"atoll/internal/ollamafake"
)

func TestHTTPToolValidate(t *testing.T) {
	good := HTTPTool{Name: "check_stock", Method: "GET", URL: "https://shop.example/api/stock?item={item}", Params: []HTTPParam{{Name: "item", Required: true}}}
	if err := good.Validate(); err != nil {
		t.Fatal(err)
	}
	for _, bad := range []HTTPTool{
		{Name: "calculate", Method: "GET", URL: "https://x.example/"},                                   // a built-in's name
		{Name: "x", Method: "DELETE", URL: "https://x.example/"},                                        // method
		{Name: "x", Method: "GET", URL: "file:///etc/passwd"},                                           // scheme
		{Name: "x", Method: "GET", URL: "https://{host}.example/", Params: []HTTPParam{{Name: "host"}}}, // host from the model
		{Name: "x", Method: "GET", URL: "https://x.example/{undeclared}"},                               // undeclared parameter
	} {
		if bad.Validate() == nil {
			t.Errorf("accepted %+v", bad)
		}
	}
}

// TestHTTPToolCall: an enabled tool of the user's is offered, its arguments
// are escaped into the URL (they cannot add parameters), the user's headers
// are sent, the call is confirmed first, and the answer goes to the model; a
// denied call, and a tool the agent has not enabled, never reach the server.
func TestHTTPToolCall(t *testing.T) {
	var mu sync.Mutex
	var got []*http.Request
	target := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		got = append(got, r.Clone(context.Background()))
		mu.Unlock()
		io.WriteString(w, `{"item":"croissant","in_stock":12}`)
	}))
	defer target.Close()
	tool := HTTPTool{Name: "check_stock", Description: "Stock of an item", Method: "GET", URL: target.URL + "/stock?item={item}",
		Params: []HTTPParam{{Name: "item", Required: true}}, Headers: map[string]string{"X-Api-Key": "secret"}}
	srv, c := fakeClient(t)
	r := NewRunner(c, nil, NewConversations(t.TempDir()))
	r.HTTPTools = func() []HTTPTool { return []HTTPTool{tool} }
	var confirmed []HTTPCall
	allow := true
	r.Confirm = func(_ context.Context, call HTTPCall) error {
		confirmed = append(confirmed, call)
		if !allow {
			return ErrDenied
		}
		return nil
	}
	def := Definition{Name: "shop", Model: ollamafake.DefaultChatModel, Tools: []string{HTTPToolPrefix + "check_stock"}}
	srv.Script(
		ollamafake.Reply{ToolCalls: []ollamafake.ToolCall{call("check_stock", map[string]any{"item": "croissant&admin=1"})}},
		ollamafake.Reply{Text: "We have 12 croissants."},
	)
	ans, err := r.Ask(context.Background(), def, "", "Do you have croissants?", nil)
	if err != nil || ans.Answer != "We have 12 croissants." {
		t.Fatalf("%+v %v", ans, err)
	}
	if !strings.Contains(string(srv.Chats()[0].Tools), "check_stock") {
		t.Fatal("the tool was not offered")
	}
	if len(got) != 1 || got[0].URL.Query().Get("item") != "croissant&admin=1" || got[0].URL.Query().Get("admin") != "" || got[0].Header.Get("X-Api-Key") != "secret" {
		t.Fatalf("request: %+v", got)
	}
	if len(confirmed) != 1 || !strings.HasPrefix(confirmed[0].URL, target.URL+"/stock?item=croissant%26admin%3D1") {
		t.Fatalf("confirmation: %+v", confirmed)
	}
	if res := toolMessages(srv.Chats()[1]); len(res) != 1 || !strings.Contains(res[0], `"in_stock":12`) {
		t.Fatalf("the model should get the answer: %q", res)
	}
	if len(ans.Tools) != 1 || ans.Tools[0].Name != "check_stock" {
		t.Fatalf("the call should be shown with the answer: %+v", ans.Tools)
	}

	// Denied by the user: not made; the model is told.
	allow = false
	srv.Script(ollamafake.Reply{ToolCalls: []ollamafake.ToolCall{call("check_stock", map[string]any{"item": "bread"})}}, ollamafake.Reply{Text: "ok"})
	r.Ask(context.Background(), def, "", "Bread?", nil)
	if len(got) != 1 {
		t.Fatal("a denied call reached the server")
	}
	chats := srv.Chats()
	if res := toolMessages(chats[len(chats)-1]); len(res) != 1 || !strings.Contains(res[0], "not made") {
		t.Fatalf("denial: %q", res)
	}

	// An agent that has not enabled the tool cannot call it.
	allow = true
	other := Definition{Name: "other", Model: ollamafake.DefaultChatModel, Tools: []string{ToolCalculate}}
	srv.Script(ollamafake.Reply{ToolCalls: []ollamafake.ToolCall{call("check_stock", map[string]any{"item": "x"})}}, ollamafake.Reply{Text: "ok"})
	r.Ask(context.Background(), other, "", "Stock?", nil)
	if len(got) != 1 {
		t.Fatal("a tool the agent has not enabled was called")
	}
	if (Definition{Name: "a", Model: "m", Tools: []string{"http:check_stock"}}).Validate() != nil {
		t.Fatal("http:NAME must be a valid tool entry")
	}
}
