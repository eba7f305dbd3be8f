package channels

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time          { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Advance(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }

func TestMemoryDeduperExpiresAndIsBounded(t *testing.T) {
	c := &clock{t: time.Unix(1e9, 0)}
	d := NewMemoryDeduper(3, c.Now)
	ctx := context.Background()
	claim := func(k string) bool { ok, _ := d.Claim(ctx, k, time.Hour); return ok }
	if !claim("a") || claim("a") {
		t.Fatal("a second claim of a was new")
	}
	c.Advance(61 * time.Minute)
	if !claim("a") {
		t.Fatal("a was still held after its ttl")
	}
	claim("b")
	claim("c")
	claim("d") // evicts the oldest (a)
	if d.Len() != 3 {
		t.Fatalf("len %d, want the bound 3", d.Len())
	}
	if !claim("a") {
		t.Error("the oldest key was not the one evicted")
	}
	if claim("d") {
		t.Error("d was evicted instead")
	}
	d.Release(ctx, "d")
	if !claim("d") {
		t.Error("a released key was not new")
	}
}

func TestTokenCacheRefreshesBeforeExpiry(t *testing.T) {
	c := &clock{t: time.Unix(1e9, 0)}
	var n atomic.Int32
	tc := &TokenCache{Now: c.Now, Fetch: func(ctx context.Context) (string, time.Duration, error) {
		return fmt.Sprintf("tok%d", n.Add(1)), 7200 * time.Second, nil
	}}
	ctx := context.Background()
	var wg sync.WaitGroup
	for range 10 {
		wg.Add(1)
		go func() { defer wg.Done(); tc.Get(ctx) }()
	}
	wg.Wait()
	if n.Load() != 1 {
		t.Fatalf("%d fetches by 10 concurrent callers, want 1", n.Load())
	}
	if got := tc.Expiry(); !got.Equal(c.Now().Add(2 * time.Hour)) {
		t.Errorf("expiry %v", got)
	}
	c.Advance(7200*time.Second - 6*time.Minute)
	if tok, _ := tc.Get(ctx); tok != "tok1" {
		t.Errorf("refreshed too early: %s", tok)
	}
	c.Advance(2 * time.Minute) // 4 minutes before expiry: inside the margin
	if tok, _ := tc.Get(ctx); tok != "tok2" {
		t.Errorf("not refreshed before expiry: %s", tok)
	}
	// A rejected token is fetched again once.
	calls := 0
	err := tc.WithToken(ctx, func(tok string) (bool, error) {
		calls++
		if tok == "tok2" {
			return true, errors.New("expired")
		}
		return false, nil
	})
	if err != nil || calls != 2 || n.Load() != 3 {
		t.Errorf("WithToken: err %v, calls %d, fetches %d", err, calls, n.Load())
	}
}

func TestSealerBindsContextAndKey(t *testing.T) {
	k := make([]byte, 32)
	s, _ := NewSealer(k)
	v, err := s.Seal("xoxb-secret", "ch1\x00bot_token")
	if err != nil || strings.Contains(v, "xoxb") {
		t.Fatalf("sealed %q, %v", v, err)
	}
	if got, err := s.Open(v, "ch1\x00bot_token"); err != nil || got != "xoxb-secret" {
		t.Fatalf("open: %q %v", got, err)
	}
	if _, err := s.Open(v, "ch2\x00bot_token"); err == nil {
		t.Error("a secret moved to another channel opened")
	}
	k2 := make([]byte, 32)
	k2[0] = 1
	s2, _ := NewSealer(k2)
	if _, err := s2.Open(v, "ch1\x00bot_token"); err == nil || !strings.Contains(err.Error(), KeyEnv) {
		t.Errorf("another key: %v", err)
	}
}

func TestLoadKeyFileAndEnv(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "keys", "channel.key")
	t.Setenv("TEST_ATOLL_KEY", "")
	k1, err := LoadKey(file, "TEST_ATOLL_KEY")
	if err != nil || len(k1) != 32 {
		t.Fatal(err)
	}
	fi, _ := os.Stat(file)
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("key file mode %v", fi.Mode().Perm())
	}
	k2, _ := LoadKey(file, "TEST_ATOLL_KEY")
	if string(k1) != string(k2) {
		t.Error("the key changed between loads")
	}
	t.Setenv("TEST_ATOLL_KEY", strings.Repeat("ab", 32))
	k3, err := LoadKey(file, "TEST_ATOLL_KEY")
	if err != nil || k3[0] != 0xab {
		t.Errorf("env key not used: %v", err)
	}
	t.Setenv("TEST_ATOLL_KEY", "short")
	if _, err := LoadKey(file, "TEST_ATOLL_KEY"); err == nil {
		t.Error("a short env key was accepted")
	}
	os.WriteFile(file, []byte("garbage"), 0o600)
	t.Setenv("TEST_ATOLL_KEY", "")
	if _, err := LoadKey(file, "TEST_ATOLL_KEY"); err == nil {
		t.Error("a damaged key file was accepted")
	}
}

// fake is a kind for dispatcher tests: a JSON-free callback "id user text"
// with a shared-secret header, and a Send that records.
type fake struct {
	mu    sync.Mutex
	sent  []string
	fails atomic.Int32 // transient send failures to produce first
}

var fakes sync.Map // channel ID → *fake

func init() {
	Register(Factory{Kind: "test", Ack: time.Second,
		Fields: []Field{{Key: "secret", Secret: true, Required: true}, {Key: "note"}},
		New: func(e Env) (Adapter, error) {
			f := &fake{}
			fakes.Store(e.ID, f)
			return f, nil
		}})
}

func (f *fake) Receive(r *http.Request, body []byte) (Callback, error) {
	if r.Header.Get("X-Secret") != "s" {
		return Callback{}, Unauthorized("bad secret")
	}
	p := strings.SplitN(string(body), " ", 3)
	if len(p) != 3 {
		return Callback{}, BadRequest("want 'id user text'")
	}
	return Callback{Messages: []Message{{ID: p[0], User: p[1], Text: p[2]}}, Body: []byte("ok")}, nil
}

func (f *fake) Send(ctx context.Context, m Message, r Reply) error {
	if f.fails.Load() > 0 {
		f.fails.Add(-1)
		return Retryable(errors.New("platform 503"))
	}
	f.mu.Lock()
	f.sent = append(f.sent, m.User+": "+r.Text)
	f.mu.Unlock()
	return nil
}

func (f *fake) Sent() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.sent...)
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func post(t *testing.T, url, body string) (int, string) {
	req, _ := http.NewRequest(http.MethodPost, url, strings.NewReader(body))
	req.Header.Set("X-Secret", "s")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode, ""
}

func newTestHub(t *testing.T, opt Options) (*Dispatcher, *httptest.Server) {
	d := New(opt)
	mux := http.NewServeMux()
	mux.Handle("/ch/{id}", d)
	srv := httptest.NewServer(mux)
	t.Cleanup(func() { srv.Close(); d.Close() })
	return d, srv
}

func TestDispatchQueueFullAsksPlatformToRetry(t *testing.T) {
	gate := make(chan struct{})
	var asked atomic.Int32
	ans := AnswerFunc(func(ctx context.Context, q Question) (Reply, error) {
		asked.Add(1)
		<-gate
		return Reply{Text: "a:" + q.Text}, nil
	})
	d, srv := newTestHub(t, Options{Answerer: ans, Workers: 1, Queue: 1})
	d.Add(Config{ID: "c1", Kind: "test", Settings: map[string]string{"secret": "s"}})
	url := srv.URL + "/ch/c1"
	post(t, url, "m1 u hello")                                                    // taken by the worker
	waitFor(t, "the worker to take m1", func() bool { return asked.Load() == 1 }) // queue empty again
	if st, _ := post(t, url, "m2 u hi"); st != 200 {                              // fills the queue
		t.Fatalf("m2: %d", st)
	}
	if st, _ := post(t, url, "m3 u hey"); st != 503 {
		t.Fatalf("m3 with a full queue: %d, want 503 so the platform retries", st)
	}
	close(gate)
	f, _ := fakes.Load("c1")
	waitFor(t, "m1 and m2 answered", func() bool { return len(f.(*fake).Sent()) == 2 })
	// The refused message was not marked seen: the platform's retry is taken.
	if st, _ := post(t, url, "m3 u hey"); st != 200 {
		t.Fatalf("retry of m3: %d", st)
	}
	waitFor(t, "m3 answered", func() bool { return len(f.(*fake).Sent()) == 3 })
}

func TestDispatchSorryAndRetriedSend(t *testing.T) {
	ans := AnswerFunc(func(ctx context.Context, q Question) (Reply, error) {
		if q.Text == "break" {
			return Reply{}, errors.New("model offline")
		}
		return Reply{Text: "a:" + q.Text}, nil
	})
	d, srv := newTestHub(t, Options{Answerer: ans, SorryText: DefaultSorry})
	ch, _ := d.Add(Config{ID: "c2", Kind: "test", Settings: map[string]string{"secret": "s"}})
	fv, _ := fakes.Load("c2")
	f := fv.(*fake)
	post(t, srv.URL+"/ch/c2", "m1 u break")
	waitFor(t, "the apology", func() bool { return len(f.Sent()) == 1 })
	if f.Sent()[0] != "u: "+DefaultSorry {
		t.Errorf("sent %q", f.Sent())
	}
	st := ch.Status()
	if st.Failed != 1 || st.Answered != 0 || !strings.Contains(st.LastError, "model offline") {
		t.Errorf("status %+v", st)
	}
	f.fails.Store(2) // two transient failures, then success
	post(t, srv.URL+"/ch/c2", "m2 u hi")
	waitFor(t, "the retried reply", func() bool { return len(f.Sent()) == 2 })
	if ch.Status().Answered != 1 {
		t.Errorf("answered %d", ch.Status().Answered)
	}
}

func TestDispatchRefusals(t *testing.T) {
	d, srv := newTestHub(t, Options{Answerer: AnswerFunc(func(context.Context, Question) (Reply, error) { return Reply{}, nil }), MaxBody: 64})
	d.Add(Config{ID: "c3", Kind: "test", Settings: map[string]string{"secret": "s"}})
	if st, _ := post(t, srv.URL+"/ch/nope", "m u x"); st != 404 {
		t.Errorf("unknown channel: %d", st)
	}
	if st, _ := post(t, srv.URL+"/ch/c3", strings.Repeat("x", 100)); st != 413 {
		t.Errorf("large body: %d", st)
	}
	if st, _ := post(t, srv.URL+"/ch/c3", "garbage"); st != 400 {
		t.Errorf("unreadable body: %d", st)
	}
	d.Remove("c3")
	if st, _ := post(t, srv.URL+"/ch/c3", "m u x"); st != 404 {
		t.Errorf("removed channel: %d", st)
	}
	for _, c := range []Config{
		{ID: "", Kind: "test", Settings: map[string]string{"secret": "s"}},
		{ID: "a/b", Kind: "test", Settings: map[string]string{"secret": "s"}},
		{ID: "x", Kind: "nope"},
		{ID: "x", Kind: "test", APIBase: "ftp://x", Settings: map[string]string{"secret": "s"}},
	} {
		if _, err := d.Add(c); err == nil {
			t.Errorf("config %+v accepted", c)
		}
	}
}

func TestSealedConfigNeverShowsSecrets(t *testing.T) {
	s, _ := NewSealer(make([]byte, 32))
	cfg := Config{ID: "c4", Kind: "test", Agent: "baker", Settings: map[string]string{"secret": "super-secret-value-1234", "note": "shop"}}
	st, err := Seal(cfg, s)
	if err != nil {
		t.Fatal(err)
	}
	if st.Settings["note"] != "shop" || strings.Contains(fmt.Sprint(st), "super-secret") {
		t.Errorf("stored %+v", st)
	}
	back, err := st.Open(s)
	if err != nil || back.Settings["secret"] != "super-secret-value-1234" {
		t.Errorf("open: %+v %v", back, err)
	}
	p := PublicView(back)
	if p.Settings["secret"] != "••••1234" || p.Settings["note"] != "shop" {
		t.Errorf("public view %+v", p)
	}
	if Mask("short") != "••••" || Mask("") != "" {
		t.Error("mask")
	}
}

// sumSink adds up what a dispatcher tells it, as a hub's replicas do.
type sumSink struct {
	mu  sync.Mutex
	got map[string]Delta
}

func (s *sumSink) Note(_ context.Context, ws, id string, d Delta) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.got[ws+"/"+id]
	p.Received += d.Received
	p.Answered += d.Answered
	p.Failed += d.Failed
	p.Duplicates += d.Duplicates
	p.Rejected += d.Rejected
	p.Votes += d.Votes
	if !d.LastMessage.IsZero() {
		p.LastMessage = d.LastMessage
	}
	if !d.LastReply.IsZero() {
		p.LastReply = d.LastReply
	}
	if !d.LastErrorAt.IsZero() {
		p.LastError, p.LastErrorAt = d.LastError, d.LastErrorAt
	}
	s.got[ws+"/"+id] = p
}

func (s *sumSink) of(key string) Delta {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.got[key]
}

// TestDispatchTellsStatusSink: every change to a channel's status reaches
// the sink, so replicas sharing one see what this one counted.
func TestDispatchTellsStatusSink(t *testing.T) {
	ans := AnswerFunc(func(ctx context.Context, q Question) (Reply, error) {
		if q.Text == "break" {
			return Reply{}, errors.New("model offline")
		}
		return Reply{Text: "a:" + q.Text}, nil
	})
	sink := &sumSink{got: map[string]Delta{}}
	d, srv := newTestHub(t, Options{Answerer: ans, Status: sink})
	ch, _ := d.Add(Config{ID: "c4", Workspace: "w", Kind: "test", Settings: map[string]string{"secret": "s"}})
	post(t, srv.URL+"/ch/c4", "m1 u hi")
	post(t, srv.URL+"/ch/c4", "m1 u hi") // a retry
	post(t, srv.URL+"/ch/c4", "m2 u break")
	waitFor(t, "both handled", func() bool { s := sink.of("w/c4"); return s.Answered == 1 && s.Failed == 1 })
	got, st := sink.of("w/c4"), ch.Status()
	if got.Received != 2 || got.Duplicates != 1 || got.Received != st.Received || got.Duplicates != st.Duplicates ||
		!got.LastMessage.Equal(st.LastMessage) || !got.LastReply.Equal(st.LastReply) || !strings.Contains(got.LastError, "model offline") || got.LastError != st.LastError {
		t.Fatalf("the sink got %+v, the channel's status is %+v", got, st)
	}
}
