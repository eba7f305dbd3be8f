package hub

import (
	"archive/zip"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"atoll/internal/ollamafake"
	"atoll/publish"
)

// The attack suite throws randomised variants of each hostile input at a
// real hub (hub.Serve on loopback). The seed is logged so a failure can be
// replayed with ATOLL_ATTACK_SEED.
func attackRand(t *testing.T) *rand.Rand {
	seed := uint64(time.Now().UnixNano())
	if s := os.Getenv("ATOLL_ATTACK_SEED"); s != "" {
		fmt.Sscan(s, &seed)
	}
	t.Logf("seed %d (set ATOLL_ATTACK_SEED to replay)", seed)
	return rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
}

var traversals = []string{
	"../", "..%2f", "%2e%2e/", "%2e%2e%2f", "..\\", "..%5c", "....//", "%252e%252e%252f", "/", "%2f", "..%00/", ".%2e/",
}

func traversalName(r *rand.Rand, target string) string {
	var b strings.Builder
	for i := 0; i < 1+r.IntN(6); i++ {
		b.WriteString(traversals[r.IntN(len(traversals))])
	}
	b.WriteString(target)
	return b.String()
}

// TestAttackTraversalInPathParameters: every route that takes a name,
// given traversal variants, neither touches files outside the hub's data
// nor changes any published agent.
func TestAttackTraversalInPathParameters(t *testing.T) {
	r := attackRand(t)
	th := newTestHub(t, 0, nil)
	addr := serve(t, th.h)
	outside := t.TempDir()
	canary := filepath.Join(outside, "v1.json")
	os.WriteFile(canary, []byte(`{"name":"canary"}`), 0o600)
	os.MkdirAll(filepath.Join(outside, "kb", "x"), 0o700)
	rel, _ := filepath.Rel(th.h.cache.dir, outside)
	targets := []string{"baker", "etc/passwd", rel, "agents", "kb/bakery", "..", "tokens.json"}
	type route struct{ method, path string }
	for i := 0; i < 150; i++ {
		name := traversalName(r, targets[r.IntN(len(targets))])
		rt := []route{
			{"DELETE", "/api/agents/" + name},
			{"POST", "/api/agents/" + name + "/rollback"},
			{"GET", "/a/" + name},
			{"GET", "/api/leads?agent=" + name},
		}[r.IntN(4)]
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(c, "%s %s HTTP/1.1\r\nHost: hub\r\nAuthorization: Bearer %s\r\nConnection: close\r\n\r\n", rt.method, rt.path, th.tok)
		c.SetReadDeadline(time.Now().Add(10 * time.Second))
		b, _ := io.ReadAll(c)
		c.Close()
		status := strings.SplitN(string(b), " ", 3)
		if len(status) < 2 || status[1] == "200" && rt.method != "GET" {
			t.Fatalf("%s %s: %q", rt.method, rt.path, firstLine(b))
		}
		if rt.method == "GET" && strings.Contains(string(b), "canary") {
			t.Fatalf("%s %s read a file outside the hub", rt.method, rt.path)
		}
	}
	if _, err := os.Stat(canary); err != nil {
		t.Fatal("a file outside the hub was removed")
	}
	if a, err := th.h.st.Agent(context.Background(), th.ws, "baker"); err != nil || a.Current != 1 || a.Latest != 1 {
		t.Fatalf("a published agent changed: %+v %v", a, err)
	}
	th.fake.Script(ollamafake.Reply{Text: "48 hours [1]."})
	res := post(t, th.srv.URL+"/v1/chat/completions", `{"model":"baker","messages":[{"role":"user","content":"How much notice do birthday cakes need?"}]}`)
	b, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if !strings.Contains(string(b), `"used":true`) {
		t.Fatalf("the agent's knowledge is gone: %s", b)
	}
}

func firstLine(b []byte) string {
	s, _, _ := strings.Cut(string(b), "\r\n")
	return s
}

// TestAttackHostHeaders: a hostile Host header never breaks out of the
// widget tag the hub hands back, and never changes what a page serves.
func TestAttackHostHeaders(t *testing.T) {
	r := attackRand(t)
	th := newTestHub(t, 0, Importer(nil))
	bundle := bundleFor(t, "widgeteer")
	hosts := []string{`evil.example"><script>alert(1)</script>`, "evil.example:80", "127.0.0.1.nip.io", `x' onload='alert(1)`, "[::1]:1", "localhost"}
	for i := 0; i < 6; i++ {
		host := hosts[r.IntN(len(hosts))]
		req, _ := http.NewRequest("POST", th.srv.URL+"/api/publish", bytes.NewReader(bundle))
		req.Host = host
		req.Header.Set("Authorization", "Bearer "+th.tok)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var out struct{ Widget string }
		json.NewDecoder(res.Body).Decode(&out)
		res.Body.Close()
		if res.StatusCode == 200 && (strings.Contains(out.Widget, "<script>alert") || strings.Contains(out.Widget, "' onload='") || strings.Count(out.Widget, `"`) != 4) {
			t.Fatalf("Host %q broke out of the widget tag: %s", host, out.Widget)
		}
	}
}

// TestAttackSlowBodies: random routes, declared sizes and trickle rates;
// every such connection is refused at once or cut off, and the hub keeps
// answering others throughout.
func TestAttackSlowBodies(t *testing.T) {
	r := attackRand(t)
	th := newTestHub(t, 60, nil)
	th.h.limits.BodyGrace = 300 * time.Millisecond
	th.h.limits.MinBodyRate = 2000
	addr := serve(t, th.h)
	paths := []string{"/api/publish", "/v1/chat/completions", "/api/agents/baker/rollback", "/api/agents", "/a/baker"}
	done := make(chan string, 20)
	for i := 0; i < 20; i++ {
		path := paths[r.IntN(len(paths))]
		auth := ""
		if r.IntN(2) == 0 {
			auth = "Authorization: Bearer " + th.tok + "\r\n"
		}
		size := 1000 + r.IntN(200000)
		every := time.Duration(50+r.IntN(400)) * time.Millisecond
		go func() {
			c, err := net.Dial("tcp", addr)
			if err != nil {
				done <- "" // refused at once: fine
				return
			}
			defer c.Close()
			fmt.Fprintf(c, "POST %s HTTP/1.1\r\nHost: hub\r\n%sContent-Length: %d\r\n\r\n{", path, auth, size)
			closed := make(chan struct{})
			go func() { io.Copy(io.Discard, c); close(closed) }()
			tick := time.NewTicker(every)
			defer tick.Stop()
			give := time.After(30 * time.Second)
			for {
				select {
				case <-closed:
					done <- ""
					return
				case <-tick.C:
					c.Write([]byte(" "))
				case <-give:
					done <- fmt.Sprintf("POST %s declaring %d bytes, a byte every %v, held its connection for 30 s", path, size, every)
					return
				}
			}
		}()
	}
	if lat, errs := otherClient(addr, 5, 5*time.Second); len(errs) > 0 {
		t.Fatalf("another client failed during slow bodies: %v (%v)", errs, lat)
	}
	for i := 0; i < 20; i++ {
		if msg := <-done; msg != "" {
			t.Error(msg)
		}
	}
}

// TestAttackSpoofedForwarding: with no trusted proxy, any X-Forwarded-For
// is ignored: varying it does not escape the rate limit. With a trusted
// proxy, a spoofed leftmost hop does not either.
func TestAttackSpoofedForwarding(t *testing.T) {
	r := attackRand(t)
	spoof := func() string {
		var hops []string
		for i := 0; i < 1+r.IntN(4); i++ {
			hops = append(hops, fmt.Sprintf("%d.%d.%d.%d", 1+r.IntN(223), r.IntN(256), r.IntN(256), 1+r.IntN(254)))
		}
		return strings.Join(hops, ", ")
	}
	for _, behind := range []bool{false, true} {
		th := newTestHub(t, 1, nil) // burst 10; nothing refills during the test
		if behind {
			th.h.cfg.TrustedProxies = LoopbackProxies
		}
		codes := map[int]int{}
		for i := 0; i < 15; i++ {
			req, _ := http.NewRequest("GET", th.srv.URL+"/api/agents", nil)
			xff := spoof()
			if behind {
				xff += ", 198.51.100.7" // what the trusted proxy appended: the real client
			}
			req.Header.Set("X-Forwarded-For", xff)
			res, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			res.Body.Close()
			codes[res.StatusCode]++
		}
		if codes[200] != 10 || codes[429] != 5 {
			t.Fatalf("trusted proxy %v: spoofed X-Forwarded-For escaped the limit: %v", behind, codes)
		}
	}
}

// amplifiedBundle inserts blank lines (about mib MiB, at random places)
// into a real bundle's chunks.jsonl, with sizes and checksums made right.
func amplifiedBundle(t testing.TB, r *rand.Rand, data []byte, mib int) []byte {
	zr, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		t.Fatal(err)
	}
	es := map[string][]byte{}
	var order []string
	for _, f := range zr.File {
		rc, _ := f.Open()
		b, _ := io.ReadAll(rc)
		rc.Close()
		es[f.Name] = b
		order = append(order, f.Name)
	}
	var m publish.Manifest
	json.Unmarshal(es[publish.ManifestName], &m)
	for i := range m.Files {
		f := &m.Files[i]
		if strings.HasSuffix(f.Path, "chunks.jsonl") {
			lines := bytes.SplitAfter(es[f.Path], []byte("\n"))
			var out []byte
			blank := mib << 20
			for _, l := range lines {
				n := r.IntN(blank + 1)
				blank -= n
				out = append(out, bytes.Repeat([]byte("\n"), n)...)
				out = append(out, l...)
			}
			out = append(out, bytes.Repeat([]byte("\r\n"), blank/2)...)
			es[f.Path] = out
			sum := sha256.Sum256(out)
			f.Size, f.SHA256 = int64(len(out)), hex.EncodeToString(sum[:])
		}
	}
	es[publish.ManifestName], _ = json.Marshal(m)
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, n := range order {
		w, _ := zw.CreateHeader(&zip.FileHeader{Name: n, Method: zip.Deflate})
		w.Write(es[n])
	}
	zw.Close()
	return buf.Bytes()
}

// TestAttackAmplificationBundles: tiny bundles that inflate to tens of MiB
// of blank lines are published with memory bounded by what is kept.
func TestAttackAmplificationBundles(t *testing.T) {
	r := attackRand(t)
	th := newTestHub(t, 0, Importer(nil))
	base := bundleFor(t, "amplified")
	for i := 0; i < 3; i++ {
		mib := 16 + r.IntN(48)
		data := amplifiedBundle(t, r, base, mib)
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		code, body := th.do(t, "POST", "/api/publish", data)
		runtime.ReadMemStats(&after)
		if code != 200 {
			t.Fatalf("a %d KB bundle inflating to %d MiB: %d %s", len(data)>>10, mib, code, body)
		}
		if n := after.TotalAlloc - before.TotalAlloc; n > 48<<20 {
			t.Fatalf("publishing a %d KB bundle that inflates to %d MiB allocated %d MiB", len(data)>>10, mib, n>>20)
		}
	}
}
