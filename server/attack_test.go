package server

// An attack suite against the HTTP surface of `atoll serve`: DNS-rebinding
// Hosts, foreign and mis-schemed Origins, traversal in every path-like
// parameter, oversized bodies. Variants are drawn from a seeded math/rand;
// a failing run prints its seed, and ATOLL_ATTACK_SEED=N replays it.

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math/rand"
	"mime/multipart"
	"net"
	"net/http"
	"net/http/httptest"
	"net/textproto"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"atoll/app"
	"atoll/internal/ollamafake"
	"atoll/store"
)

// seeded returns a random source for the test and prints its seed if the
// test fails.
func seeded(t *testing.T) *rand.Rand {
	t.Helper()
	seed := time.Now().UnixNano()
	if s := os.Getenv("ATOLL_ATTACK_SEED"); s != "" {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			t.Fatalf("ATOLL_ATTACK_SEED=%q is not a number", s)
		}
		seed = n
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("replay with ATOLL_ATTACK_SEED=%d", seed)
		}
	})
	return rand.New(rand.NewSource(seed))
}

// target is a served App whose data folder sits next to a victim folder, so
// that an escape from the data folder is visible on disk.
type target struct {
	*harness
	root   string // holds data/ and victim/
	victim string
	secret string // content of victim/secret.md
	port   string
	client *http.Client
}

func newTarget(t *testing.T, configure func(*Server)) *target {
	t.Helper()
	fake := ollamafake.New(t)
	root := t.TempDir()
	data := filepath.Join(root, "data")
	victim := filepath.Join(root, "victim")
	secret := "victim secret " + strconv.FormatInt(time.Now().UnixNano(), 36)
	if err := os.MkdirAll(filepath.Join(victim, ".ssh"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(victim, "secret.md"), []byte(secret), 0o600); err != nil {
		t.Fatal(err)
	}
	broker := NewBroker()
	a, err := app.New(app.Config{DataDir: data, OllamaURL: fake.URL, Version: "test"}, broker, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(a.Close)
	ui := fstest.MapFS{
		"index.html":      {Data: []byte("<!doctype html><title>Atoll</title>")},
		"assets/index.js": {Data: []byte("console.log('atoll')")},
	}
	s := &Server{App: a, UI: ui, Upload: filepath.Join(data, "uploads")}
	if configure != nil {
		configure(s)
	}
	ts := httptest.NewServer(s.Handler(broker))
	t.Cleanup(ts.Close)
	_, port, _ := net.SplitHostPort(ts.Listener.Addr().String())
	return &target{
		harness: &harness{t: t, srv: ts, fake: fake, data: data},
		root:    root, victim: victim, secret: secret, port: port,
		client: &http.Client{Timeout: 20 * time.Second},
	}
}

// tree lists every path under root, with size and modification time for
// files, so two snapshots show what a request created, changed or removed.
// A folder's own time is left out: staging a file and removing it again
// touches it without leaving anything.
func tree(t *testing.T, root string) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if errors.Is(err, fs.ErrNotExist) {
			return nil // removed while walking by a background ingest
		}
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		if d.IsDir() {
			out[rel] = "dir"
			return nil
		}
		info, err := d.Info()
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		if err != nil {
			return err
		}
		out[rel] = fmt.Sprintf("%v %d %d", d.Type(), info.Size(), info.ModTime().UnixNano())
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// outside returns the differences between two snapshots that are not under
// one of the allowed folders (relative to the snapshot root).
func outside(before, after map[string]string, allowed ...string) []string {
	var diff []string
	under := func(p string) bool {
		for _, a := range allowed {
			if p == a || strings.HasPrefix(p, a+string(filepath.Separator)) {
				return true
			}
		}
		return false
	}
	for p, v := range after {
		if before[p] != v && !under(p) {
			diff = append(diff, "changed or created: "+p)
		}
	}
	for p := range before {
		if _, ok := after[p]; !ok && !under(p) {
			diff = append(diff, "removed: "+p)
		}
	}
	return diff
}

func multipartBody(t *testing.T, files map[string]string) (*bytes.Buffer, string) {
	t.Helper()
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	for name, content := range files {
		// Written by hand so hostile names reach the server byte for byte,
		// except line breaks, which end a header: browsers send them as
		// %0D and %0A (HTML's multipart encoding), and so does this.
		h := textproto.MIMEHeader{}
		h.Set("Content-Disposition", `form-data; name="file"; filename="`+strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(onWire(name))+`"`)
		h.Set("Content-Type", "application/octet-stream")
		w, err := mw.CreatePart(h)
		if err != nil {
			t.Fatal(err)
		}
		io.WriteString(w, content)
	}
	mw.Close()
	return &buf, mw.FormDataContentType()
}

// onWire is a file name as a browser puts it in a multipart header.
func onWire(name string) string {
	return strings.NewReplacer("\r", "%0D", "\n", "%0A").Replace(name)
}

// hostileHosts draws Host headers that a rebinding page could make a browser
// send to this port. None of them is a name of the server.
func hostileHosts(r *rand.Rand, port string, n int) []string {
	labels := []string{"evil", "attacker", "rebind", "a", "x-y", "127-0-0-1", "localhost", "0x7f000001"}
	tlds := []string{"example", "com", "nip.io", "test", "localhost", "local", "internal"}
	label := func() string { return labels[r.Intn(len(labels))] + strconv.Itoa(r.Intn(1000)) }
	otherPort := func() string {
		for {
			p := strconv.Itoa(1 + r.Intn(65535))
			if p != port {
				return p
			}
		}
	}
	gens := []func() string{
		func() string { return label() + "." + tlds[r.Intn(len(tlds))] + ":" + port },
		func() string { return "localhost." + label() + ".example:" + port },
		func() string { return "127.0.0.1." + label() + ".nip.io:" + port },
		func() string { return label() + ".localhost:" + port },
		func() string { return "localhost.:" + port },
		func() string { return label() + "." + tlds[r.Intn(len(tlds))] }, // no port
		func() string { return "127.0.0.1:" + otherPort() },
		func() string { return "localhost:" + otherPort() },
		func() string { return "[::1]:" + otherPort() },
		func() string { return "0.0.0.0:" + port },
		func() string {
			return fmt.Sprintf("%d.%d.%d.%d:%s", 1+r.Intn(223), r.Intn(256), r.Intn(256), 1+r.Intn(254), port)
		},
		func() string { return "[2001:db8::" + strconv.FormatInt(int64(1+r.Intn(0xffff)), 16) + "]:" + port },
		func() string { return label() + ".example:" + port + "@127.0.0.1" },
		func() string { return "" },
	}
	var out []string
	for range n {
		out = append(out, gens[r.Intn(len(gens))]())
	}
	return out
}

type route struct {
	name string
	req  func(t *testing.T, base string) *http.Request
}

func routes() []route {
	post := func(path, body string) func(*testing.T, string) *http.Request {
		return func(t *testing.T, base string) *http.Request {
			req, err := http.NewRequest("POST", base+path, strings.NewReader(body))
			if err != nil {
				t.Fatal(err)
			}
			req.Header.Set("Content-Type", "application/json")
			return req
		}
	}
	get := func(path string) func(*testing.T, string) *http.Request {
		return func(t *testing.T, base string) *http.Request {
			req, err := http.NewRequest("GET", base+path, nil)
			if err != nil {
				t.Fatal(err)
			}
			return req
		}
	}
	return []route{
		{"static index", get("/")},
		{"static file", get("/assets/index.js")},
		{"events", get("/api/events")},
		{"call ListKBs", post("/api/call/ListKBs", `[]`)},
		{"call CreateKB", post("/api/call/CreateKB", `["pwned",""]`)},
		{"call Ingest", post("/api/call/Ingest", `["pwned",["/etc/hostname"]]`)},
		{"call SaveSettings", post("/api/call/SaveSettings", `[{"language":"en"}]`)},
		{"upload", func(t *testing.T, base string) *http.Request {
			body, ct := multipartBody(t, map[string]string{"authorized_keys": "ssh-ed25519 AAAA attacker"})
			req, err := http.NewRequest("POST", base+"/api/upload?kb=pwned", body)
			if err != nil {
				t.Fatal(err)
			}
			req.Header.Set("Content-Type", ct)
			return req
		}},
	}
}

// do sends req and returns the status and at most 64 KB of the body; an
// event stream that was wrongly accepted is cut off rather than waited on.
func (tg *target) do(req *http.Request) (int, string) {
	tg.t.Helper()
	res, err := tg.client.Do(req)
	if err != nil {
		tg.t.Fatalf("%s %s (Host %q): %v", req.Method, req.URL.Path, req.Host, err)
	}
	defer res.Body.Close()
	if strings.HasPrefix(res.Header.Get("Content-Type"), "text/event-stream") {
		return res.StatusCode, "(event stream)"
	}
	b, _ := io.ReadAll(io.LimitReader(res.Body, 64<<10))
	return res.StatusCode, string(b)
}

// refusedWithSentence checks a 4xx answer whose JSON error is a sentence.
func refusedWithSentence(t *testing.T, what string, code int, body string) {
	t.Helper()
	if code < 400 || code > 499 {
		t.Errorf("%s: got %d, want a 4xx refusal (body %.200q)", what, code, body)
		return
	}
	var e struct{ Error string }
	if err := json.Unmarshal([]byte(body), &e); err != nil || len(strings.Fields(e.Error)) < 4 {
		t.Errorf("%s: %d without a sentence saying why: %.200q", what, code, body)
	}
}

func TestRebindingHostsAreRefusedOnEveryRoute(t *testing.T) {
	r := seeded(t)
	tg := newTarget(t, nil)
	before := tree(t, tg.root)
	hosts := append([]string{"evil.example:" + tg.port}, hostileHosts(r, tg.port, 40)...)
	for _, host := range hosts {
		for _, rt := range routes() {
			req := rt.req(t, tg.srv.URL)
			req.Host = host
			if host == "" {
				// Go's client falls back to the URL's host for an empty
				// Host; an HTTP/1.0 request without Host is tested below.
				continue
			}
			// The rebinding page is, to the browser, same-origin with its
			// own name: the Origin it sends matches the hostile Host.
			req.Header.Set("Origin", "http://"+host)
			code, body := tg.do(req)
			refusedWithSentence(t, fmt.Sprintf("%s with Host %q", rt.name, host), code, body)
		}
	}
	// A request without any Host (HTTP/1.0) names no server at all.
	conn, err := net.DialTimeout("tcp", tg.srv.Listener.Addr().String(), 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	conn.SetDeadline(time.Now().Add(20 * time.Second))
	io.WriteString(conn, "POST /api/call/CreateKB HTTP/1.0\r\nContent-Length: 12\r\n\r\n[\"pwned\",\"\"]")
	res, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(res.Body)
	conn.Close()
	refusedWithSentence(t, "HTTP/1.0 without Host", res.StatusCode, string(b))

	if d := outside(before, tree(t, tg.root)); len(d) > 0 {
		t.Errorf("refused requests changed the disk: %v", d)
	}
	var kbs []app.KB
	tg.mustCall("ListKBs", &kbs)
	if len(kbs) != 0 {
		t.Errorf("a refused request created a knowledge base: %+v", kbs)
	}
}

func TestOwnNamesAreServed(t *testing.T) {
	tg := newTarget(t, nil)
	for _, host := range []string{"127.0.0.1:" + tg.port, "localhost:" + tg.port, "LocalHost:" + tg.port, "[::1]:" + tg.port} {
		for _, rt := range routes() {
			if strings.Contains(rt.name, "Create") || strings.Contains(rt.name, "Ingest") || rt.name == "upload" {
				continue // state changes are covered by the flow test
			}
			req := rt.req(t, tg.srv.URL)
			req.Host = host
			req.Header.Set("Origin", "http://"+host)
			if code, body := tg.do(req); code != 200 {
				t.Errorf("%s with Host %q: %d %.200q", rt.name, host, code, body)
			}
		}
	}
}

func TestForeignOriginsAreRefused(t *testing.T) {
	r := seeded(t)
	tg := newTarget(t, nil)
	own := []string{"127.0.0.1:" + tg.port, "localhost:" + tg.port, "[::1]:" + tg.port}
	var origins []string
	for _, h := range own {
		origins = append(origins, "https://"+h, "ws://"+h, "file://"+h, "http://"+h+"/path", "http://user@"+h)
	}
	origins = append(origins, "null", "http://", "https://127.0.0.1", "http://127.0.0.1")
	for _, h := range hostileHosts(r, tg.port, 20) {
		if h != "" {
			origins = append(origins, "http://"+h)
		}
	}
	for _, o := range origins {
		for _, rt := range routes() {
			if rt.req(t, tg.srv.URL).Method == "GET" {
				continue // a page may load the interface's files from anywhere it links to them
			}
			req := rt.req(t, tg.srv.URL)
			req.Header.Set("Origin", o)
			code, body := tg.do(req)
			refusedWithSentence(t, fmt.Sprintf("%s with Origin %q", rt.name, o), code, body)
		}
	}
	// The server's own http origins, under any of its names, are accepted.
	for _, h := range own {
		req := routes()[3].req(t, tg.srv.URL) // call ListKBs
		req.Header.Set("Origin", "http://"+h)
		if code, body := tg.do(req); code != 200 {
			t.Errorf("own Origin http://%s: %d %s", h, code, body)
		}
	}
}

// traversalNames draws names that try to leave a folder, in the spellings a
// careless decoder might turn into separators or parents.
func traversalNames(r *rand.Rand, n int) []string {
	fixed := []string{
		"../../victim/.ssh", "..", ".", "../victim", "..\\..\\victim", "/etc", "/tmp/x",
		"C:\\Windows\\x", "kb/../../victim", "kb/..", "%2e%2e%2fvictim", "..%2f..%2fvictim",
		"..%5cvictim", "a\x00b", "shop\x00/../../victim", "．．/victim", "\u2025/victim",
		"..\u2215victim", "..\uff0fvictim", ".hidden", "shop/", " shop", "\x1b[31mred",
		"a:b", strings.Repeat("a", 300), strings.Repeat("../", 40) + "victim",
	}
	parts := []string{"..", ".", "/", "\\", "%2f", "%2F", "%5c", "%2e", "\x00", "．", "\u2024", "\u2215", "\uff0f", "victim", ".ssh", "\n", "\r", "\t", "\x7f", "\u202e"}
	out := append([]string(nil), fixed...)
	for range n {
		var b strings.Builder
		for range 1 + r.Intn(8) {
			b.WriteString(parts[r.Intn(len(parts))])
		}
		s := b.String()
		if r.Intn(4) == 0 {
			s += strings.Repeat("x", 200+r.Intn(200))
		}
		out = append(out, s)
	}
	return out
}

func TestUploadTraversalWritesNothing(t *testing.T) {
	r := seeded(t)
	tg := newTarget(t, nil)
	// The reported attack, exactly.
	{
		before := tree(t, tg.root)
		body, ct := multipartBody(t, map[string]string{"authorized_keys": "ssh-ed25519 AAAA attacker"})
		req, _ := http.NewRequest("POST", tg.srv.URL+"/api/upload?kb=../../victim/.ssh", body)
		req.Header.Set("Content-Type", ct)
		code, b := tg.do(req)
		refusedWithSentence(t, "kb=../../victim/.ssh", code, b)
		if _, err := os.Stat(filepath.Join(tg.victim, ".ssh", "authorized_keys")); err == nil {
			t.Fatal("the upload wrote victim/.ssh/authorized_keys")
		}
		if d := outside(before, tree(t, tg.root)); len(d) > 0 {
			t.Errorf("a refused upload changed the disk: %v", d)
		}
	}
	names := traversalNames(r, 60)
	// A bad kb name, with a harmless file name.
	for _, kb := range names {
		if store.ValidName(kb) == nil {
			continue // the generator drew a plain name, such as "victim"
		}
		before := tree(t, tg.root)
		body, ct := multipartBody(t, map[string]string{"notes.md": "# Notes\n\nplain text\n"})
		req, err := http.NewRequest("POST", tg.srv.URL+"/api/upload?kb="+url.QueryEscape(kb), body)
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", ct)
		code, b := tg.do(req)
		refusedWithSentence(t, fmt.Sprintf("upload kb=%q", kb), code, b)
		if d := outside(before, tree(t, tg.root)); len(d) > 0 {
			t.Errorf("upload kb=%q was refused but changed the disk: %v", kb, d)
		}
	}
	// The raw query too: %2f and friends left encoded for the server to decode.
	for _, raw := range []string{"..%2F..%2Fvictim%2F.ssh", "..%5C..%5Cvictim", "%2E%2E%2F%2E%2E%2Fvictim", "shop%00..%2F..", "..%252f..%252fvictim"} {
		before := tree(t, tg.root)
		body, ct := multipartBody(t, map[string]string{"authorized_keys": "x"})
		req, _ := http.NewRequest("POST", tg.srv.URL+"/api/upload?kb="+raw, body)
		req.Header.Set("Content-Type", ct)
		code, b := tg.do(req)
		refusedWithSentence(t, "upload raw kb="+raw, code, b)
		if d := outside(before, tree(t, tg.root)); len(d) > 0 {
			t.Errorf("upload raw kb=%s changed the disk: %v", raw, d)
		}
	}
	// A good kb, a bad file name, alone or after a good file: nothing of the
	// request may stay, and nothing may land outside uploads/shop. Names
	// that Windows reserves are refused everywhere, so uploads stay portable.
	body, ct := multipartBody(t, map[string]string{"fine.md": "# Fine\n\nok\n"})
	if code, b := tg.upload("shop", body, ct); code != 200 {
		t.Fatalf("a plain upload: %d %s", code, b)
	}
	for i, name := range append(names, "CON", "nul.txt", "Com1.md", "lpt9", "a:b.md", "trailing.", "trailing ", "a\u202eb") {
		before := tree(t, tg.root)
		files := map[string]string{name: "# Evil\n\nattacker text\n"}
		if i%2 == 1 {
			files["fine.md"] = "# Fine\n\nok\n"
		}
		body, ct := multipartBody(t, files)
		req, _ := http.NewRequest("POST", tg.srv.URL+"/api/upload?kb=shop", body)
		req.Header.Set("Content-Type", ct)
		code, b := tg.do(req)
		after := tree(t, tg.root)
		if code == 200 {
			// Some spellings are plain file names on this system (a
			// fullwidth dot is not a separator): they must land inside.
			if d := outside(before, after, filepath.Join("data", "uploads", "shop"), filepath.Join("data", "kb")); len(d) > 0 {
				t.Errorf("upload of %q escaped the upload folder: %v", name, d)
			}
			if w := onWire(name); strings.ContainsAny(w, "/\\\x00\r\n\x1b") || strings.HasPrefix(w, ".") || len(w) > 255 {
				t.Errorf("upload of file name %q was accepted", name)
			}
			continue
		}
		refusedWithSentence(t, fmt.Sprintf("upload filename=%q", name), code, b)
		// Earlier accepted uploads may still be ingesting into data/kb.
		if d := outside(before, after, filepath.Join("data", "kb")); len(d) > 0 {
			t.Errorf("upload filename=%q was refused but changed the disk: %v", name, d)
		}
	}
	if _, err := os.Stat(filepath.Join(tg.victim, ".ssh", "authorized_keys")); err == nil {
		t.Fatal("an upload wrote into the victim folder")
	}
}

// TestTraversalInEveryCallArgument sends traversal names in every string
// argument of every bound method: nothing outside the data folder may be
// written, removed or read back.
func TestTraversalInEveryCallArgument(t *testing.T) {
	r := seeded(t)
	tg := newTarget(t, nil)
	tg.mustCall("CreateKB", nil, "shop", ollamafake.DefaultEmbedModel)
	tg.mustCall("SaveAgent", nil, map[string]any{"name": "baker", "model": ollamafake.DefaultChatModel, "kbs": []string{"shop"}})
	names := traversalNames(r, 10)
	names = append(names, tg.victim, filepath.Join(tg.victim, "secret.md"), "../victim/secret.md", "../../victim/secret.md", "../victim", "../../victim")
	typ := reflect.TypeFor[*app.App]()
	skip := map[string]bool{
		"Ingest":       true, // reads the local files it is given, by design: covered with a bad kb below
		"SaveSettings": true, // a struct of settings, no path
		"SourcePDF":    false,
	}
	before := tree(t, tg.root)
	for _, method := range Bound {
		m, ok := typ.MethodByName(method)
		if !ok || skip[method] {
			continue
		}
		mt := m.Type
		var strArgs []int
		for i := 1; i < mt.NumIn(); i++ {
			if mt.In(i).Kind() == reflect.String {
				strArgs = append(strArgs, i-1)
			}
		}
		if len(strArgs) == 0 {
			continue
		}
		for _, name := range names {
			for _, which := range strArgs {
				args := make([]any, mt.NumIn()-1)
				for i := range args {
					switch mt.In(i + 1).Kind() {
					case reflect.String:
						args[i] = "shop"
						if strings.Contains(strings.ToLower(mt.In(i+1).Name()+method), "agent") {
							args[i] = "baker"
						}
					default:
						args[i] = reflect.Zero(mt.In(i + 1)).Interface()
					}
				}
				args[which] = name
				code, body := tg.call(method, args...)
				if strings.Contains(string(body), tg.secret) {
					t.Errorf("%s(%q) read the victim's file: %d", method, args, code)
				}
			}
		}
	}
	// Ingest with a bad kb name and a real file.
	for _, name := range names {
		if store.ValidName(name) == nil {
			continue // a plain name on this system, such as "．．"
		}
		if code, body := tg.call("Ingest", name, []string{filepath.Join(tg.victim, "secret.md")}); code == 200 {
			t.Errorf("Ingest into kb %q was accepted: %s", name, body)
		}
	}
	if d := outside(before, tree(t, tg.root), "data"); len(d) > 0 {
		t.Errorf("calls with traversal names changed files outside the data folder: %v", d)
	}
	if _, err := os.Stat(filepath.Join(tg.victim, "secret.md")); err != nil {
		t.Errorf("the victim's file is gone: %v", err)
	}
}

// TestStaticFilesStayInside asks the file server for names outside the
// interface's files, and the call route for methods that are not bound.
func TestStaticFilesStayInside(t *testing.T) {
	r := seeded(t)
	tg := newTarget(t, nil)
	paths := []string{"/../victim/secret.md", "/..%2fvictim%2fsecret.md", "/%2e%2e/%2e%2e/victim/secret.md", "/assets/..%2f..%2f..%2fvictim/secret.md", "/..\\victim\\secret.md", "/" + tg.victim + "/secret.md"}
	for _, n := range traversalNames(r, 20) {
		paths = append(paths, "/"+url.PathEscape(n)+"/secret.md", "/assets/"+url.PathEscape(n))
	}
	for _, p := range paths {
		req, err := http.NewRequest("GET", tg.srv.URL+"/", nil)
		if err != nil {
			t.Fatal(err)
		}
		req.URL.Opaque = p // sent as written, not cleaned by the client
		code, body := tg.do(req)
		if strings.Contains(body, tg.secret) {
			t.Errorf("GET %s served the victim's file (%d)", p, code)
		}
	}
	// The method name is a path parameter too: only bound names answer.
	before := tree(t, tg.root)
	for _, n := range append(traversalNames(r, 20), "../call/ListKBs", "..%2fListKBs", "Close", "connect", "listKBs") {
		req, _ := http.NewRequest("POST", tg.srv.URL+"/", strings.NewReader(`[]`))
		req.URL.Opaque = "/api/call/" + url.PathEscape(n)
		if code, body := tg.do(req); code == 200 {
			t.Errorf("POST /api/call/%s answered 200: %.200q", url.PathEscape(n), body)
		}
	}
	if d := outside(before, tree(t, tg.root)); len(d) > 0 {
		t.Errorf("calls to unknown methods changed the disk: %v", d)
	}
}

func TestOversizedBodiesAreRefused(t *testing.T) {
	r := seeded(t)
	tg := newTarget(t, nil)
	// A call body over the limit, by a random margin.
	for range 3 {
		n := MaxCallBody + 1 + r.Intn(MaxCallBody)
		req, _ := http.NewRequest("POST", tg.srv.URL+"/api/call/Search", strings.NewReader(`["shop","`+strings.Repeat("a", n)+`",3]`))
		code, body := tg.do(req)
		if code != http.StatusRequestEntityTooLarge {
			t.Errorf("call body of %d bytes: %d %.200q", n, code, body)
		}
	}
	// Declared sizes over the limit are refused from the headers alone: the
	// server must answer without waiting for a body that never comes.
	for _, path := range []string{"/api/call/ListKBs", "/api/upload?kb=shop"} {
		limit := int64(MaxCallBody)
		if strings.HasPrefix(path, "/api/upload") {
			limit = MaxUploadBody
		}
		declared := limit + 1 + r.Int63n(1<<40)
		conn, err := net.DialTimeout("tcp", tg.srv.Listener.Addr().String(), 10*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		conn.SetDeadline(time.Now().Add(20 * time.Second))
		fmt.Fprintf(conn, "POST %s HTTP/1.1\r\nHost: 127.0.0.1:%s\r\nContent-Type: multipart/form-data; boundary=x\r\nContent-Length: %d\r\n\r\n", path, tg.port, declared)
		res, err := http.ReadResponse(bufio.NewReader(conn), nil)
		if err != nil {
			t.Errorf("%s declaring %d bytes: no answer without the body (%v)", path, declared, err)
			conn.Close()
			continue
		}
		b, _ := io.ReadAll(io.LimitReader(res.Body, 4096))
		conn.Close()
		if res.StatusCode != http.StatusRequestEntityTooLarge {
			t.Errorf("%s declaring %d bytes: %d %s", path, declared, res.StatusCode, b)
		}
	}
	if _, err := os.Stat(filepath.Join(tg.data, "uploads")); err == nil {
		t.Error("a refused upload created the upload folder")
	}
}

// TestOversizedUploadsLeaveNothing streams uploads past the limit, without
// declaring their length, and with too many files: each is refused with 413
// and leaves no file behind.
func TestOversizedUploadsLeaveNothing(t *testing.T) {
	r := seeded(t)
	limit := int64(64<<10 + r.Intn(64<<10))
	tg := newTarget(t, func(s *Server) { s.MaxUpload = limit })
	body, ct := multipartBody(t, map[string]string{"fine.md": "# Fine\n\nok\n"})
	if code, b := tg.upload("shop", body, ct); code != 200 {
		t.Fatalf("a small upload: %d %s", code, b)
	}
	before := tree(t, tg.root)
	for range 4 {
		files := map[string]string{}
		// Over the limit in total, spread over one to four files.
		n := 1 + r.Intn(4)
		for i := range n {
			files[fmt.Sprintf("part%d.md", i)] = strings.Repeat("x", int(limit)/n+1+r.Intn(int(limit)))
		}
		body, ct := multipartBody(t, files)
		size := body.Len()
		// A reader without a Len makes the client send it chunked, so the
		// server learns the size only by reading.
		req, _ := http.NewRequest("POST", tg.srv.URL+"/api/upload?kb=shop", io.MultiReader(body))
		req.Header.Set("Content-Type", ct)
		code, b := tg.do(req)
		if code != http.StatusRequestEntityTooLarge {
			t.Errorf("an upload of %d bytes over a limit of %d: %d %s", size, limit, code, b)
		}
		if d := outside(before, tree(t, tg.root), filepath.Join("data", "kb")); len(d) > 0 {
			t.Errorf("an oversized upload left files: %v", d)
		}
	}
}

func TestTooManyFilesInOneUpload(t *testing.T) {
	tg := newTarget(t, nil)
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	for i := range MaxUploadFiles + 1 {
		mw.CreateFormFile("file", fmt.Sprintf("f%05d.md", i))
	}
	mw.Close()
	before := tree(t, tg.root)
	code, b := tg.upload("shop", &buf, mw.FormDataContentType())
	if code != http.StatusRequestEntityTooLarge || !strings.Contains(b, "at most") {
		t.Fatalf("%d files in one upload: %d %s", MaxUploadFiles+1, code, b)
	}
	if d := outside(before, tree(t, tg.root)); len(d) > 0 {
		t.Errorf("a refused upload left files: %d of them, first %v", len(d), d[:min(3, len(d))])
	}
}

// TestEventStreamsAreBounded: each stream holds a buffer, so their number
// is capped; a closed stream frees its place.
func TestEventStreamsAreBounded(t *testing.T) {
	tg := newTarget(t, nil)
	var open []*http.Response
	defer func() {
		for _, res := range open {
			res.Body.Close()
		}
	}()
	for range MaxSubscribers {
		res, err := http.Get(tg.srv.URL + "/api/events")
		if err != nil {
			t.Fatal(err)
		}
		if res.StatusCode != 200 {
			t.Fatalf("stream %d: %d", len(open)+1, res.StatusCode)
		}
		open = append(open, res)
	}
	res, err := http.Get(tg.srv.URL + "/api/events")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("stream %d: %d %s", MaxSubscribers+1, res.StatusCode, b)
	}
	open[0].Body.Close()
	open = open[1:]
	deadline := time.Now().Add(20 * time.Second)
	for {
		res, err := http.Get(tg.srv.URL + "/api/events")
		if err != nil {
			t.Fatal(err)
		}
		if res.StatusCode == 200 {
			open = append(open, res)
			break
		}
		res.Body.Close()
		if time.Now().After(deadline) {
			t.Fatal("a closed stream did not free its place")
		}
		time.Sleep(20 * time.Millisecond) // polling a condition, not waiting a fixed time
	}
}
