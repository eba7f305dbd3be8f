package llm_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"atoll/internal/ollamafake"
	"atoll/internal/ollamatest"
	"atoll/llm"
)

// newPool starts a pool over urls (all Ollama) with quick health checks.
func newPool(t testing.TB, cfg llm.PoolConfig, urls ...string) *llm.Pool {
	t.Helper()
	for _, u := range urls {
		cfg.Backends = append(cfg.Backends, llm.BackendSpec{Kind: "ollama", URL: u})
	}
	if cfg.HealthInterval == 0 {
		cfg.HealthInterval = 20 * time.Millisecond
	}
	p, err := llm.NewPool(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Close)
	return p
}

// poolWait polls cond until it holds, failing after a generous deadline.
func poolWait(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

func ask(ctx context.Context, p *llm.Pool, model, q string) (string, error) {
	var b strings.Builder
	_, err := p.Chat(ctx, llm.ChatRequest{Model: model, Messages: []llm.Message{{Role: "user", Content: q}}}, func(s string) error {
		b.WriteString(s)
		return nil
	})
	return b.String(), err
}

// gate makes a fake hold every chat whose question is "slow" until released.
type gate struct {
	ch   chan struct{}
	once sync.Once
}

func newGate() *gate  { return &gate{ch: make(chan struct{})} }
func (g *gate) open() { g.once.Do(func() { close(g.ch) }) }
func (g *gate) install(srv *ollamafake.Server, name string) {
	srv.OnChat(func(r ollamafake.ChatRequest) ollamafake.Reply {
		if r.Messages[len(r.Messages)-1].Content == "slow" {
			<-g.ch
		}
		return ollamafake.Reply{Text: "from " + name}
	})
}

func TestParseBackend(t *testing.T) {
	for in, want := range map[string]llm.BackendSpec{
		"ollama=http://gpu1:11434":   {Kind: "ollama", URL: "http://gpu1:11434"},
		"OpenAI=http://vllm:8000/v1": {Kind: "openai", URL: "http://vllm:8000/v1"},
	} {
		got, err := llm.ParseBackend(in)
		if err != nil || got != want {
			t.Errorf("ParseBackend(%q) = %+v, %v; want %+v", in, got, err, want)
		}
	}
	for _, bad := range []string{"ollama", "http://gpu1:11434", "vllm=http://x", "openai="} {
		if _, err := llm.ParseBackend(bad); err == nil {
			t.Errorf("ParseBackend(%q) accepted", bad)
		}
	}
}

func TestPoolRoutesByModel(t *testing.T) {
	a, b := ollamafake.New(t), ollamafake.New(t)
	a.AddModel(ollamafake.Model{Name: "alpha", ContextLength: 4096, Capabilities: []string{"completion"}})
	b.AddModel(ollamafake.Model{Name: "beta", ContextLength: 4096, Capabilities: []string{"completion"}})
	a.OnChat(func(ollamafake.ChatRequest) ollamafake.Reply { return ollamafake.Reply{Text: "A"} })
	b.OnChat(func(ollamafake.ChatRequest) ollamafake.Reply { return ollamafake.Reply{Text: "B"} })
	p := newPool(t, llm.PoolConfig{}, a.URL, b.URL)
	var misrouted atomic.Int64
	p.OnEvent(func(ev llm.PoolEvent) {
		if ev.Error != "" {
			misrouted.Add(1)
		}
	})
	ctx := ctxT(t)
	for range 3 {
		if got, err := ask(ctx, p, "alpha", "hi"); err != nil || got != "A" {
			t.Fatalf("alpha: %q, %v", got, err)
		}
		if got, err := ask(ctx, p, "beta:latest", "hi"); err != nil || got != "B" {
			t.Fatalf("beta: %q, %v", got, err)
		}
	}
	_, err := ask(ctx, p, "gamma", "hi")
	if !errors.Is(err, llm.ErrModelNotFound) || !strings.Contains(llm.Sentence(err), `"gamma" is not installed`) {
		t.Fatalf("gamma: %v (%s)", err, llm.Sentence(err))
	}
	if n := misrouted.Load(); n > 0 {
		t.Fatalf("%d requests went to a server without their model", n)
	}
	if len(a.Chats())+len(b.Chats()) != 6 {
		t.Fatalf("chats sent: %d + %d, want 6 (none for a model no server has)", len(a.Chats()), len(b.Chats()))
	}
	if info, err := p.Show(ctx, "beta"); err != nil || info.ContextLength != 4096 {
		t.Fatalf("Show(beta) = %+v, %v", info, err)
	}
	list, err := p.List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	names := map[string]int{}
	for _, m := range list {
		names[strings.TrimSuffix(m.Name, ":latest")]++
	}
	if names["alpha"] != 1 || names["beta"] != 1 || names[ollamafake.DefaultChatModel] != 1 {
		t.Fatalf("List: %v (want each model once)", names)
	}
	vecs, err := p.Embed(ctx, ollamafake.DefaultEmbedModel, []string{"x"})
	if err != nil || len(vecs) != 1 {
		t.Fatalf("Embed: %d, %v", len(vecs), err)
	}
}

func TestPoolLeastOutstanding(t *testing.T) {
	a, b := ollamafake.New(t), ollamafake.New(t)
	g := newGate()
	defer g.open()
	g.install(a, "A")
	g.install(b, "B")
	p := newPool(t, llm.PoolConfig{}, a.URL, b.URL)
	ctx := ctxT(t)

	slowDone := make(chan error, 1)
	go func() { _, err := ask(ctx, p, ollamafake.DefaultChatModel, "slow"); slowDone <- err }()
	poolWait(t, "the slow chat to arrive", func() bool { return len(a.Chats())+len(b.Chats()) == 1 })
	busy, idle, idleName := a, b, "from B"
	if len(b.Chats()) == 1 {
		busy, idle, idleName = b, a, "from A"
	}
	for i := range 6 {
		got, err := ask(ctx, p, ollamafake.DefaultChatModel, fmt.Sprint("fast ", i))
		if err != nil || got != idleName {
			t.Fatalf("fast %d: %q, %v; want %q (the backend without the slow chat)", i, got, err, idleName)
		}
	}
	if len(busy.Chats()) != 1 || len(idle.Chats()) != 6 {
		t.Fatalf("busy got %d chats, idle %d; want 1 and 6", len(busy.Chats()), len(idle.Chats()))
	}
	g.open()
	if err := <-slowDone; err != nil {
		t.Fatal(err)
	}
}

func TestPoolConcurrencyLimitQueueBusy(t *testing.T) {
	a := ollamafake.New(t)
	g := newGate()
	defer g.open()
	g.install(a, "A")
	p := newPool(t, llm.PoolConfig{MaxConcurrent: 2, MaxQueue: 1}, a.URL)
	ctx := ctxT(t)

	results := make(chan error, 3)
	for range 2 {
		go func() { _, err := ask(ctx, p, ollamafake.DefaultChatModel, "slow"); results <- err }()
	}
	poolWait(t, "two chats at the server", func() bool { return len(a.Chats()) == 2 })
	go func() { _, err := ask(ctx, p, ollamafake.DefaultChatModel, "slow"); results <- err }()
	poolWait(t, "one chat queued", func() bool { return p.Status().Queued == 1 })
	if n := len(a.Chats()); n != 2 {
		t.Fatalf("the server got %d chats with a limit of 2", n)
	}

	_, err := ask(ctx, p, ollamafake.DefaultChatModel, "one too many")
	var busy *llm.BusyError
	if !errors.Is(err, llm.ErrBusy) || !errors.As(err, &busy) || busy.RetryAfter < time.Second {
		t.Fatalf("beyond the queue: %v; want a BusyError with a retry time", err)
	}
	if s := llm.Sentence(err); !strings.Contains(s, "busy") || !strings.Contains(s, "try again in") {
		t.Fatalf("sentence %q", s)
	}
	st := p.Status()
	if st.Backends[0].Outstanding != 2 || st.Backends[0].Limit != 2 || !st.Ready {
		t.Fatalf("status %+v", st)
	}

	g.open()
	for range 3 {
		if err := <-results; err != nil {
			t.Fatalf("a held or queued chat failed: %v", err)
		}
	}
	if n := len(a.Chats()); n != 3 {
		t.Fatalf("the server got %d chats, want 3 (the busy one never sent)", n)
	}
	poolWait(t, "slots released", func() bool { return p.Status().Backends[0].Outstanding == 0 })
}

func TestPoolQueueWaitEndsBusy(t *testing.T) {
	a := ollamafake.New(t)
	g := newGate()
	defer g.open()
	g.install(a, "A")
	p := newPool(t, llm.PoolConfig{MaxConcurrent: 1, QueueWait: 50 * time.Millisecond}, a.URL)
	ctx := ctxT(t)
	go ask(ctx, p, ollamafake.DefaultChatModel, "slow")
	poolWait(t, "the slow chat", func() bool { return len(a.Chats()) == 1 })
	if _, err := ask(ctx, p, ollamafake.DefaultChatModel, "waits"); !errors.Is(err, llm.ErrBusy) {
		t.Fatalf("after the queue wait: %v, want ErrBusy", err)
	}
	if q := p.Status().Queued; q != 0 {
		t.Fatalf("%d left in the queue", q)
	}
}

func TestPoolFailoverBeforeFirstToken(t *testing.T) {
	a, b := ollamafake.New(t), ollamafake.New(t)
	a.OnChat(func(ollamafake.ChatRequest) ollamafake.Reply {
		return ollamafake.Reply{Status: 500, Error: "llama runner process has terminated"}
	})
	b.OnChat(func(ollamafake.ChatRequest) ollamafake.Reply { return ollamafake.Reply{Text: "fine answer"} })
	p := newPool(t, llm.PoolConfig{}, a.URL, b.URL)
	var events []llm.PoolEvent
	var mu sync.Mutex
	p.OnEvent(func(ev llm.PoolEvent) { mu.Lock(); events = append(events, ev); mu.Unlock() })
	ctx := ctxT(t)
	for i := range 4 {
		got, err := ask(ctx, p, ollamafake.DefaultChatModel, fmt.Sprint("q", i))
		if err != nil || got != "fine answer" {
			t.Fatalf("q%d: %q, %v", i, got, err)
		}
	}
	if len(a.Chats()) == 0 {
		t.Fatal("the failing backend was never tried, so failover was not exercised")
	}
	mu.Lock()
	failovers := 0
	for _, ev := range events {
		if ev.Failover {
			failovers++
			if ev.Backend != strings.TrimSuffix(a.URL, "/") || ev.Error != "other" {
				t.Fatalf("failover event %+v", ev)
			}
		}
	}
	mu.Unlock()
	if failovers != len(a.Chats()) {
		t.Fatalf("%d failover events for %d failed chats", failovers, len(a.Chats()))
	}
	if st := p.Status(); st.Backends[0].Errors["other"] == 0 {
		t.Fatalf("errors not counted: %+v", st.Backends[0])
	}

	// When every backend fails, the caller gets the backend's own error.
	b.OnChat(func(ollamafake.ChatRequest) ollamafake.Reply {
		return ollamafake.Reply{Status: 500, Error: "llama runner process has terminated"}
	})
	_, err := ask(ctx, p, ollamafake.DefaultChatModel, "q")
	if err == nil || !strings.Contains(err.Error(), "runner process has terminated") {
		t.Fatalf("all failing: %v", err)
	}
}

func TestPoolNoFailoverAfterFirstToken(t *testing.T) {
	a, b := ollamafake.New(t), ollamafake.New(t)
	cut := func(ollamafake.ChatRequest) ollamafake.Reply {
		return ollamafake.Reply{Text: "one two three four", CutAfter: 2}
	}
	a.OnChat(cut)
	b.OnChat(cut)
	p := newPool(t, llm.PoolConfig{}, a.URL, b.URL)
	got, err := ask(ctxT(t), p, ollamafake.DefaultChatModel, "q")
	if !errors.Is(err, llm.ErrStreamCut) && !errors.Is(err, llm.ErrUnavailable) {
		t.Fatalf("a cut stream: %v", err)
	}
	if got != "one two" {
		t.Fatalf("the caller got %q: a second answer was appended to the cut one", got)
	}
	if n := len(a.Chats()) + len(b.Chats()); n != 1 {
		t.Fatalf("%d chats sent; a stream cut after its first token must not be retried", n)
	}
}

// tcpProxy stands for a model server that can be killed and restarted at
// the same address.
type tcpProxy struct {
	addr, target string
	mu           sync.Mutex
	ln           net.Listener
	conns        map[net.Conn]bool
}

func newProxy(t *testing.T, target string) *tcpProxy {
	p := &tcpProxy{target: strings.TrimPrefix(target, "http://"), conns: map[net.Conn]bool{}}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p.addr = ln.Addr().String()
	p.serve(ln)
	t.Cleanup(p.kill)
	return p
}

func (p *tcpProxy) URL() string { return "http://" + p.addr }

func (p *tcpProxy) serve(ln net.Listener) {
	p.mu.Lock()
	p.ln = ln
	p.mu.Unlock()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			u, err := net.Dial("tcp", p.target)
			if err != nil {
				c.Close()
				continue
			}
			p.mu.Lock()
			p.conns[c], p.conns[u] = true, true
			p.mu.Unlock()
			go func() { io.Copy(u, c); u.Close() }()
			go func() { io.Copy(c, u); c.Close() }()
		}
	}()
}

// kill closes the listener and every connection, as a crashed server does.
func (p *tcpProxy) kill() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.ln != nil {
		p.ln.Close()
		p.ln = nil
	}
	for c := range p.conns {
		c.Close()
	}
	clear(p.conns)
}

func (p *tcpProxy) restart(t *testing.T) {
	var ln net.Listener
	poolWait(t, "the old address to be free", func() bool {
		var err error
		ln, err = net.Listen("tcp", p.addr)
		return err == nil
	})
	p.serve(ln)
}

func TestPoolBackendKilledDuringLoadAndBack(t *testing.T) {
	a, b := ollamafake.New(t), ollamafake.New(t)
	slow := func(ollamafake.ChatRequest) ollamafake.Reply {
		return ollamafake.Reply{Text: "a b c d e f", Delay: 2 * time.Millisecond}
	}
	a.OnChat(slow)
	b.OnChat(slow)
	front := newProxy(t, a.URL)
	p := newPool(t, llm.PoolConfig{MaxConcurrent: 8}, front.URL(), b.URL)
	ctx := ctxT(t)

	var (
		stop      atomic.Bool
		ok, cut   atomic.Int64
		wrong     atomic.Int64
		wg        sync.WaitGroup
		firstErrs sync.Map
	)
	for w := range 6 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for !stop.Load() {
				got, err := ask(ctx, p, ollamafake.DefaultChatModel, "q")
				switch {
				case err == nil && got == "a b c d e f":
					ok.Add(1)
				case err != nil && (errors.Is(err, llm.ErrStreamCut) || errors.Is(err, llm.ErrUnavailable)) && got != "":
					cut.Add(1) // a stream already under way on the killed server
				default:
					wrong.Add(1)
					firstErrs.LoadOrStore(w, fmt.Sprintf("%q, %v", got, err))
				}
			}
		}()
	}
	poolWait(t, "load on both backends", func() bool { return len(a.Chats()) >= 5 && len(b.Chats()) >= 5 })
	front.kill()
	a.Close()
	afterKill := ok.Load()
	poolWait(t, "answers to continue on the other backend", func() bool { return ok.Load() >= afterKill+30 })
	st := p.Status()
	if st.Backends[0].Healthy || !st.Backends[1].Healthy || !st.Ready {
		t.Fatalf("status after the kill: %+v", st)
	}

	// The server returns (a new process at the same address).
	a2 := ollamafake.New(t)
	a2.OnChat(slow)
	front.target = strings.TrimPrefix(a2.URL, "http://")
	front.restart(t)
	poolWait(t, "the returned backend to take answers", func() bool { return len(a2.Chats()) >= 5 })
	stop.Store(true)
	wg.Wait()
	firstErrs.Range(func(k, v any) bool { t.Errorf("worker %v: %v", k, v); return true })
	if wrong.Load() > 0 {
		t.Fatalf("%d answers failed other than by a cut stream (ok %d, cut %d)", wrong.Load(), ok.Load(), cut.Load())
	}
	if !p.Status().Backends[0].Healthy {
		t.Fatal("the returned backend is not healthy")
	}
	t.Logf("ok %d, cut mid-stream %d", ok.Load(), cut.Load())
}

func TestPoolAllDown(t *testing.T) {
	a := ollamafake.New(t)
	a.Close()
	p := newPool(t, llm.PoolConfig{}, a.URL)
	if p.Status().Ready {
		t.Fatal("ready with the only backend down")
	}
	_, err := ask(ctxT(t), p, ollamafake.DefaultChatModel, "q")
	if !errors.Is(err, llm.ErrUnavailable) || !strings.Contains(llm.Sentence(err), "not reachable at "+strings.TrimSuffix(a.URL, "/")) {
		t.Fatalf("all down: %v (%s)", err, llm.Sentence(err))
	}
}

// BenchmarkPoolAnswers measures answers/s through a pool of 1 and 2 fake
// backends, each answering 8 tokens 1 ms apart with up to 2 answers at once
// (a stand-in for a GPU's parallel slots): the pool should add the second
// backend's capacity.
//
//	go test -run '^$' -bench PoolAnswers -benchtime 2s ./llm/
func BenchmarkPoolAnswers(b *testing.B) {
	for _, n := range []int{1, 2} {
		b.Run(fmt.Sprintf("backends=%d", n), func(b *testing.B) {
			var urls []string
			for range n {
				srv := ollamafake.New(b)
				srv.OnChat(func(ollamafake.ChatRequest) ollamafake.Reply {
					return ollamafake.Reply{Text: "one two three four five six seven eight", Delay: time.Millisecond}
				})
				urls = append(urls, srv.URL)
			}
			p := newPool(b, llm.PoolConfig{MaxConcurrent: 2, MaxQueue: 1024}, urls...)
			ctx := context.Background()
			b.SetParallelism(4) // 4×GOMAXPROCS clients: more than the slots
			start := time.Now()
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if _, err := ask(ctx, p, ollamafake.DefaultChatModel, "q"); err != nil {
						b.Error(err)
						return
					}
				}
			})
			b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "answers/s")
		})
	}
}

// TestPoolRealOllamaAndFake proves the pool speaks the real protocol: the
// health check reads the real server's models, and a chat and an embedding
// for its model go there, while the fake's model goes to the fake.
func TestPoolRealOllamaAndFake(t *testing.T) {
	srv := ollamatest.Shared(t)
	f := ollamafake.New(t)
	f.OnChat(func(ollamafake.ChatRequest) ollamafake.Reply { return ollamafake.Reply{Text: "from the fake"} })
	p := newPool(t, llm.PoolConfig{HealthInterval: time.Second}, srv.URL, f.URL)
	st := p.Status()
	if !st.Backends[0].Healthy || !slices.Contains(st.Backends[0].Models, srv.ChatModel) {
		t.Fatalf("the real server's status: %+v", st.Backends[0])
	}
	ctx := realCtx(t)
	var tokens int
	res, err := p.Chat(ctx, llm.ChatRequest{Model: srv.ChatModel, NumPredict: 8,
		Messages: []llm.Message{{Role: "user", Content: "hello"}}}, func(string) error { tokens++; return nil })
	if err != nil || tokens == 0 || res.EvalTokens == 0 || res.TTFT <= 0 {
		t.Fatalf("real chat through the pool: %+v, %d tokens, %v", res, tokens, err)
	}
	if len(f.Chats()) != 0 {
		t.Fatalf("the fake got %d chats for the real server's model", len(f.Chats()))
	}
	vecs, err := p.Embed(ctx, srv.EmbedModel, []string{"a", "b"})
	if err != nil || len(vecs) != 2 || len(vecs[0]) != ollamatest.EmbeddingLength {
		t.Fatalf("real embed through the pool: %d vectors, %v", len(vecs), err)
	}
	if got, err := ask(ctx, p, ollamafake.DefaultChatModel, "q"); err != nil || got != "from the fake" {
		t.Fatalf("fake's model: %q, %v", got, err)
	}
	if st := p.Status(); st.Backends[0].Requests != 2 || st.Backends[1].Requests != 1 {
		t.Fatalf("requests per backend: %d, %d; want 2, 1", st.Backends[0].Requests, st.Backends[1].Requests)
	}
}
