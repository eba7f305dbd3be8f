package hub

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"atoll/agent"
	"atoll/hubstore"
	"atoll/hubstore/embedded"
	"atoll/hubstore/postgres"
	"atoll/internal/ollamafake"
	"atoll/internal/pgtest"
	"atoll/llm"
	"atoll/publish"
	"atoll/store"
)

// The functional suite runs on both engines: the embedded store (one
// machine, no --db) and PostgreSQL (replicas), through the same hub code.
// Each case gets a fresh database.

func TestSuiteEmbedded(t *testing.T) {
	runSuite(t, func(t *testing.T) func() hubstore.Storage {
		dir := t.TempDir()
		return func() hubstore.Storage {
			st, err := embedded.Open(context.Background(), dir, embedded.Options{})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { st.Close() })
			return st
		}
	})
}

func TestSuitePostgres(t *testing.T) {
	pg := pgtest.Start(t, pgtest.Options{})
	runSuite(t, func(t *testing.T) func() hubstore.Storage {
		dsn := pg.NewDatabase(t)
		return func() hubstore.Storage {
			st, err := postgres.Open(context.Background(), dsn, postgres.Options{})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { st.Close() })
			return st
		}
	})
}

// runSuite: fresh(t) makes a database and returns an opener; each call of
// the opener is one more connection to it (one replica).
func runSuite(t *testing.T, fresh func(t *testing.T) func() hubstore.Storage) {
	t.Run("isolation", func(t *testing.T) { testIsolation(t, fresh(t)) })
	t.Run("keys-usage-quotas", func(t *testing.T) { testKeysUsageQuotas(t, fresh(t)) })
	t.Run("replicas", func(t *testing.T) { testReplicas(t, fresh(t)) })
}

// replica is one hub process's worth: its own folder and connection.
type replica struct {
	h    *Hub
	srv  *httptest.Server
	fake *ollamafake.Server
}

func newReplica(t *testing.T, open func() hubstore.Storage, fake *ollamafake.Server) *replica {
	t.Helper()
	c, _ := llm.New(fake.URL)
	h, err := New(Config{Dir: t.TempDir(), Store: open(), Model: c, Embedder: c, Retention: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h.Handler())
	t.Cleanup(func() { srv.Close(); h.Close() })
	return &replica{h: h, srv: srv, fake: fake}
}

// call sends one request with a bearer credential and returns the status
// and body.
func (r *replica) call(t *testing.T, method, path, bearer string, body []byte, hdr ...string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(method, r.srv.URL+path, bytes.NewReader(body))
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(b)
}

// workspace makes a workspace and a publisher token of it.
func workspace(t *testing.T, h *Hub, name string) (id, tok string) {
	t.Helper()
	ws, err := h.st.CreateWorkspace(context.Background(), name)
	if err != nil {
		t.Fatal(err)
	}
	return ws.ID, newTokenIn(t, h, ws.ID)
}

// leadBundle exports an agent that answers from a small knowledge base
// and gathers leads, on the fake's chat model.
func leadBundle(t testing.TB, name, opening string) []byte {
	t.Helper()
	dir := t.TempDir()
	st, err := store.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	st.Create("shop", "")
	kb, _ := st.KB("shop")
	kb.Put(store.Doc{Path: "/docs/faq.md", Name: "faq.md", Hash: "1", Status: store.StatusOK,
		Chunks: []store.Chunk{{Text: "Custom birthday cakes need at least 48 hours notice."}}})
	agents := agent.NewRepo(filepath.Join(dir, "agents"))
	form := &agent.LeadForm{Fields: []agent.LeadField{{Name: "name", Label: "Name", Type: "text", Required: true}, {Name: "email", Label: "Email", Type: "email", Required: true}}}
	if _, err := agents.Save(agent.Definition{Name: name, Model: ollamafake.DefaultChatModel, KBs: []string{"shop"}, Opening: opening, Tools: []string{agent.ToolSearchKnowledge, agent.ToolSaveLead}, LeadForm: form}); err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if _, _, err := (&publish.Exporter{Store: st, Agents: agents}).Export(context.Background(), &buf, name, publish.ExportOptions{}); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func chatBody(model, conv, q string, stream bool) []byte {
	b, _ := json.Marshal(map[string]any{"model": model, "conversation": conv, "stream": stream, "messages": []map[string]string{{"role": "user", "content": q}}})
	return b
}

// convOf reads the conversation id of a chat answer (JSON or a stream).
func convOf(body string) string {
	i := strings.LastIndex(body, `"conversation":"`)
	if i < 0 {
		return ""
	}
	rest := body[i+len(`"conversation":"`):]
	return rest[:strings.IndexByte(rest, '"')]
}

// scriptLead makes the fake save a lead, then answer.
func scriptLead(fake *ollamafake.Server, email string) {
	fake.Script(
		ollamafake.Reply{ToolCalls: []ollamafake.ToolCall{{Name: "save_lead", Arguments: map[string]any{"name": "Ann", "email": email}}}},
		ollamafake.Reply{Text: "Thanks, we will call you."},
	)
}

// testIsolation: two workspaces on one hub. Every publisher route and every
// read path is tried with the other workspace's token and key; every
// attempt is refused and nothing of the other workspace shows or changes.
func testIsolation(t *testing.T, open func() hubstore.Storage) {
	r := newReplica(t, open, ollamafake.New(t))
	ctx := context.Background()
	_, tokA := workspace(t, r.h, "alpha")
	wsB, tokB := workspace(t, r.h, "beta")
	if code, body := r.call(t, "POST", "/api/publish", tokA, leadBundle(t, "baker", "Alpha bakes")); code != 200 {
		t.Fatalf("alpha publishes: %d %s", code, body)
	}
	if code, body := r.call(t, "POST", "/api/publish", tokB, leadBundle(t, "pastry", "Beta pastries")); code != 200 {
		t.Fatalf("beta publishes: %d %s", code, body)
	}
	var keyA, keyB struct{ ID, Key string }
	for _, k := range []struct {
		tok, agent string
		out        *struct{ ID, Key string }
	}{{tokA, "baker", &keyA}, {tokB, "pastry", &keyB}} {
		code, body := r.call(t, "POST", "/api/agents/"+k.agent+"/keys", k.tok, []byte(`{"name":"site"}`))
		if code != 200 || json.Unmarshal([]byte(body), k.out) != nil || !strings.HasPrefix(k.out.Key, "atk_") {
			t.Fatalf("key for %s: %d %s", k.agent, code, body)
		}
		if code, body := r.call(t, "PUT", "/api/agents/"+k.agent+"/access", k.tok, []byte(`{"access":"key"}`)); code != 200 {
			t.Fatalf("access of %s: %d %s", k.agent, code, body)
		}
	}
	// Alpha's secrets: a conversation with a question, and a lead.
	const secretQ, secretEmail = "Can I order the secret-recipe cake?", "ann.secret@example.com"
	scriptLead(r.fake, secretEmail)
	code, body := r.call(t, "POST", "/v1/chat/completions", keyA.Key, chatBody("baker", "", secretQ, false))
	convA := convOf(body)
	if code != 200 || convA == "" {
		t.Fatalf("alpha's chat: %d %s", code, body)
	}
	snapshot := func() string {
		var b strings.Builder
		ws, _ := r.h.st.WorkspaceByName(ctx, "alpha")
		a, _ := r.h.st.Agent(ctx, ws.ID, "baker")
		ls, _ := r.h.st.Leads(ctx, ws.ID, "baker")
		ts, _ := r.h.st.Turns(ctx, ws.ID, convA, 100)
		ks, _ := r.h.st.Keys(ctx, ws.ID, "baker")
		us, _ := r.h.st.Usage(ctx, ws.ID, time.Now().AddDate(0, 0, -1), time.Now().AddDate(0, 0, 1))
		fmt.Fprintf(&b, "agent %d/%d %s; leads %d; turns %d; keys %d revoked %v; usage %+v", a.Current, a.Latest, a.Access, len(ls), len(ts), len(ks), len(ks) > 0 && !ks[0].Revoked.IsZero(), us)
		return b.String()
	}
	before := snapshot()
	if !strings.Contains(before, "leads 1; turns 1; keys 1 revoked false") {
		t.Fatalf("alpha's state: %s", before)
	}

	// Beta's token on every publisher route, aimed at alpha's things.
	for _, c := range []struct {
		method, path string
		body         []byte
		want         int
	}{
		{"POST", "/api/publish", leadBundle(t, "baker", "Beta's takeover"), 409},
		{"POST", "/api/publish?as=baker", leadBundle(t, "pastry", "Beta's takeover"), 409},
		{"DELETE", "/api/agents/baker", nil, 404},
		{"POST", "/api/agents/baker/rollback", nil, 404},
		{"PUT", "/api/agents/baker/access", []byte(`{"access":"open"}`), 404},
		{"GET", "/api/agents/baker/keys", nil, 404},
		{"POST", "/api/agents/baker/keys", []byte(`{"name":"stolen"}`), 404},
		{"DELETE", "/api/agents/baker/keys/" + keyA.ID, nil, 404},
		{"DELETE", "/api/agents/pastry/keys/" + keyA.ID, nil, 404},
		{"GET", "/api/leads?agent=baker", nil, 404},
		{"GET", "/api/conversations?agent=baker", nil, 404},
		{"GET", "/api/conversations?id=" + convA, nil, 404},
	} {
		code, body := r.call(t, c.method, c.path, tokB, c.body)
		if code != c.want || strings.Contains(body, secretEmail) || strings.Contains(body, "secret-recipe") {
			t.Errorf("beta's token: %s %s: %d %s (want %d, no alpha data)", c.method, c.path, code, body, c.want)
		}
		if c.want == 409 && !strings.Contains(body, "--as") {
			t.Errorf("a taken name must suggest --as: %s", body)
		}
	}
	// Beta's own lists show only beta.
	for _, path := range []string{"/api/workspace/agents", "/api/usage", "/api/leads?agent=pastry", "/api/conversations?agent=pastry", "/api/agents/pastry/keys"} {
		code, body := r.call(t, "GET", path, tokB, nil)
		if code != 200 || strings.Contains(body, "baker") || strings.Contains(body, secretEmail) || strings.Contains(body, keyA.ID) {
			t.Errorf("beta's %s: %d %s", path, code, body)
		}
	}
	// Keys: each opens only its own agent.
	for _, c := range []struct{ key, model string }{{keyB.Key, "baker"}, {keyA.Key, "pastry"}, {tokA, "baker"}, {"", "baker"}} {
		code, body := r.call(t, "POST", "/v1/chat/completions", c.key, chatBody(c.model, "", "hello", false))
		if code != 401 || strings.Contains(body, "secret") {
			t.Errorf("%s with another's credential: %d %s", c.model, code, body)
		}
	}
	// Alpha's conversation id on beta's agent starts a new conversation.
	r.fake.Script(ollamafake.Reply{Text: "Beta answers."})
	code, body = r.call(t, "POST", "/v1/chat/completions", keyB.Key, chatBody("pastry", convA, "and then?", false))
	if code != 200 || convOf(body) == convA || strings.Contains(body, "secret") {
		t.Fatalf("beta continuing alpha's conversation: %d %s", code, body)
	}
	if ts, _ := r.h.st.Turns(ctx, wsB, convOf(body), 10); len(ts) != 1 {
		t.Fatalf("beta's new conversation: %d turns", len(ts))
	}
	if after := snapshot(); after != before {
		t.Fatalf("alpha's state changed:\n%s\n%s", before, after)
	}
	// And alpha still works with its own key.
	r.fake.Script(ollamafake.Reply{Text: "Still here."})
	if code, body := r.call(t, "POST", "/v1/chat/completions", keyA.Key, chatBody("baker", convA, "still there?", false)); code != 200 || convOf(body) != convA {
		t.Fatalf("alpha continues: %d %s", code, body)
	}
}

// testKeysUsageQuotas: key-required access with revocable keys, usage per
// key and workspace, and quotas answered with 429, Retry-After and a sentence.
func testKeysUsageQuotas(t *testing.T, open func() hubstore.Storage) {
	r := newReplica(t, open, ollamafake.New(t))
	ctx := context.Background()
	ws, tok := workspace(t, r.h, "shop")
	if code, body := r.call(t, "POST", "/api/publish", tok, leadBundle(t, "baker", "Hi")); code != 200 {
		t.Fatalf("publish: %d %s", code, body)
	}
	r.fake.OnChat(func(ollamafake.ChatRequest) ollamafake.Reply { return ollamafake.Reply{Text: "Forty-eight hours."} })
	// Open: no key needed.
	if code, body := r.call(t, "POST", "/v1/chat/completions", "", chatBody("baker", "", "notice?", false)); code != 200 {
		t.Fatalf("open agent: %d %s", code, body)
	}
	r.call(t, "PUT", "/api/agents/baker/access", tok, []byte(`{"access":"key"}`))
	if code, _ := r.call(t, "POST", "/v1/chat/completions", "", chatBody("baker", "", "notice?", false)); code != 401 {
		t.Fatalf("key-required without a key: %d", code)
	}
	var k struct{ ID, Key string }
	_, body := r.call(t, "POST", "/api/agents/baker/keys", tok, []byte(`{"name":"website"}`))
	json.Unmarshal([]byte(body), &k)
	for i := 0; i < 2; i++ {
		if code, body := r.call(t, "POST", "/v1/chat/completions", k.Key, chatBody("baker", "", "notice?", true)); code != 200 || !strings.Contains(body, "[DONE]") {
			t.Fatalf("with the key: %d %s", code, body)
		}
	}
	code, body := r.call(t, "GET", "/api/agents/baker/keys", tok, nil)
	if code != 200 || !strings.Contains(body, `"name":"website"`) || strings.Contains(body, k.Key) || strings.Contains(body, "atk_") {
		t.Fatalf("key list (never the key itself): %d %s", code, body)
	}
	// Usage: the workspace counted 3 requests, the key 2.
	code, body = r.call(t, "GET", "/api/usage", tok, nil)
	var rows []struct {
		Key                 string
		Requests, TokensOut int64
	}
	json.Unmarshal([]byte(body), &rows)
	got := map[string]int64{}
	for _, u := range rows {
		got[u.Key] += u.Requests
		if u.TokensOut <= 0 {
			t.Errorf("usage row without tokens out: %+v", u)
		}
	}
	if code != 200 || got[""] != 3 || got[k.ID] != 2 {
		t.Fatalf("usage: %d %s", code, body)
	}
	// A revoked key stops at once.
	if code, body := r.call(t, "DELETE", "/api/agents/baker/keys/"+k.ID, tok, nil); code != 200 {
		t.Fatalf("revoke: %d %s", code, body)
	}
	if code, _ := r.call(t, "POST", "/v1/chat/completions", k.Key, chatBody("baker", "", "notice?", false)); code != 401 {
		t.Fatalf("revoked key: %d", code)
	}
	r.call(t, "PUT", "/api/agents/baker/access", tok, []byte(`{"access":"open"}`))

	// Requests a day: the fourth of a quota of 4 passes, the fifth is refused.
	if _, err := r.h.st.UpdateWorkspace(ctx, ws, func(w hubstore.Workspace) (hubstore.Workspace, error) {
		w.RequestsPerDay = 4
		return w, nil
	}); err != nil {
		t.Fatal(err)
	}
	codes := []int{}
	var last *http.Response
	for i := 0; i < 6; i++ {
		res, err := http.Post(r.srv.URL+"/v1/chat/completions", "application/json", bytes.NewReader(chatBody("baker", "", "notice?", false)))
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(res.Body)
		res.Body.Close()
		codes = append(codes, res.StatusCode)
		if res.StatusCode == 429 {
			last = res
			if !strings.Contains(string(b), "requests for today") {
				t.Fatalf("quota sentence: %s", b)
			}
		}
	}
	if fmt.Sprint(codes) != "[200 200 200 200 429 429]" || last.Header.Get("Retry-After") == "" {
		t.Fatalf("daily quota of 4: %v", codes)
	}
	// Concurrent streams: with one allowed, a second while the first runs is refused.
	r.h.st.UpdateWorkspace(ctx, ws, func(w hubstore.Workspace) (hubstore.Workspace, error) {
		w.RequestsPerDay, w.MaxStreams = 0, 1
		return w, nil
	})
	release := make(chan struct{})
	r.fake.OnChat(func(ollamafake.ChatRequest) ollamafake.Reply {
		<-release
		return ollamafake.Reply{Text: "done"}
	})
	first := make(chan int, 1)
	go func() {
		res, err := http.Post(r.srv.URL+"/v1/chat/completions", "application/json", bytes.NewReader(chatBody("baker", "", "notice?", true)))
		if err != nil {
			first <- 0
			return
		}
		io.Copy(io.Discard, res.Body)
		res.Body.Close()
		first <- res.StatusCode
	}()
	deadline := time.Now().Add(20 * time.Second)
	for r.h.streams.total() == 0 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	res, err := http.Post(r.srv.URL+"/v1/chat/completions", "application/json", bytes.NewReader(chatBody("baker", "", "notice?", true)))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(res.Body)
	res.Body.Close()
	close(release)
	if res.StatusCode != 429 || res.Header.Get("Retry-After") == "" || !strings.Contains(string(b), "answers running") {
		t.Fatalf("second stream over the quota: %d %s", res.StatusCode, b)
	}
	if c := <-first; c != 200 {
		t.Fatalf("the first stream: %d", c)
	}
}

// testReplicas: two hubs on one database. A publish or rollback on one is
// served by the other within a second; a revoked token stops on both; a
// conversation continues on the other; a request retried on the other
// with the same Idempotency-Key stores its turn and lead once.
func testReplicas(t *testing.T, open func() hubstore.Storage) {
	fake := ollamafake.New(t)
	a, b := newReplica(t, open, fake), newReplica(t, open, fake)
	ctx := context.Background()
	ws, tok := workspace(t, a.h, "shop")
	if code, body := a.call(t, "POST", "/api/publish", tok, leadBundle(t, "baker", "one")); code != 200 {
		t.Fatalf("publish: %d %s", code, body)
	}
	opening := func(r *replica) string {
		_, body := r.call(t, "GET", "/api/agents", "", nil)
		var as []publicAgent
		json.Unmarshal([]byte(body), &as)
		for _, x := range as {
			if x.Name == "baker" {
				return fmt.Sprintf("%d %s", x.Version, x.Opening)
			}
		}
		return ""
	}
	if got := opening(b); got != "1 one" {
		t.Fatalf("replica b before: %q", got)
	}
	waitServed := func(r *replica, want string, since time.Time) {
		t.Helper()
		deadline := time.Now().Add(20 * time.Second)
		for opening(r) != want && time.Now().Before(deadline) {
			time.Sleep(10 * time.Millisecond)
		}
		if got := opening(r); got != want {
			t.Fatalf("replica serves %q, want %q", got, want)
		}
		if took := time.Since(since); took > time.Second {
			t.Errorf("the change took %v to reach the other replica, more than a second", took)
		}
	}
	t0 := time.Now()
	if code, body := a.call(t, "POST", "/api/publish", tok, leadBundle(t, "baker", "two")); code != 200 {
		t.Fatalf("publish 2: %d %s", code, body)
	}
	waitServed(b, "2 two", t0)
	t0 = time.Now()
	if code, body := b.call(t, "POST", "/api/agents/baker/rollback", tok, nil); code != 200 {
		t.Fatalf("rollback on b: %d %s", code, body)
	}
	waitServed(a, "1 one", t0)

	// A conversation begun on a continues on b.
	fake.Script(ollamafake.Reply{Text: "First answer."})
	_, body := a.call(t, "POST", "/v1/chat/completions", "", chatBody("baker", "", "first?", false))
	conv := convOf(body)
	fake.Script(ollamafake.Reply{Text: "Second answer."})
	if code, body := b.call(t, "POST", "/v1/chat/completions", "", chatBody("baker", conv, "second?", true)); code != 200 || convOf(body) != conv {
		t.Fatalf("continue on b: %d %s", code, body)
	}
	// The same request (Idempotency-Key) answered on a then retried on b:
	// one turn, one lead.
	for _, r := range []*replica{a, b} {
		scriptLead(fake, "bob@example.com")
		if code, body := r.call(t, "POST", "/v1/chat/completions", "", chatBody("baker", conv, "call me", true), "Idempotency-Key", "req-42"); code != 200 || !strings.Contains(body, "[DONE]") {
			t.Fatalf("lead request: %d %s", code, body)
		}
	}
	ts, _ := a.h.st.Turns(ctx, ws, conv, 100)
	ls, _ := a.h.st.Leads(ctx, ws, "baker")
	if len(ts) != 3 || len(ls) != 1 || ls[0].Email != "bob@example.com" {
		t.Fatalf("after a retried request: %d turns (want 3), %d leads (want 1)", len(ts), len(ls))
	}
	// One answer at a time for the workspace, across replicas: while a
	// answers, b refuses with 429 and Retry-After.
	if _, err := a.h.st.UpdateWorkspace(ctx, ws, func(w hubstore.Workspace) (hubstore.Workspace, error) {
		w.MaxStreams = 1
		return w, nil
	}); err != nil {
		t.Fatal(err)
	}
	release := make(chan struct{})
	fake.OnChat(func(ollamafake.ChatRequest) ollamafake.Reply {
		<-release
		return ollamafake.Reply{Text: "done"}
	})
	held := make(chan int, 1)
	chats := len(fake.Chats())
	go func() {
		code, _ := a.call(t, "POST", "/v1/chat/completions", "", chatBody("baker", "", "slow one", true))
		held <- code
	}()
	waitFor(t, 20*time.Second, func() bool { return len(fake.Chats()) > chats })
	req, _ := http.NewRequest("POST", b.srv.URL+"/v1/chat/completions", bytes.NewReader(chatBody("baker", "", "another", true)))
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	close(release)
	if res.StatusCode != 429 || res.Header.Get("Retry-After") == "" {
		t.Fatalf("a second stream on another replica over a quota of one: %d", res.StatusCode)
	}
	if c := <-held; c != 200 {
		t.Fatalf("the held stream: %d", c)
	}
	fake.OnChat(nil)
	// The slot is free again once the answer ended.
	fake.Script(ollamafake.Reply{Text: "ok"})
	if code, body := b.call(t, "POST", "/v1/chat/completions", "", chatBody("baker", "", "after", false)); code != 200 {
		t.Fatalf("after the held stream ended: %d %s", code, body)
	}

	// A token revoked through one replica's store stops on both at once.
	toks, _ := a.h.st.Tokens(ctx, ws)
	if err := b.h.st.RevokeToken(ctx, ws, toks[0].ID); err != nil {
		t.Fatal(err)
	}
	for _, r := range []*replica{a, b} {
		if code, _ := r.call(t, "GET", "/api/workspace/agents", tok, nil); code != 401 {
			t.Fatalf("a revoked token: %d", code)
		}
	}
	// Unpublished on a: gone from b.
	tok2 := newTokenIn(t, a.h, ws)
	if code, body := a.call(t, "DELETE", "/api/agents/baker", tok2, nil); code != 200 {
		t.Fatalf("unpublish: %d %s", code, body)
	}
	waitServed(b, "", time.Now())
}
