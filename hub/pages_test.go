package hub

import (
	"io"
	"net/http"
	"regexp"
	"strings"
	"testing"
)

// TestChatPageScriptPolicy: the chat page (and so the widget's frame)
// keeps its strict policy while it grows feedback: no inline script or
// handler on the page, and its script never turns text into HTML.
func TestChatPageScriptPolicy(t *testing.T) {
	th := newTestHub(t, 0, nil)
	res, err := http.Get(th.srv.URL + "/a/baker")
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(res.Body)
	res.Body.Close()
	csp := res.Header.Get("Content-Security-Policy")
	if !strings.Contains(csp, "script-src 'self';") || strings.Contains(csp, "unsafe-eval") || strings.Count(csp, "unsafe-inline") != 1 || !strings.Contains(csp, "style-src 'self' 'unsafe-inline'") {
		t.Fatalf("the chat page's policy is %q", csp)
	}
	if m := regexp.MustCompile(`(?i)\son[a-z]+=|<script>`).Find(page); m != nil {
		t.Fatalf("the chat page has inline script %q", m)
	}
	if m := regexp.MustCompile(`innerHTML|outerHTML|insertAdjacentHTML|document\.write|eval\(|new Function`).Find(chatJS); m != nil {
		t.Fatalf("chat.js builds HTML from text: %q", m)
	}
	// The feedback bar posts to the feedback API with the page's agent.
	if !strings.Contains(string(chatJS), "'/api/feedback?agent=' + encodeURIComponent(agent)") {
		t.Fatal("chat.js does not post votes to /api/feedback?agent=NAME")
	}
}
