package main

import (
	"fmt"
	"math/rand/v2"
	"net"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"atoll/hub"
	"atoll/internal/ollamafake"
	"atoll/llm"
)

// countingListener counts every byte the hub reads from its connections.
type countingListener struct {
	net.Listener
	n *atomic.Int64
}

func (l countingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return countingConn{c, l.n}, nil
}

type countingConn struct {
	net.Conn
	n *atomic.Int64
}

func (c countingConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	c.n.Add(int64(n))
	return n, err
}

// TestPublishFailsCleanly: a wrong token or an unreachable hub is refused
// before anything is uploaded, and never replaces the remembered hub; the
// summary of what leaves the machine comes before the upload.
func TestPublishFailsCleanly(t *testing.T) {
	fake := ollamafake.New(t)
	data, docs, hubDir := t.TempDir(), t.TempDir(), t.TempDir()
	// Enough text that an upload shows (~100 KB of bundle).
	r := rand.New(rand.NewPCG(1, 2))
	var b strings.Builder
	for i := 0; b.Len() < 120<<10; i++ {
		if i%80 == 0 {
			fmt.Fprintf(&b, "\n\n## Section %d\n\n", i/80)
		}
		w := make([]byte, 3+r.IntN(6))
		for j := range w {
			w[j] = byte('a' + r.IntN(26))
		}
		b.Write(w)
		b.WriteByte(' ')
	}
	write(t, docs, "bakery/prices.md", bakeryEN+b.String())
	if r := atoll(t, "--data", data, "--ollama", fake.URL, "ingest", "--kb", "shop", "--embed-model", ollamafake.DefaultEmbedModel, filepath.Join(docs, "bakery")); r.code != 0 {
		t.Fatal(r.stderr)
	}
	if r := atoll(t, "--data", data, "agent", "create", "baker", "--kb", "shop", "--model", ollamafake.DefaultChatModel); r.code != 0 {
		t.Fatal(r.stderr)
	}
	c, _ := llm.New(fake.URL)
	h, err := hub.New(hub.Config{Dir: hubDir, Model: c, Embedder: c, Import: hub.Importer(c)})
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	var received atomic.Int64
	srv := httptest.NewUnstartedServer(h.Handler())
	srv.Listener = countingListener{srv.Listener, &received}
	srv.Start()
	defer srv.Close()
	tok := strings.TrimSpace(atoll(t, "--data", hubDir, "hub", "token", "create").stdout)

	// A remembered hub that works, as after an earlier publish.
	cfgPath := filepath.Join(data, "publish.json")
	remembered := fmt.Sprintf("{\n  \"url\": %q,\n  \"token\": %q\n}", srv.URL, tok)
	if err := os.WriteFile(cfgPath, []byte(remembered), 0o600); err != nil {
		t.Fatal(err)
	}
	unchanged := func(what string) {
		t.Helper()
		if b, err := os.ReadFile(cfgPath); err != nil || string(b) != remembered {
			t.Fatalf("%s rewrote publish.json: %s (%v)", what, b, err)
		}
	}

	r1 := atoll(t, "--data", data, "--ollama", fake.URL, "publish", "--agent", "baker", "--token", "atl_wrong")
	if n := received.Load(); n > 4<<10 {
		t.Errorf("the hub received %d bytes for a publish with a wrong token", n)
	}
	if r1.code != 1 || !strings.Contains(r1.stderr, "refused the publisher token") || strings.Contains(r1.stderr, "Uploading") {
		t.Fatalf("wrong token: %+v", r1)
	}
	unchanged("a wrong token")

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	gone := "http://" + ln.Addr().String()
	ln.Close()
	r2 := atoll(t, "--data", data, "--ollama", fake.URL, "publish", "--agent", "baker", "--to", gone, "--token", "atl_other")
	if r2.code != 1 || !strings.Contains(r2.stderr, "couldn't reach the hub at "+gone) {
		t.Fatalf("unreachable hub: %+v", r2)
	}
	unchanged("an unreachable hub")
	r3 := atoll(t, "--data", data, "publish", "--agent", "baker", "--to", gone, "--rollback")
	if r3.code != 1 {
		t.Fatalf("rollback on an unreachable hub: %+v", r3)
	}
	unchanged("a failed rollback")

	// Without a terminal: the summary, then the upload, then the address
	// and token are remembered.
	before := received.Load()
	ok := atoll(t, "--data", data, "--ollama", fake.URL, "publish", "--agent", "baker", "--to", srv.URL+"/", "--token", tok)
	if ok.code != 0 || !strings.Contains(ok.stdout, "version 1") {
		t.Fatalf("publish: %+v", ok)
	}
	if n := received.Load() - before; n < 64<<10 {
		t.Fatalf("the upload was only %d bytes: the document is too small to show a refused upload", n)
	}
	for _, want := range []string{"Publishing to " + srv.URL + ":", "Agent:            baker", "shop (1 document, ", "passages)", "Original files:   not included"} {
		if !strings.Contains(ok.stdout, want) {
			t.Errorf("summary lacks %q:\n%s", want, ok.stdout)
		}
	}
	if strings.Index(ok.stdout, "Publishing to") > strings.Index(ok.stdout, "Published baker") {
		t.Errorf("the summary must come before the result:\n%s", ok.stdout)
	}
	if b, _ := os.ReadFile(cfgPath); !strings.Contains(string(b), tok) || !strings.Contains(string(b), `"url": "`+srv.URL+`"`) {
		t.Fatalf("publish.json after a successful publish: %s", b)
	}

	// In a terminal, answering no sends nothing.
	defer func(f func(*env, string) (bool, bool)) { publishConfirm = f }(publishConfirm)
	var asked string
	publishConfirm = func(e *env, q string) (bool, bool) { asked = q; return true, false }
	before = received.Load()
	no := atoll(t, "--data", data, "--ollama", fake.URL, "publish", "--agent", "baker", "--with-sources")
	if no.code != 1 || asked == "" || !strings.Contains(no.stderr, "nothing was sent") || !strings.Contains(no.stdout, "Original files:   included") {
		t.Fatalf("declined: %+v (asked %q)", no, asked)
	}
	if n := received.Load() - before; n > 4<<10 {
		t.Fatalf("a declined publish sent %d bytes", n)
	}
	asked = ""
	if yes := atoll(t, "--data", data, "--ollama", fake.URL, "publish", "--agent", "baker", "--yes"); yes.code != 0 || asked != "" || !strings.Contains(yes.stdout, "version 2") {
		t.Fatalf("--yes: %+v (asked %q)", yes, asked)
	}
}
