package hub

import (
	"bufio"
	"context"
	"encoding/json"
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
	ws   string // the workspace of tok
}

// legacyFolder writes a hub folder as hubs kept it before the database:
// one agent, "baker", answering from a small knowledge base, as an import
// left it in data/.
func legacyFolder(t testing.TB, dir, model string) {
	t.Helper()
	data := filepath.Join(dir, "data")
	st, err := store.Open(data)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	st.Create("bakery", "")
	kb, _ := st.KB("bakery")
	kb.Put(store.Doc{Path: "/docs/faq.md", Name: "faq.md", Hash: "1", Status: store.StatusOK, Chunks: []store.Chunk{
		{Text: "Custom birthday cakes need at least 48 hours notice."},
		{Text: "A 20 cm chocolate cake costs 38 euros."},
	}})
	if _, err := agent.NewRepo(filepath.Join(data, "agents")).Save(agent.Definition{Name: "baker", Model: model, KBs: []string{"bakery"}, Opening: "Hello!", Starters: []string{"Prices?"}}); err != nil {
		t.Fatal(err)
	}
}

// newTestHub makes a hub on the embedded store from a folder of before
// the database, so "baker" arrives by the one-time import, in the
// workspace "default", whose token tok is.
func newTestHub(t testing.TB, rate int, imp func(context.Context, string, *store.Store, *agent.Repo) (string, error)) *testHub {
	fake := ollamafake.New(t)
	c, _ := llm.New(fake.URL)
	dir := t.TempDir()
	legacyFolder(t, dir, ollamafake.DefaultChatModel)
	h, err := New(Config{Dir: dir, Model: c, Embedder: c, Import: imp, RatePerMinute: rate, Retention: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(h.Close)
	ws, err := h.st.WorkspaceByName(context.Background(), DefaultWorkspace)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h.Handler())
	t.Cleanup(srv.Close)
	return &testHub{h: h, srv: srv, fake: fake, tok: newTokenIn(t, h, ws.ID), ws: ws.ID}
}

func newTokenIn(t testing.TB, h *Hub, ws string) string {
	t.Helper()
	tok, hash := NewToken()
	if _, err := h.st.CreateToken(context.Background(), ws, "test", hash); err != nil {
		t.Fatal(err)
	}
	return tok
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

// TestLegacyFolderImported: a hub folder from before the database (its
// tokens.json and data/) keeps working after the upgrade: its tokens
// publish, its agent answers, its leads are in the inbox; the import runs
// once.
func TestLegacyFolderImported(t *testing.T) {
	fake := ollamafake.New(t)
	c, _ := llm.New(fake.URL)
	dir := t.TempDir()
	legacyFolder(t, dir, ollamafake.DefaultChatModel)
	old, err := NewTokens(dir).Create("old laptop")
	if err != nil {
		t.Fatal(err)
	}
	leads := agent.NewLeads(filepath.Join(dir, "data", "leads"))
	if _, _, err := leads.Merge("baker", agent.Lead{ID: "l1", Name: "Ann", Email: "ann@example.com", Agent: "baker", Created: time.Now(), Updated: time.Now()}); err != nil {
		t.Fatal(err)
	}
	for round := 0; round < 2; round++ {
		h, err := New(Config{Dir: dir, Model: c, Embedder: c})
		if err != nil {
			t.Fatal(err)
		}
		srv := httptest.NewServer(h.Handler())
		th := &testHub{h: h, srv: srv, tok: old}
		code, body := th.do(t, "GET", "/api/leads?agent=baker", nil)
		if code != 200 || strings.Count(body, "ann@example.com") != 1 {
			t.Fatalf("round %d: leads with the old token: %d %s", round, code, body)
		}
		code, body = th.do(t, "GET", "/api/workspace/agents", nil)
		if code != 200 || !strings.Contains(body, `"name":"baker"`) || !strings.Contains(body, `"version":1}`) {
			t.Fatalf("round %d: agents: %d %s", round, code, body)
		}
		fake.Script(ollamafake.Reply{Text: "48 hours [1]."})
		res := post(t, srv.URL+"/v1/chat/completions", `{"model":"baker","messages":[{"role":"user","content":"How much notice do birthday cakes need?"}]}`)
		b, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode != 200 || !strings.Contains(string(b), `"used":true`) {
			t.Fatalf("round %d: answer from the imported knowledge: %d %s", round, res.StatusCode, b)
		}
		srv.Close()
		h.Close()
	}
}

func TestAdminRoutesNeedToken(t *testing.T) {
	th := newTestHub(t, 0, nil)
	routes := []struct{ method, path string }{
		{"POST", "/api/publish"}, {"DELETE", "/api/agents/baker"}, {"POST", "/api/agents/baker/rollback"}, {"GET", "/api/leads?agent=baker"},
		{"PUT", "/api/agents/baker/access"}, {"GET", "/api/agents/baker/keys"}, {"POST", "/api/agents/baker/keys"}, {"DELETE", "/api/agents/baker/keys/x"},
		{"GET", "/api/workspace/agents"}, {"GET", "/api/conversations?agent=baker"}, {"GET", "/api/usage"},
	}
	for _, rt := range routes {
		for _, auth := range []string{"", "Bearer wrong", "Basic " + th.tok, "Bearer " + th.tok + "x", "Bearer "} {
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
	if sv, err := th.h.cache.agent(context.Background(), "baker"); err != nil || sv.ver.Number != 1 {
		t.Fatal("an unauthorised request changed the hub")
	}
	// With the token: a bundle is published; a refused one is a 422 and changes nothing.
	code, body := th.do(t, "POST", "/api/publish", bundleFor(t, "pastry"))
	if code != 200 || !strings.Contains(body, "widget.js") {
		t.Fatalf("publish: %d %s", code, body)
	}
	code, body = th.do(t, "POST", "/api/publish", []byte("PK"))
	if code != http.StatusUnprocessableEntity {
		t.Fatalf("refused bundle: %d %s", code, body)
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
	turns, err := th.h.st.Turns(context.Background(), th.ws, out.Atoll.Conversation, 10)
	if err != nil || len(turns) != 2 || turns[1].Answer != "A 20 cm cake costs 38 euros." {
		t.Fatalf("the conversation should hold both turns: %+v %v", turns, err)
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
	th := newTestHub(t, 1, nil) // burst 10; nothing refills during the test
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
	code, body := th.do(t, "POST", "/api/publish?as=baker", bundleFor(t, "other"))
	if code != 200 || !strings.Contains(body, `"version":2`) {
		t.Fatalf("publish version 2: %d %s", code, body)
	}
	if sv, _ := th.h.cache.agent(context.Background(), "baker"); sv.def.Opening != "" || sv.ver.Number != 2 {
		t.Fatalf("version 2 not served: %+v", sv.ver)
	}
	code, body = th.do(t, "POST", "/api/agents/baker/rollback", nil)
	sv, _ := th.h.cache.agent(context.Background(), "baker")
	if code != 200 || sv.def.Opening != "Hello!" || sv.ver.Number != 1 {
		t.Fatalf("rollback: %d %s %+v", code, body, sv.ver)
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
	dir := t.TempDir()
	legacyFolder(t, dir, "cluster-model")
	h, err := New(Config{Dir: dir, Model: o})
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	srv := httptest.NewServer(h.Handler())
	defer srv.Close()
	res := post(t, srv.URL+"/v1/chat/completions", `{"model":"baker","stream":true,"messages":[{"role":"user","content":"How much notice do birthday cakes need?"}]}`)
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if asked.Load() != 1 || !strings.Contains(string(body), "Forty-eight ") || !strings.Contains(string(body), "[DONE]") || !strings.Contains(string(body), `"used":true`) {
		t.Fatalf("through the OpenAI-compatible backend: %s", body)
	}
}
