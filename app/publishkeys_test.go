package app

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"atoll/hub"
	"atoll/internal/hubtest"
	"atoll/internal/ollamafake"
	"atoll/llm"
)

// TestPublishedAgentKeys: after a publish, the Publish screen's calls make
// the agent key-required (the chat API then refuses a request without a
// key and answers one with it), create a key shown once, list and revoke
// it (a revoked key is refused), and show the answered request in usage,
// for the workspace and for the key.
func TestPublishedAgentKeys(t *testing.T) {
	fake := ollamafake.New(t)
	a, events := bakerDesktop(t, fake.URL)
	if _, err := a.ListKeys("baker"); err == nil || !strings.Contains(err.Error(), "publish the agent first") {
		t.Fatalf("keys before any publish: %v", err)
	}
	c, _ := llm.New(fake.URL)
	h, srv := hubtest.Serve(t, hub.Config{Model: c, Embedder: c, Import: hub.Importer(c)})
	_, tok := hubtest.Workspace(t, h, "bakery")
	if ev := publishWait(t, a, events, "baker", srv.URL, tok, ""); ev.Error != "" {
		t.Fatalf("publish: %+v", ev)
	}

	chat := func(key string) int {
		t.Helper()
		req, _ := http.NewRequest("POST", srv.URL+"/v1/chat/completions", strings.NewReader(`{"model": "baker", "messages": [{"role": "user", "content": "When do you open?"}]}`))
		req.Header.Set("Content-Type", "application/json")
		if key != "" {
			req.Header.Set("Authorization", "Bearer "+key)
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		return res.StatusCode
	}
	access := func() string {
		t.Helper()
		as, err := a.PublishedAgents()
		if err != nil || len(as) != 1 || as[0].Name != "baker" {
			t.Fatalf("published agents: %+v %v", as, err)
		}
		return as[0].Access
	}

	if got := access(); got != "open" {
		t.Fatalf("a new agent's access is %q, want open", got)
	}
	if err := a.SetAgentAccess("baker", "key"); err != nil {
		t.Fatal(err)
	}
	if got := access(); got != "key" {
		t.Fatalf("access after the toggle: %q", got)
	}
	if err := a.SetAgentAccess("baker", "everyone"); err == nil {
		t.Fatal("an unknown access must be refused")
	}
	if code := chat(""); code != http.StatusUnauthorized {
		t.Fatalf("a key-required agent answered without a key: %d", code)
	}
	if _, err := a.CreateKey("baker", "  "); err == nil {
		t.Fatal("a key without a name must be refused")
	}
	k, err := a.CreateKey("baker", "shop site")
	if err != nil || !strings.HasPrefix(k.Secret, "atk_") || k.ID == "" || k.Name != "shop site" {
		t.Fatalf("create key: %+v %v", k, err)
	}
	ks, err := a.ListKeys("baker")
	if err != nil || len(ks) != 1 || ks[0].ID != k.ID || ks[0].Secret != "" || ks[0].Revoked != nil {
		t.Fatalf("keys: %+v %v (the secret is never listed)", ks, err)
	}
	if code := chat(k.Secret); code != http.StatusOK {
		t.Fatalf("the agent refused its own key: %d", code)
	}
	if code := chat("atk_wrong"); code != http.StatusUnauthorized {
		t.Fatalf("a wrong key was accepted: %d", code)
	}

	us, err := a.Usage(7)
	if err != nil {
		t.Fatal(err)
	}
	today := time.Now().UTC().Format(time.DateOnly)
	var wsReq, keyReq int64
	for _, u := range us {
		if u.Day != today {
			continue
		}
		switch u.Key {
		case "":
			wsReq += u.Requests
		case k.ID:
			keyReq += u.Requests
			if u.TokensOut == 0 {
				t.Errorf("the key's answer counted no tokens out: %+v", u)
			}
		}
	}
	if wsReq < 1 || keyReq != 1 {
		t.Fatalf("usage today: workspace %d, key %d requests (want ≥1 and 1): %+v", wsReq, keyReq, us)
	}

	if err := a.RevokeKey("baker", k.ID); err != nil {
		t.Fatal(err)
	}
	if err := a.RevokeKey("baker", "no-such-key"); err == nil || !strings.Contains(err.Error(), "no key") {
		t.Fatalf("revoking an unknown key: %v", err)
	}
	ks, _ = a.ListKeys("baker")
	if len(ks) != 1 || ks[0].Revoked == nil {
		t.Fatalf("keys after revoking: %+v", ks)
	}
	if code := chat(k.Secret); code != http.StatusUnauthorized {
		t.Fatalf("a revoked key was accepted: %d", code)
	}
	if err := a.SetAgentAccess("baker", "open"); err != nil {
		t.Fatal(err)
	}
	if code := chat(""); code != http.StatusOK {
		t.Fatalf("an open agent refused a request without a key: %d", code)
	}
}
