package server

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"mime/multipart"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"atoll/app"
	"atoll/internal/ollamafake"
)

type harness struct {
	t    *testing.T
	srv  *httptest.Server
	fake *ollamafake.Server
	data string
}

func newHarness(t *testing.T, token string) *harness {
	t.Helper()
	fake := ollamafake.New(t)
	data := t.TempDir()
	broker := NewBroker()
	a, err := app.New(app.Config{DataDir: data, OllamaURL: fake.URL, Version: "test"}, broker, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(a.Close)
	ui := fstest.MapFS{"index.html": {Data: []byte("<!doctype html><title>Atoll</title>")}}
	s := &Server{App: a, UI: ui, Token: token, Upload: filepath.Join(data, "uploads")}
	ts := httptest.NewServer(s.Handler(broker))
	t.Cleanup(ts.Close)
	return &harness{t: t, srv: ts, fake: fake, data: data}
}

func (h *harness) call(method string, args ...any) (int, []byte) {
	h.t.Helper()
	body, _ := json.Marshal(args)
	req, _ := http.NewRequest("POST", h.srv.URL+"/api/call/"+method, bytes.NewReader(body))
	req.Header.Set("Origin", h.srv.URL)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		h.t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, b
}

func (h *harness) upload(kb string, body io.Reader, contentType string) (int, string) {
	h.t.Helper()
	req, _ := http.NewRequest("POST", h.srv.URL+"/api/upload?kb="+kb, body)
	req.Header.Set("Content-Type", contentType)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		h.t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(b)
}

func (h *harness) mustCall(method string, out any, args ...any) {
	h.t.Helper()
	code, b := h.call(method, args...)
	if code != 200 {
		h.t.Fatalf("%s: %d %s", method, code, b)
	}
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			h.t.Fatalf("%s: %v: %s", method, err, b)
		}
	}
}

// events subscribes to the SSE stream and returns a channel of (name, data).
func (h *harness) events() <-chan [2]string {
	h.t.Helper()
	res, err := http.Get(h.srv.URL + "/api/events")
	if err != nil {
		h.t.Fatal(err)
	}
	h.t.Cleanup(func() { res.Body.Close() })
	ch := make(chan [2]string, 1024)
	connected := make(chan struct{})
	go func() {
		defer close(ch)
		sc := bufio.NewScanner(res.Body)
		sc.Buffer(make([]byte, 1<<20), 1<<22)
		var name string
		for sc.Scan() {
			line := sc.Text()
			switch {
			case line == ": connected":
				close(connected)
			case strings.HasPrefix(line, "event: "):
				name = strings.TrimPrefix(line, "event: ")
			case strings.HasPrefix(line, "data: "):
				ch <- [2]string{name, strings.TrimPrefix(line, "data: ")}
			}
		}
	}()
	// The stream is subscribed once it has announced itself: no event
	// sent after this can be missed.
	select {
	case <-connected:
	case <-time.After(20 * time.Second):
		h.t.Fatal("the event stream did not announce itself")
	}
	return ch
}

func waitFor(t *testing.T, ch <-chan [2]string, name string, seen func(string)) string {
	t.Helper()
	deadline := time.After(20 * time.Second)
	for {
		select {
		case ev, ok := <-ch:
			if !ok {
				t.Fatalf("event stream closed before %s", name)
			}
			if ev[0] == name {
				return ev[1]
			}
			if seen != nil {
				seen(ev[0] + " " + ev[1])
			}
		case <-deadline:
			t.Fatalf("no %s event", name)
		}
	}
}

func TestFlowThroughHTTP(t *testing.T) {
	h := newHarness(t, "")
	evs := h.events()

	var kb app.KB
	h.mustCall("CreateKB", &kb, "shop", ollamafake.DefaultEmbedModel)
	if kb.Name != "shop" {
		t.Fatalf("CreateKB: %+v", kb)
	}

	// A file name with folders in it is refused, and nothing is written.
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	fw, _ := mw.CreateFormFile("file", "faq.md")
	io.WriteString(fw, "# Cakes\n\nA 20 cm chocolate cake costs 38 euros. Order 48 hours ahead.\n")
	fw, _ = mw.CreateFormFile("file", "../../../escape.md")
	io.WriteString(fw, "# Delivery\n\nWe deliver within 5 km of the shop for 4 euros.\n")
	mw.Close()
	if code, b := h.upload("shop", &buf, mw.FormDataContentType()); code != http.StatusBadRequest || !strings.Contains(b, "escape.md") {
		t.Fatalf("upload with ../ in a name: %d %s", code, b)
	}
	for _, p := range []string{filepath.Join(h.data, "escape.md"), filepath.Join(h.data, "uploads", "shop", "faq.md"), filepath.Join(h.data, "uploads", "shop", "escape.md")} {
		if _, err := os.Stat(p); err == nil {
			t.Fatalf("a refused upload left %s", p)
		}
	}

	// Upload two files.
	buf.Reset()
	mw = multipart.NewWriter(&buf)
	fw, _ = mw.CreateFormFile("file", "faq.md")
	io.WriteString(fw, "# Cakes\n\nA 20 cm chocolate cake costs 38 euros. Order 48 hours ahead.\n")
	fw, _ = mw.CreateFormFile("file", "delivery.md")
	io.WriteString(fw, "# Delivery\n\nWe deliver within 5 km of the shop for 4 euros.\n")
	mw.Close()
	if code, b := h.upload("shop", &buf, mw.FormDataContentType()); code != 200 || !strings.Contains(b, `"job"`) {
		t.Fatalf("upload: %d %s", code, b)
	}
	for _, n := range []string{"faq.md", "delivery.md"} {
		if _, err := os.Stat(filepath.Join(h.data, "uploads", "shop", n)); err != nil {
			t.Fatalf("uploaded %s: %v", n, err)
		}
	}
	progress := 0
	done := waitFor(t, evs, app.EventIngestDone, func(s string) {
		if strings.HasPrefix(s, app.EventIngestProgress) {
			progress++
		}
	})
	if progress == 0 {
		t.Error("no ingest:progress events")
	}
	var sum struct {
		OK, Failed, Chunks, Pending int
	}
	json.Unmarshal([]byte(done), &sum)
	if sum.OK != 2 || sum.Failed != 0 || sum.Chunks == 0 || sum.Pending != 0 {
		t.Fatalf("ingest:done %s", done)
	}

	var docs []app.Doc
	h.mustCall("ListDocuments", &docs, "shop")
	if len(docs) != 2 || docs[0].Status != "ok" {
		t.Fatalf("docs %+v", docs)
	}
	var hits []app.Hit
	h.mustCall("Search", &hits, "shop", "chocolate cake", 3)
	if len(hits) == 0 || !strings.Contains(hits[0].Text, "38 euros") {
		t.Fatalf("search: %+v", hits)
	}

	h.mustCall("SaveAgent", nil, map[string]any{"name": "baker", "model": ollamafake.DefaultChatModel, "kbs": []string{"shop"}, "followups": false})
	h.fake.Script(ollamafake.Reply{Tokens: []string{"A 20 cm ", "chocolate cake ", "costs 38 euros ", "[1]."}, Delay: 40 * time.Millisecond})
	var id string
	h.mustCall("Ask", &id, "baker", "", "How much is a chocolate cake?")
	var text strings.Builder
	lastSeq := 0
	doneMsg := waitFor(t, evs, app.EventChatDone, func(s string) {
		if rest, ok := strings.CutPrefix(s, app.EventChatToken+" "); ok {
			var tok app.TokenEvent
			json.Unmarshal([]byte(rest), &tok)
			if tok.ID != id || tok.Seq != lastSeq+1 {
				t.Errorf("token event out of order: %+v after %d", tok, lastSeq)
			}
			lastSeq = tok.Seq
			text.WriteString(tok.Text)
		}
	})
	if lastSeq < 2 {
		t.Errorf("answer should stream in several events, got %d", lastSeq)
	}
	var d struct {
		ID           string
		Answer       string
		Conversation string
		Citations    []struct {
			N    int
			Used bool
		}
		Error string
	}
	json.Unmarshal([]byte(doneMsg), &d)
	if d.ID != id || d.Error != "" || d.Answer != text.String() || len(d.Citations) == 0 || !d.Citations[0].Used {
		t.Fatalf("chat:done %s (streamed %q)", doneMsg, text.String())
	}
	var conv struct{ Messages []json.RawMessage }
	h.mustCall("GetConversation", &conv, d.Conversation)
	if len(conv.Messages) != 2 {
		t.Fatalf("conversation should hold the question and the answer: %d", len(conv.Messages))
	}

	// Stop mid-stream.
	h.fake.Script(ollamafake.Reply{Text: strings.Repeat("slow words ", 50), Delay: 50 * time.Millisecond})
	h.mustCall("Ask", &id, "baker", "", "How much is a chocolate cake?")
	waitFor(t, evs, app.EventChatToken, nil) // stop mid-stream, not before it
	h.mustCall("StopAsk", nil, id)
	doneMsg = waitFor(t, evs, app.EventChatDone, nil)
	if !strings.Contains(doneMsg, "Stopped") {
		t.Fatalf("stopped answer: %s", doneMsg)
	}
}

func TestSecurity(t *testing.T) {
	h := newHarness(t, "")
	// A page of another site cannot change state.
	req, _ := http.NewRequest("POST", h.srv.URL+"/api/call/CreateKB", strings.NewReader(`["x",""]`))
	req.Header.Set("Origin", "http://evil.example")
	res, _ := http.DefaultClient.Do(req)
	if res.StatusCode != http.StatusForbidden {
		t.Fatalf("foreign Origin: %d", res.StatusCode)
	}
	// Oversized body.
	big := `["` + strings.Repeat("a", MaxCallBody+10) + `"]`
	req, _ = http.NewRequest("POST", h.srv.URL+"/api/call/ListDocuments", strings.NewReader(big))
	res, _ = http.DefaultClient.Do(req)
	if res.StatusCode != http.StatusRequestEntityTooLarge {
		t.Fatalf("oversized body: %d", res.StatusCode)
	}
	// Unknown and unexported methods are not callable.
	for _, m := range []string{"Close", "connect", "Nope"} {
		if code, _ := h.call(m); code != http.StatusNotFound {
			t.Errorf("%s: %d", m, code)
		}
	}
	if code, b := h.call("CreateKB", "only-one-arg"); code != http.StatusBadRequest {
		t.Errorf("wrong arity: %d %s", code, b)
	}
	if code, b := h.call("CreateKB", "../etc", ""); code == 200 || !strings.Contains(string(b), "not a valid name") {
		t.Errorf("path-like name: %d %s", code, b)
	}

	// With a token, everything needs it.
	ht := newHarness(t, "s3cret")
	res, _ = http.Get(ht.srv.URL + "/")
	if res.StatusCode != http.StatusUnauthorized {
		t.Fatalf("no token: %d", res.StatusCode)
	}
	req, _ = http.NewRequest("POST", ht.srv.URL+"/api/call/ListKBs", strings.NewReader(`[]`))
	req.Header.Set("Authorization", "Bearer wrong")
	res, _ = http.DefaultClient.Do(req)
	if res.StatusCode != http.StatusUnauthorized {
		t.Fatalf("wrong token: %d", res.StatusCode)
	}
	req.Header.Set("Authorization", "Bearer s3cret")
	req.Body = io.NopCloser(strings.NewReader(`[]`))
	res, _ = http.DefaultClient.Do(req)
	if res.StatusCode != 200 {
		t.Fatalf("right token: %d", res.StatusCode)
	}
	res, _ = http.Get(ht.srv.URL + "/?token=s3cret")
	if res.StatusCode != 200 {
		t.Fatalf("token in the address: %d", res.StatusCode)
	}
}

func TestIsLoopback(t *testing.T) {
	for addr, want := range map[string]bool{"127.0.0.1:7860": true, "localhost:1": true, "[::1]:80": true, "0.0.0.0:7860": false, ":7860": false, "192.168.1.2:80": false} {
		if IsLoopback(addr) != want {
			t.Errorf("%s: want %v", addr, want)
		}
	}
}

// TestEventNamesMatchFrontend keeps the Go and TypeScript event lists equal.
func TestEventNamesMatchFrontend(t *testing.T) {
	b, err := os.ReadFile("../frontend/src/lib/events.ts")
	if err != nil {
		t.Fatal(err)
	}
	var ts []string
	for _, m := range regexp.MustCompile(`'([a-z]+:[a-z]+)'`).FindAllStringSubmatch(string(b), -1) {
		ts = append(ts, m[1])
	}
	goNames := slices.Clone(app.AllEvents)
	slices.Sort(ts)
	slices.Sort(goNames)
	if !slices.Equal(ts, goNames) {
		t.Fatalf("frontend events %v != Go events %v", ts, goNames)
	}
}

// TestBoundMethodsExist: every method the frontend may call exists on App
// and is documented in docs/api.md.
func TestBoundMethodsExist(t *testing.T) {
	doc, err := os.ReadFile("../docs/api.md")
	if err != nil {
		t.Fatal(err)
	}
	typ := reflect.TypeFor[*app.App]()
	for _, m := range Bound {
		if _, ok := typ.MethodByName(m); !ok {
			t.Errorf("%s is bound but App has no such method", m)
		}
		if !strings.Contains(string(doc), "`"+m+"(") {
			t.Errorf("%s is not documented in docs/api.md", m)
		}
	}
}

// guarded runs one request through the guard of a server configured with
// addr and token, as if it arrived on local from remote.
func guarded(addr, token, host, origin, remote, local string) int {
	s := &Server{Addr: addr, Token: token}
	h := s.guard(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	req := httptest.NewRequest("POST", "/api/call/ListKBs", nil)
	req.Host = host
	req.RemoteAddr = remote
	if origin != "" {
		req.Header.Set("Origin", origin)
	}
	la, _ := net.ResolveTCPAddr("tcp", local)
	req = req.WithContext(context.WithValue(req.Context(), http.LocalAddrContextKey, la))
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec.Code
}

func TestGuardNamesAndToken(t *testing.T) {
	for _, c := range []struct {
		addr, token, host, origin, remote, local string
		want                                     int
	}{
		// The configured name is served; another name is not.
		{"mybox.lan:7860", "t", "mybox.lan:7860", "http://mybox.lan:7860", "192.0.2.9:5000", "192.0.2.2:7860", http.StatusUnauthorized},
		{"mybox.lan:7860", "t", "MyBox.lan:7860", "", "192.0.2.9:5000", "192.0.2.2:7860", http.StatusUnauthorized},
		{"mybox.lan:7860", "t", "evil.lan:7860", "", "192.0.2.9:5000", "192.0.2.2:7860", http.StatusMisdirectedRequest},
		// On every address, the address the connection arrived on is a
		// name of the server; another address literal is not.
		{"0.0.0.0:7860", "t", "192.0.2.2:7860", "", "192.0.2.9:5000", "192.0.2.2:7860", http.StatusUnauthorized},
		{"0.0.0.0:7860", "t", "192.0.2.3:7860", "", "192.0.2.9:5000", "192.0.2.2:7860", http.StatusMisdirectedRequest},
		{"0.0.0.0:7860", "t", "0.0.0.0:7860", "", "127.0.0.1:5000", "127.0.0.1:7860", http.StatusMisdirectedRequest},
		{"[::]:7860", "t", "[fd00::2]:7860", "", "[fd00::9]:5000", "[fd00::2]:7860", http.StatusUnauthorized},
		// Port 80 may be left out of Host and Origin.
		{"127.0.0.1:80", "", "localhost", "http://localhost", "127.0.0.1:5000", "127.0.0.1:80", http.StatusOK},
		{"127.0.0.1:80", "", "localhost", "http://localhost:81", "127.0.0.1:5000", "127.0.0.1:80", http.StatusForbidden},
		// Without a token, only this computer is served, whatever the Host.
		{"0.0.0.0:7860", "", "192.0.2.2:7860", "", "192.0.2.9:5000", "192.0.2.2:7860", http.StatusForbidden},
		{"0.0.0.0:7860", "", "127.0.0.1:7860", "", "127.0.0.1:5000", "127.0.0.1:7860", http.StatusOK},
		// An https origin is another site for an http server.
		{"127.0.0.1:7860", "", "127.0.0.1:7860", "https://127.0.0.1:7860", "127.0.0.1:5000", "127.0.0.1:7860", http.StatusForbidden},
		{"127.0.0.1:7860", "", "127.0.0.1:7860", "http://127.0.0.1:7860", "127.0.0.1:5000", "127.0.0.1:7860", http.StatusOK},
	} {
		if got := guarded(c.addr, c.token, c.host, c.origin, c.remote, c.local); got != c.want {
			t.Errorf("%+v: %d, want %d", c, got, c.want)
		}
	}
}

func TestValidFileName(t *testing.T) {
	good := []string{"faq.md", "Prix 2024 (v2).pdf", "報告.docx", "a..b.txt", "．．", strings.Repeat("é", 126) + ".m"}
	bad := []string{"", ".", "..", ".env", "../x", "a/b", `a\b`, "C:x", "a\x00b", "a\nb", "a\x1b[2Jb", "a\u202eb", "x.", "x ", "CON", "con.txt", "LPT1.md", "a|b", "\xff.md", strings.Repeat("a", MaxFileName+1)}
	for _, n := range good {
		if err := ValidFileName(n); err != nil {
			t.Errorf("%q: %v", n, err)
		}
	}
	for _, n := range bad {
		err := ValidFileName(n)
		if err == nil {
			t.Errorf("%q was accepted", n)
			continue
		}
		if strings.ContainsAny(err.Error(), "\x00\n\x1b\u202e") {
			t.Errorf("the refusal of %q carries the raw name: %q", n, err)
		}
	}
}

func TestOpenableAddresses(t *testing.T) {
	tcp := func(s string) net.Addr { a, _ := net.ResolveTCPAddr("tcp", s); return a }
	ipnet := func(s string) net.Addr { ip, n, _ := net.ParseCIDR(s); n.IP = ip; return n }
	ifaces := []net.Addr{ipnet("127.0.0.1/8"), ipnet("192.0.2.2/24"), ipnet("::1/128"), ipnet("fe80::1/64"), ipnet("2001:db8::2/64")}
	for _, c := range []struct {
		addr   string
		ln     net.Addr
		token  string
		local  string
		others []string
	}{
		{"127.0.0.1:7860", tcp("127.0.0.1:7860"), "", "http://127.0.0.1:7860/", nil},
		{"localhost:7860", tcp("127.0.0.1:7860"), "", "http://127.0.0.1:7860/", nil},
		{"[::1]:7860", tcp("[::1]:7860"), "", "http://[::1]:7860/", nil},
		{"[::]:7860", tcp("[::]:7860"), "tk", "http://127.0.0.1:7860/?token=tk", []string{"http://192.0.2.2:7860/?token=tk", "http://[2001:db8::2]:7860/?token=tk"}},
		{"0.0.0.0:7860", tcp("0.0.0.0:7860"), "tk", "http://127.0.0.1:7860/?token=tk", []string{"http://192.0.2.2:7860/?token=tk"}},
		{"192.0.2.2:7860", tcp("192.0.2.2:7860"), "tk", "http://192.0.2.2:7860/?token=tk", []string{"http://192.0.2.2:7860/?token=tk"}},
		{"mybox.lan:7860", tcp("192.0.2.2:7860"), "tk", "http://mybox.lan:7860/?token=tk", []string{"http://mybox.lan:7860/?token=tk"}},
	} {
		got := OpenableAddresses(c.addr, c.ln, c.token, ifaces)
		if got.Local != c.local || !slices.Equal(got.Others, c.others) {
			t.Errorf("%s: %+v, want %s %v", c.addr, got, c.local, c.others)
		}
	}
}
