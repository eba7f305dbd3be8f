package server

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"atoll/internal/ollamafake"
	"atoll/internal/testbin"
)

func TestMain(m *testing.M) {
	code := m.Run()
	testbin.CleanUp()
	os.Exit(code)
}

type served struct {
	lines []string // what serve printed so far
	local string   // the address printed first
	root  string   // holds data/ and victim/
	proc  *testbin.Proc
}

// startServe runs `atoll serve` with args and waits for its address.
func startServe(t *testing.T, args ...string) *served {
	t.Helper()
	bin := testbin.Atoll(t)
	fake := ollamafake.New(t)
	root := t.TempDir()
	os.MkdirAll(filepath.Join(root, "victim", ".ssh"), 0o700)
	s := &served{root: root}
	s.proc = testbin.Start(t, bin, append([]string{"--data", filepath.Join(root, "data"), "--ollama", fake.URL, "serve"}, args...)...)
	s.local = s.proc.WaitFor(t, regexp.MustCompile(`^Atoll is serving on (.*)$`), 60*time.Second)
	s.lines = s.proc.Seen()
	return s
}

// next waits for the next line serve prints.
func (s *served) next(t *testing.T) string {
	t.Helper()
	l, ok := s.proc.Next(60 * time.Second)
	if !ok {
		t.Fatalf("atoll serve printed nothing after %q within 60 s", s.lines)
	}
	s.lines = append(s.lines, l)
	return l
}

func TestServeProcessRefusesRebindingAndTraversal(t *testing.T) {
	s := startServe(t, "--addr", "127.0.0.1:0")
	u, err := url.Parse(s.local)
	if err != nil || u.Hostname() != "127.0.0.1" || u.Port() == "0" {
		t.Fatalf("printed address %q", s.local)
	}
	client := &http.Client{Timeout: 20 * time.Second}
	send := func(method, path, host, body, ct string) (int, string) {
		t.Helper()
		req, err := http.NewRequest(method, "http://"+u.Host+path, strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		if host != "" {
			req.Host = host
			req.Header.Set("Origin", "http://"+host)
		}
		if ct != "" {
			req.Header.Set("Content-Type", ct)
		}
		res, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		if strings.HasPrefix(res.Header.Get("Content-Type"), "text/event-stream") {
			return res.StatusCode, "(event stream)"
		}
		b, _ := io.ReadAll(io.LimitReader(res.Body, 4096))
		return res.StatusCode, string(b)
	}
	if code, body := send("POST", "/api/call/ListKBs", "", "[]", ""); code != 200 {
		t.Fatalf("own address: %d %s", code, body)
	}
	upload, ct := multipartBody(t, map[string]string{"authorized_keys": "ssh-ed25519 AAAA attacker"})
	uploadBody := upload.String()
	for _, host := range []string{"evil.example:" + u.Port(), "attacker.localhost:" + u.Port(), "127.0.0.1.nip.io:" + u.Port()} {
		for _, c := range [][4]string{
			{"GET", "/", "", ""},
			{"GET", "/api/events", "", ""},
			{"POST", "/api/call/CreateKB", `["pwned",""]`, "application/json"},
			{"POST", "/api/upload?kb=pwned", uploadBody, ct},
		} {
			code, body := send(c[0], c[1], host, c[2], c[3])
			refusedWithSentence(t, fmt.Sprintf("%s %s with Host %s", c[0], c[1], host), code, body)
		}
	}
	code, body := send("POST", "/api/upload?kb=../../victim/.ssh", "", uploadBody, ct)
	refusedWithSentence(t, "upload into ../../victim/.ssh", code, body)
	if _, err := os.Stat(filepath.Join(s.root, "victim", ".ssh", "authorized_keys")); err == nil {
		t.Fatal("atoll serve wrote victim/.ssh/authorized_keys")
	}
	if _, err := os.Stat(filepath.Join(s.root, "data", "kb", "pwned")); err == nil {
		t.Fatal("a rebinding request created a knowledge base")
	}
	// A body declared over the limit is refused from its headers.
	conn, err := net.DialTimeout("tcp", u.Host, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(20 * time.Second))
	fmt.Fprintf(conn, "POST /api/upload?kb=shop HTTP/1.1\r\nHost: %s\r\nContent-Type: %s\r\nContent-Length: %d\r\n\r\n", u.Host, ct, int64(MaxUploadBody)+1)
	res, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil || res.StatusCode != http.StatusRequestEntityTooLarge {
		t.Fatalf("an upload declaring more than the limit: %v %v", res, err)
	}
}

func TestServeOnEveryAddressPrintsOpenableAddresses(t *testing.T) {
	s := startServe(t, "--addr", "0.0.0.0:0")
	u, err := url.Parse(s.local)
	if err != nil || u.Hostname() != "127.0.0.1" || u.Port() == "0" || u.Query().Get("token") == "" {
		t.Fatalf("serve on 0.0.0.0 printed %q; want http://127.0.0.1:PORT/?token=… (all lines: %q)", s.local, s.lines)
	}
	// On every address, serve says how other computers reach it.
	if l := s.next(t); !strings.HasPrefix(l, "From other computers: ") && !strings.HasPrefix(l, "It listens on every address") {
		t.Fatalf("serve on 0.0.0.0 did not say how other computers reach it: %q", s.lines)
	}
	for _, l := range s.lines {
		if strings.Contains(l, "0.0.0.0") || strings.Contains(l, "[::]") {
			t.Errorf("printed an address nobody can open: %q", l)
		}
	}
	client := &http.Client{Timeout: 20 * time.Second}
	res, err := client.Get(s.local)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != 200 {
		t.Fatalf("the printed address answered %d", res.StatusCode)
	}
	bare := *u
	bare.RawQuery = ""
	res, err = client.Get(bare.String())
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusUnauthorized {
		t.Fatalf("without the token, a server on every address answered %d", res.StatusCode)
	}
	// Each address printed for other computers opens too.
	for _, l := range s.lines[1:] {
		for _, f := range strings.Fields(l) {
			if !strings.HasPrefix(f, "http://") {
				continue
			}
			res, err := client.Get(f)
			if err != nil {
				t.Errorf("printed %s, which does not open: %v", f, err)
				continue
			}
			res.Body.Close()
			if res.StatusCode != 200 {
				t.Errorf("printed %s, which answers %d", f, res.StatusCode)
			}
		}
	}
}
