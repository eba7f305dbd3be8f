package hub

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"atoll/agent"
	"atoll/internal/ollamafake"
	"atoll/llm"
	"atoll/store"
)

type testHub struct {
	h    *Hub
	srv  *httptest.Server
	fake *ollamafake.Server
	tok  string
}

// newTestHub makes a hub with one agent, "baker", answering from a small
// knowledge base, as an import would leave it.
func newTestHub(t testing.TB, rate int, imp func(context.Context, string, *store.Store, *agent.Repo) (string, error)) *testHub {
	fake := ollamafake.New(t)
	c, _ := llm.New(fake.URL)
	dir := t.TempDir()
	h, err := New(Config{Dir: dir, Model: c, Embedder: c, Import: imp, RatePerMinute: rate, Retention: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(h.Close)
	h.store.Create("bakery", "")
	kb, _ := h.store.KB("bakery")
	kb.Put(store.Doc{Path: "/docs/faq.md", Name: "faq.md", Hash: "1", Status: store.StatusOK, Chunks: []store.Chunk{
		{Text: "Custom birthday cakes need at least 48 hours notice."},
		{Text: "A 20 cm chocolate cake costs 38 euros."},
	}})
	if _, err := h.agents.Save(agent.Definition{Name: "baker", Model: ollamafake.DefaultChatModel, KBs: []string{"bakery"}, Opening: "Hello!", Starters: []string{"Prices?"}}); err != nil {
		t.Fatal(err)
	}
	tok, err := h.Tokens().Create("test")
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h.Handler())
	t.Cleanup(srv.Close)
	return &testHub{h: h, srv: srv, fake: fake, tok: tok}
}

func TestTokensStoredHashed(t *testing.T) {
	dir := t.TempDir()
	tk := NewTokens(dir)
	tok, err := tk.Create("ci")
	if err != nil {
		t.Fatal(err)
	}
	if !tk.Valid(tok) || tk.Valid(tok+"x") || tk.Valid("") {
		t.Fatal("validity")
	}
	b, _ := os.ReadFile(filepath.Join(dir, "tokens.json"))
	if strings.Contains(string(b), tok) {
		t.Fatal("the token itself must not be stored")
	}
	if fi, _ := os.Stat(filepath.Join(dir, "tokens.json")); fi.Mode().Perm() != 0o600 {
		t.Fatalf("tokens file mode %v", fi.Mode().Perm())
	}
}

func TestAdminRoutesNeedToken(t *testing.T) {
	imported := 0
	th := newTestHub(t, 0, func(context.Context, string, *store.Store, *agent.Repo) (string, error) {
		imported++
		return "baker", nil
	})
	routes := []struct{ method, path string }{
		{"POST", "/api/publish"}, {"DELETE", "/api/agents/baker"}, {"POST", "/api/agents/baker/rollback"}, {"GET", "/api/leads?agent=baker"},
	}
	for _, rt := range routes {
		for _, auth := range []string{"", "Bearer wrong", "Basic " + th.tok, "Bearer " + th.tok + "x"} {
			req, _ := http.NewRequest(rt.method, th.srv.URL+rt.path, strings.NewReader("PK"))
			if auth != "" {
				req.Header.Set("Authorization", auth)
			}
			res, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			res.Body.Close()
			if res.StatusCode != http.StatusUnauthorized {
				t.Errorf("%s %s with %q: %d", rt.method, rt.path, auth, res.StatusCode)
			}
		}
	}
	if imported != 0 {
		t.Fatal("an unauthorised publish reached the importer")
	}
	if _, err := th.h.agents.Get("baker"); err != nil {
		t.Fatal("an unauthorised request changed the hub")
	}
	// With the token: publish calls the importer; a refused bundle is a 422 and changes nothing.
	req, _ := http.NewRequest("POST", th.srv.URL+"/api/publish", strings.NewReader("PK"))
	req.Header.Set("Authorization", "Bearer "+th.tok)
	res, _ := http.DefaultClient.Do(req)
	b, _ := io.ReadAll(res.Body)
	if res.StatusCode != 200 || imported != 1 || !strings.Contains(string(b), "widget.js") {
		t.Fatalf("publish: %d %s", res.StatusCode, b)
	}
	bad := newTestHub(t, 0, func(context.Context, string, *store.Store, *agent.Repo) (string, error) {
		return "", errors.New("bundle refused: entry ../evil is outside the bundle")
	})
	req, _ = http.NewRequest("POST", bad.srv.URL+"/api/publish", strings.NewReader("PK"))
	req.Header.Set("Authorization", "Bearer "+bad.tok)
	res, _ = http.DefaultClient.Do(req)
	b, _ = io.ReadAll(res.Body)
	if res.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(string(b), "outside the bundle") {
		t.Fatalf("refused bundle: %d %s", res.StatusCode, b)
	}
}

func post(t testing.TB, url, body string) *http.Response {
	res, err := http.Post(url, "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	return res
}

func TestChatCompletions(t *testing.T) {
	th := newTestHub(t, 0, nil)
	th.fake.Script(ollamafake.Reply{Text: "Birthday cakes need 48 hours notice [1]."})
	res := post(t, th.srv.URL+"/v1/chat/completions", `{"model":"baker","messages":[{"role":"user","content":"How much notice do birthday cakes need?"}]}`)
	var out struct {
		Object  string
		Choices []struct {
			Message struct{ Role, Content string }
		}
		Atoll atollExtra
	}
	json.NewDecoder(res.Body).Decode(&out)
	res.Body.Close()
	if out.Object != "chat.completion" || !strings.Contains(out.Choices[0].Message.Content, "48 hours") || len(out.Atoll.Citations) == 0 || !out.Atoll.Citations[0].Used {
		t.Fatalf("non-streaming: %+v", out)
	}
	if res.Header.Get("Access-Control-Allow-Origin") != "*" {
		t.Fatal("the endpoint must be callable from other origins")
	}

	// Streaming, continuing the conversation.
	th.fake.Script(ollamafake.Reply{Tokens: []string{"A 20 cm ", "cake costs ", "38 euros."}})
	res = post(t, th.srv.URL+"/v1/chat/completions", fmt.Sprintf(`{"model":"baker","stream":true,"conversation":%q,"messages":[{"role":"user","content":"How much is a chocolate cake?"}]}`, out.Atoll.Conversation))
	if ct := res.Header.Get("Content-Type"); ct != "text/event-stream" {
		t.Fatalf("content type %q", ct)
	}
	sc := bufio.NewScanner(res.Body)
	var text strings.Builder
	chunks, done := 0, false
	var extra *atollExtra
	for sc.Scan() {
		line, ok := strings.CutPrefix(sc.Text(), "data: ")
		if !ok {
			continue
		}
		if line == "[DONE]" {
			done = true
			break
		}
		var c struct {
			Object  string
			Choices []struct {
				Delta        struct{ Content string }
				FinishReason *string `json:"finish_reason"`
			}
			Atoll *atollExtra
		}
		if err := json.Unmarshal([]byte(line), &c); err != nil || c.Object != "chat.completion.chunk" {
			t.Fatalf("bad chunk %q", line)
		}
		chunks++
		text.WriteString(c.Choices[0].Delta.Content)
		if c.Atoll != nil {
			extra = c.Atoll
		}
	}
	res.Body.Close()
	if !done || chunks < 4 || text.String() != "A 20 cm cake costs 38 euros." || extra == nil || extra.Conversation != out.Atoll.Conversation {
		t.Fatalf("stream: done %v chunks %d text %q extra %+v", done, chunks, text.String(), extra)
	}
	conv, _ := th.h.convs.Get(out.Atoll.Conversation)
	if len(conv.Messages) != 4 {
		t.Fatalf("the conversation should hold both turns: %d", len(conv.Messages))
	}

	for _, c := range []struct {
		body string
		code int
	}{
		{`{"model":"nobody","messages":[{"role":"user","content":"hi"}]}`, 404},
		{`{"model":"baker","messages":[]}`, 400},
		{`not json`, 400},
		{`{"model":"baker","messages":[{"role":"user","content":"` + strings.Repeat("x", maxChatBody) + `"}]}`, 413},
	} {
		res := post(t, th.srv.URL+"/v1/chat/completions", c.body)
		res.Body.Close()
		if res.StatusCode != c.code {
			t.Errorf("%.40s: %d, want %d", c.body, res.StatusCode, c.code)
		}
	}
}

func TestPagesAndWidget(t *testing.T) {
	th := newTestHub(t, 0, nil)
	for path, want := range map[string]string{"/a/baker": `data-agent="baker"`, "/widget.js": "data-agent", "/static/chat.js": "/v1/chat/completions", "/": "/a/baker", "/api/agents": `"opening":"Hello!"`} {
		res, err := http.Get(th.srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode != 200 || !strings.Contains(string(b), want) {
			t.Errorf("%s: %d %.200s", path, res.StatusCode, b)
		}
	}
	res, _ := http.Get(th.srv.URL + "/a/nobody")
	if res.StatusCode != 404 {
		t.Fatalf("unknown agent page: %d", res.StatusCode)
	}
}

func TestRateLimit(t *testing.T) {
	th := newTestHub(t, 20, nil)
	codes := map[int]int{}
	for i := 0; i < 15; i++ {
		res, _ := http.Get(th.srv.URL + "/api/agents")
		res.Body.Close()
		codes[res.StatusCode]++
	}
	if codes[200] != 10 || codes[429] != 5 {
		t.Fatalf("burst of 10 then 429: %v", codes)
	}
}

func TestRollbackAndRetention(t *testing.T) {
	th := newTestHub(t, 0, nil)
	d, _ := th.h.agents.Get("baker")
	d.Opening = "Version two"
	th.h.agents.Save(d)
	req, _ := http.NewRequest("POST", th.srv.URL+"/api/agents/baker/rollback", nil)
	req.Header.Set("Authorization", "Bearer "+th.tok)
	res, _ := http.DefaultClient.Do(req)
	res.Body.Close()
	cur, _ := th.h.agents.Get("baker")
	if res.StatusCode != 200 || cur.Opening != "Hello!" || cur.Version != 3 {
		t.Fatalf("rollback: %d %+v", res.StatusCode, cur)
	}
	th.fake.Script(ollamafake.Reply{Text: "ok"})
	post(t, th.srv.URL+"/v1/chat/completions", `{"model":"baker","messages":[{"role":"user","content":"birthday cakes notice"}]}`).Body.Close()
	if n := th.h.PruneConversations(time.Now()); n != 0 {
		t.Fatalf("a fresh conversation was pruned")
	}
	if n := th.h.PruneConversations(time.Now().Add(2 * time.Hour)); n != 1 {
		t.Fatalf("retention should remove the old conversation, removed %d", n)
	}
}

// BenchmarkHub100Streams runs 100 concurrent streamed chats against the hub
// (the scripted model sends 10 tokens 20 ms apart) and reports throughput and
// the 95th percentile of the whole answer's latency.
func BenchmarkHub100Streams(b *testing.B) {
	th := newTestHub(b, 0, nil)
	th.fake.OnChat(func(ollamafake.ChatRequest) ollamafake.Reply {
		return ollamafake.Reply{Tokens: strings.Fields("a b c d e f g h i j"), Delay: 20 * time.Millisecond}
	})
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 200}}
	const n = 100
	var all []time.Duration
	b.ResetTimer()
	start := time.Now()
	for i := 0; i < b.N; i++ {
		var mu sync.Mutex
		var wg sync.WaitGroup
		errs := 0
		for j := 0; j < n; j++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				t0 := time.Now()
				res, err := client.Post(th.srv.URL+"/v1/chat/completions", "application/json", strings.NewReader(`{"model":"baker","stream":true,"messages":[{"role":"user","content":"How much notice for birthday cakes?"}]}`))
				ok := err == nil && res.StatusCode == 200
				if err == nil {
					body, _ := io.ReadAll(res.Body)
					res.Body.Close()
					ok = ok && strings.Contains(string(body), "[DONE]")
				}
				mu.Lock()
				defer mu.Unlock()
				if !ok {
					errs++
				}
				all = append(all, time.Since(t0))
			}()
		}
		wg.Wait()
		if errs > 0 {
			b.Fatalf("%d of %d streams failed", errs, n)
		}
	}
	el := time.Since(start)
	sort.Slice(all, func(i, j int) bool { return all[i] < all[j] })
	b.ReportMetric(float64(n*b.N)/el.Seconds(), "streams/s")
	b.ReportMetric(float64(all[len(all)*95/100].Milliseconds()), "p95-ms")
}

// TestOpenAICompatibleBackend: the hub answers through any OpenAI-compatible
// server (a serving cluster) with the same agent code.
func TestOpenAICompatibleBackend(t *testing.T) {
	var asked atomic.Int32
	upstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/v1/chat/completions" {
			http.NotFound(w, r)
			return
		}
		asked.Add(1)
		var req struct {
			Model    string
			Messages []struct{ Role, Content string }
		}
		json.NewDecoder(r.Body).Decode(&req)
		prompt := ""
		for _, m := range req.Messages {
			prompt += m.Content
		}
		if req.Model != "cluster-model" || !strings.Contains(prompt, "48 hours") {
			http.Error(w, "unexpected request", 400)
			return
		}
		w.Header().Set("Content-Type", "text/event-stream")
		for _, tok := range []string{"Forty-eight ", "hours [1]."} {
			fmt.Fprintf(w, "data: {\"choices\":[{\"delta\":{\"content\":%q}}]}\n\n", tok)
		}
		fmt.Fprint(w, "data: [DONE]\n\n")
	}))
	defer upstream.Close()
	o, err := llm.NewOpenAI(upstream.URL+"/v1", "", 32768)
	if err != nil {
		t.Fatal(err)
	}
	h, err := New(Config{Dir: t.TempDir(), Model: o})
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	h.store.Create("bakery", "")
	kb, _ := h.store.KB("bakery")
	kb.Put(store.Doc{Path: "/docs/faq.md", Hash: "1", Status: store.StatusOK, Chunks: []store.Chunk{{Text: "Custom birthday cakes need at least 48 hours notice."}}})
	h.agents.Save(agent.Definition{Name: "baker", Model: "cluster-model", KBs: []string{"bakery"}})
	srv := httptest.NewServer(h.Handler())
	defer srv.Close()
	res := post(t, srv.URL+"/v1/chat/completions", `{"model":"baker","stream":true,"messages":[{"role":"user","content":"How much notice do birthday cakes need?"}]}`)
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if asked.Load() != 1 || !strings.Contains(string(body), "Forty-eight ") || !strings.Contains(string(body), "[DONE]") || !strings.Contains(string(body), `"used":true`) {
		t.Fatalf("through the OpenAI-compatible backend: %s", body)
	}
}
