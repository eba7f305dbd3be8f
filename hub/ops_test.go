package hub

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"atoll/internal/ollamafake"
	"atoll/llm"
)

// syncBuffer is a log destination safe for the server's goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// servedHub runs a hub with the given grace on a loopback port; stop
// starts the shutdown (as SIGTERM does) and done is closed when Serve returns.
func servedHub(t *testing.T, grace time.Duration, log *syncBuffer) (addr string, fake *ollamafake.Server, stop func(), done chan struct{}) {
	fake = ollamafake.New(t)
	c, _ := llm.New(fake.URL)
	dir := t.TempDir()
	legacyFolder(t, dir, ollamafake.DefaultChatModel)
	h, err := New(Config{Dir: dir, Model: c, Embedder: c, ShutdownGrace: grace, Log: slog.New(slog.NewJSONHandler(log, nil))})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(h.Close)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done = make(chan struct{})
	go func() { h.Serve(ctx, ln); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	return ln.Addr().String(), fake, cancel, done
}

// TestHealthReadyAndRequestIDs: /healthz and /readyz answer a balancer
// (never rate-limited), every response carries a request id, and the log
// line of the request names it.
func TestHealthReadyAndRequestIDs(t *testing.T) {
	var log syncBuffer
	addr, _, _, _ := servedHub(t, time.Second, &log)
	for _, p := range []string{"/healthz", "/readyz"} {
		res, err := http.Get("http://" + addr + p)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode != 200 || !json.Valid(b) {
			t.Fatalf("%s: %d %s", p, res.StatusCode, b)
		}
	}
	res, err := http.Get("http://" + addr + "/api/agents")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	id := res.Header.Get("X-Request-ID")
	if len(id) < 8 {
		t.Fatalf("no request id: %q", id)
	}
	waitFor(t, 10*time.Second, func() bool { return strings.Contains(log.String(), `"request":"`+id+`"`) })
	// A client's own X-Request-ID is not believed (only a trusted proxy's).
	req, _ := http.NewRequest("GET", "http://"+addr+"/api/agents", nil)
	req.Header.Set("X-Request-ID", "forged-id")
	res, _ = http.DefaultClient.Do(req)
	res.Body.Close()
	if res.Header.Get("X-Request-ID") == "forged-id" {
		t.Fatal("an untrusted client chose its request id")
	}
}

// TestShutdownDrainsStreams: on shutdown a running stream finishes within
// the grace period and new connections are refused; a stream longer than
// the grace is cut when the grace ends.
func TestShutdownDrainsStreams(t *testing.T) {
	var log syncBuffer
	addr, fake, stop, done := servedHub(t, 20*time.Second, &log)
	fake.OnChat(func(ollamafake.ChatRequest) ollamafake.Reply {
		return ollamafake.Reply{Tokens: strings.Fields("a b c d e f g h"), Delay: 100 * time.Millisecond}
	})
	type out struct {
		o   streamOutcome
		err error
	}
	got := make(chan out, 1)
	go func() {
		o, err := stream(http.DefaultClient, "http://"+addr, "baker", "How much notice do birthday cakes need?", "k1", "")
		got <- out{o, err}
	}()
	waitFor(t, 20*time.Second, func() bool { return len(fake.Chats()) > 0 })
	stop()
	r := <-got
	if r.err != nil || !r.o.done || r.o.text != "abcdefgh" {
		t.Fatalf("a stream running at shutdown: %+v %v", r.o, r.err)
	}
	select {
	case <-done:
	case <-time.After(20 * time.Second):
		t.Fatal("the hub did not stop after its last stream")
	}
	if _, err := http.Get("http://" + addr + "/healthz"); err == nil {
		t.Fatal("a stopped hub still accepts connections")
	}

	// A grace shorter than the answer: the stream is cut, the hub stops.
	addr, fake, stop, done = servedHub(t, 300*time.Millisecond, &log)
	fake.OnChat(func(ollamafake.ChatRequest) ollamafake.Reply {
		return ollamafake.Reply{Tokens: strings.Fields("a b c d e f g h i j k l m n o p"), Delay: 500 * time.Millisecond}
	})
	go func() {
		o, err := stream(http.DefaultClient, "http://"+addr, "baker", "How much notice do birthday cakes need?", "k2", "")
		got <- out{o, err}
	}()
	waitFor(t, 20*time.Second, func() bool { return len(fake.Chats()) > 0 })
	stopped := time.Now()
	stop()
	select {
	case <-done:
	case <-time.After(20 * time.Second):
		t.Fatal("the hub did not stop after its grace period")
	}
	if took := time.Since(stopped); took > 5*time.Second {
		t.Errorf("stopping took %v with a grace of 300ms", took)
	}
	if r := <-got; r.err == nil || r.o.done {
		t.Fatalf("a stream past the grace should be cut: %+v", r.o)
	}
}
