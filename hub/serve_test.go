package hub

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"testing"
	"time"

	"atoll/internal/ollamafake"
)

// serve runs h exactly as `atoll hub` does, on a loopback port.
func serve(t testing.TB, h *Hub) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- h.Serve(ctx, ln) }()
	t.Cleanup(func() {
		cancel()
		<-done
	})
	return ln.Addr().String()
}

// rawRequest sends a request's headers declaring a body of bodyLen bytes,
// sends only prefix of it, and returns the status line the server answers
// with, or an error when none comes within wait.
func rawRequest(addr, method, path string, headers map[string]string, bodyLen int, prefix string, wait time.Duration) (string, error) {
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		return "", err
	}
	defer c.Close()
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s HTTP/1.1\r\nHost: %s\r\nContent-Length: %d\r\n", method, path, addr, bodyLen)
	for k, v := range headers {
		fmt.Fprintf(&b, "%s: %s\r\n", k, v)
	}
	b.WriteString("\r\n" + prefix)
	if _, err := io.WriteString(c, b.String()); err != nil {
		return "", err
	}
	c.SetReadDeadline(time.Now().Add(wait))
	line, err := bufio.NewReader(c).ReadString('\n')
	return strings.TrimSpace(line), err
}

// TestRefusedBeforeBody: an unauthenticated publish gets its 401, and a
// rate-limited client its 429, without the server waiting for the body the
// request declared. Before, Go's server drained up to 256 KB of it first, at
// the client's pace, so a trickling client held the connection.
func TestRefusedBeforeBody(t *testing.T) {
	th := newTestHub(t, 1, nil) // burst 10; nothing refills during the test
	addr := serve(t, th.h)
	for _, auth := range []string{"", "Bearer wrong"} {
		h := map[string]string{}
		if auth != "" {
			h["Authorization"] = auth
		}
		line, err := rawRequest(addr, "POST", "/api/publish", h, 100000, "PK", 5*time.Second)
		if err != nil || !strings.Contains(line, " 401 ") {
			t.Fatalf("unauthenticated publish with %q: %q %v; want 401 at once", auth, line, err)
		}
	}
	// Spend the burst (the two refused publishes above counted too).
	for i := 0; i < 8; i++ {
		res, err := http.Get("http://" + addr + "/api/agents")
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
	}
	line, err := rawRequest(addr, "POST", "/v1/chat/completions", map[string]string{"Content-Type": "application/json"}, 100000, "{", 5*time.Second)
	if err != nil || !strings.Contains(line, " 429 ") {
		t.Fatalf("rate-limited client: %q %v; want 429 at once", line, err)
	}
}

// TestSlowBodyIsCut: a body that trickles in below the minimum rate loses
// its connection; a body that arrives at a normal pace is served.
func TestSlowBodyIsCut(t *testing.T) {
	th := newTestHub(t, 0, nil)
	th.h.limits.BodyGrace = 300 * time.Millisecond
	th.h.limits.MinBodyRate = 1000
	addr := serve(t, th.h)
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	fmt.Fprintf(c, "POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n{")
	start := time.Now()
	trickle := time.NewTicker(100 * time.Millisecond)
	defer trickle.Stop()
	closed := make(chan struct{})
	go func() {
		io.Copy(io.Discard, c) // returns when the server closes the connection
		close(closed)
	}()
	give := time.After(30 * time.Second)
	for {
		select {
		case <-closed:
			if el := time.Since(start); el > 20*time.Second {
				t.Fatalf("the slow body held its connection for %v", el)
			}
			th.fake.Script(ollamafake.Reply{Text: "fine"})
			res := post(t, "http://"+addr+"/v1/chat/completions", `{"model":"baker","messages":[{"role":"user","content":"cakes?"}]}`)
			res.Body.Close()
			if res.StatusCode != 200 {
				t.Fatalf("a normal request after the slow one: %d", res.StatusCode)
			}
			return
		case <-trickle.C:
			c.Write([]byte(" "))
		case <-give:
			t.Fatal("a body trickling at 10 bytes a second was never cut off")
		}
	}
}

// TestConnectionsPerAddressCapped: one address cannot hold more than its
// share of connections; another address still gets in.
func TestConnectionsPerAddressCapped(t *testing.T) {
	th := newTestHub(t, 0, nil)
	th.h.limits.ConnsPerIP = 5
	addr := serve(t, th.h)
	var held []net.Conn
	defer func() {
		for _, c := range held {
			c.Close()
		}
	}()
	for i := 0; i < 5; i++ {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		held = append(held, c)
		fmt.Fprintf(c, "GET /api/agents HTTP/1.1\r\nHost: x\r\n\r\n")
		c.SetReadDeadline(time.Now().Add(10 * time.Second))
		if line, err := bufio.NewReader(c).ReadString('\n'); err != nil || !strings.Contains(line, "200") {
			t.Fatalf("connection %d: %q %v", i+1, line, err)
		}
	}
	// The sixth from the same address is closed without an answer.
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(c, "GET /api/agents HTTP/1.1\r\nHost: x\r\n\r\n")
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	if line, err := bufio.NewReader(c).ReadString('\n'); err == nil {
		t.Fatalf("a sixth connection from one address was served: %q", line)
	}
	c.Close()
	lat, errs := otherClient(addr, 3, 5*time.Second)
	if len(errs) > 0 {
		t.Fatalf("another address was refused: %v (%v)", errs, lat)
	}
}

func TestClientAddressBehindTrustedProxies(t *testing.T) {
	h := &Hub{cfg: Config{TrustedProxies: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("::1/128")}}}
	cases := []struct{ remote, xff, want string }{
		{"203.0.113.9:4000", "1.2.3.4", "203.0.113.9"},                       // not from a proxy: the header is the client's own words
		{"10.0.0.2:4000", "", "10.0.0.2"},                                    // the proxy itself
		{"10.0.0.2:4000", "198.51.100.7", "198.51.100.7"},                    // one proxy
		{"10.0.0.2:4000", "6.6.6.6, 198.51.100.7", "198.51.100.7"},           // a spoofed hop on the left is ignored
		{"10.0.0.2:4000", "6.6.6.6, 198.51.100.7, 10.1.1.1", "198.51.100.7"}, // two proxies
		{"10.0.0.2:4000", "garbage, 10.1.1.1", "10.1.1.1"},                   // nothing usable beyond the proxies
		{"[::1]:4000", "2001:db8::5", "2001:db8::5"},
		{"10.0.0.2:4000", "198.51.100.7:5555", "198.51.100.7"},
	}
	for _, c := range cases {
		r, _ := http.NewRequest("GET", "/", nil)
		r.RemoteAddr = c.remote
		if c.xff != "" {
			r.Header.Set("X-Forwarded-For", c.xff)
		}
		if got := h.clientIP(r); got != c.want {
			t.Errorf("remote %s, X-Forwarded-For %q: client %s, want %s", c.remote, c.xff, got, c.want)
		}
	}
	// Without trusted proxies the header is never read.
	none := &Hub{}
	r, _ := http.NewRequest("GET", "/", nil)
	r.RemoteAddr = "127.0.0.1:1"
	r.Header.Set("X-Forwarded-For", "9.9.9.9")
	if got := none.clientIP(r); got != "127.0.0.1" {
		t.Fatalf("without trusted proxies: %s", got)
	}
}
