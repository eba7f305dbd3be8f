package publish

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// fakeHub answers like a hub behind a proxy that buffers whole request
// bodies before the hub sees them (nginx's default): whatever the client
// sends is received, so an upload with a wrong token costs the whole bundle.
type fakeHub struct {
	srv      *httptest.Server
	received atomic.Int64 // request body bytes received, all requests
	uploads  atomic.Int64 // POST /api/publish requests
}

func newFakeHub(t *testing.T, token string) *fakeHub {
	h := &fakeHub{}
	h.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n, _ := io.Copy(io.Discard, r.Body)
		h.received.Add(n)
		if r.Method == "POST" && r.URL.Path == "/api/publish" {
			h.uploads.Add(1)
		}
		w.Header().Set("Content-Type", "application/json")
		if r.Header.Get("Authorization") != "Bearer "+token {
			w.WriteHeader(http.StatusUnauthorized)
			io.WriteString(w, `{"error":{"message":"a valid publisher token is required"}}`)
			return
		}
		switch {
		case r.URL.Path == "/api/leads" && (r.Method == "GET" || r.Method == "HEAD"):
			w.WriteHeader(http.StatusNotFound)
			io.WriteString(w, `{"error":{"message":"no such agent"}}`)
		case r.URL.Path == "/api/publish" && r.Method == "POST":
			json.NewEncoder(w).Encode(map[string]any{"agent": "Baker", "version": 1, "chat": "/a/Baker", "widget": "<script></script>"})
		default:
			w.WriteHeader(http.StatusNotFound)
		}
	}))
	t.Cleanup(h.srv.Close)
	return h
}

// TestUploadChecksTheTokenFirst: a wrong token is refused before a byte of
// the bundle is sent; a right one uploads it whole.
func TestUploadChecksTheTokenFirst(t *testing.T) {
	h := newFakeHub(t, "atl_right")
	bundle := make([]byte, 1<<20)
	rand.Read(bundle)
	ctx := context.Background()

	_, err := Upload(ctx, h.srv.URL, "atl_wrong", bytes.NewReader(bundle), int64(len(bundle)), nil)
	if n := h.received.Load(); n != 0 || h.uploads.Load() != 0 {
		t.Fatalf("a wrong token cost %d bundle bytes (%d uploads)", n, h.uploads.Load())
	}
	if err == nil || !strings.Contains(err.Error(), "refused the publisher token") {
		t.Fatalf("wrong token: %v", err)
	}

	var sent int64
	p, err := Upload(ctx, h.srv.URL+"/", "atl_right", bytes.NewReader(bundle), int64(len(bundle)), func(s, _ int64) { sent = s })
	if err != nil || p.Version != 1 || p.Chat != h.srv.URL+"/a/Baker" {
		t.Fatalf("upload: %+v %v", p, err)
	}
	if h.received.Load() != int64(len(bundle)) || sent != int64(len(bundle)) {
		t.Fatalf("received %d of %d bytes (sent %d)", h.received.Load(), len(bundle), sent)
	}
}

func TestCheckTokenSentences(t *testing.T) {
	h := newFakeHub(t, "atl_right")
	ctx := context.Background()
	if err := CheckToken(ctx, h.srv.URL, "atl_right"); err != nil {
		t.Fatal(err)
	}
	// Nothing listens on a port just closed.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	gone := "http://" + ln.Addr().String()
	ln.Close()
	// A web server that is not a hub.
	site := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		io.WriteString(w, "<html>welcome</html>")
	}))
	defer site.Close()
	for _, c := range []struct{ url, token, want string }{
		{h.srv.URL, "atl_wrong", "refused the publisher token"},
		{gone, "atl_right", "couldn't reach the hub at " + gone},
		{site.URL, "atl_right", "does not answer like an Atoll hub"},
		{"agents.example.com", "atl_right", "is not a hub address"},
		{h.srv.URL, " ", "publisher token is needed"},
	} {
		err := CheckToken(ctx, c.url, c.token)
		if err == nil || !strings.Contains(err.Error(), c.want) || strings.Count(err.Error(), "\n") > 0 {
			t.Errorf("%s with %q: %v, want %q", c.url, c.token, err, c.want)
		}
	}
}

// TestCheckTokenGivesUpOnASilentHub: an address that takes the connection
// but never answers fails after CheckTimeout, with a sentence, instead of
// hanging the publish.
func TestCheckTokenGivesUpOnASilentHub(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close() // never accepted: the kernel completes the handshake, nobody answers
	start := time.Now()
	err = CheckToken(context.Background(), "http://"+ln.Addr().String(), "atl_x")
	if err == nil || !strings.Contains(err.Error(), "did not answer within") {
		t.Fatalf("silent hub: %v", err)
	}
	if el := time.Since(start); el > CheckTimeout+30*time.Second {
		t.Fatalf("gave up after %v", el)
	}
}
