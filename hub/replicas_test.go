package hub

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"atoll/hubstore"
	"atoll/hubstore/postgres"
	"atoll/internal/ollamafake"
	"atoll/internal/pgtest"
	"atoll/internal/testbin"
)

// The fault suite: real `atoll hub` processes on one PostgreSQL behind
// haproxy, as docs/deploy.md sets them up, all started by the test.

// hubProc is one replica process.
type hubProc struct {
	cmd  *exec.Cmd
	addr string
	log  *bytes.Buffer
	mu   *sync.Mutex
}

func startReplica(t testing.TB, bin, dsn, ollama string, extra ...string) *hubProc {
	t.Helper()
	args := append([]string{"--data", t.TempDir(), "--ollama", ollama, "hub", "--db", dsn, "--addr", "127.0.0.1:0", "--behind-proxy", "--rate", "0"}, extra...)
	cmd := exec.Command(bin, args...)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	p := &hubProc{cmd: cmd, log: &bytes.Buffer{}, mu: &sync.Mutex{}}
	cmd.Stderr = lockedWriter{p.mu, p.log}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	addr := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(out)
		re := regexp.MustCompile(`serving on http://([^/]+)/`)
		for sc.Scan() {
			if m := re.FindStringSubmatch(sc.Text()); m != nil {
				addr <- m[1]
			}
		}
	}()
	select {
	case p.addr = <-addr:
		return p
	case <-time.After(60 * time.Second):
		p.mu.Lock()
		defer p.mu.Unlock()
		t.Fatalf("a hub replica did not start:\n%s", p.log)
	}
	return nil
}

type lockedWriter struct {
	mu *sync.Mutex
	w  io.Writer
}

func (l lockedWriter) Write(b []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(b)
}

func freePort(t testing.TB) int {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// HAProxyConfig is the configuration docs/deploy.md shows, for replicas at
// addrs: least-connections balancing, /readyz checks, a retry on another
// replica when one cannot be reached.
func HAProxyConfig(listen string, addrs []string) string {
	var b strings.Builder
	fmt.Fprintf(&b, `global
    maxconn 4096

defaults
    mode http
    timeout connect 2s
    timeout client 120s
    timeout server 120s
    retries 3
    option redispatch
    # A request sent on a kept-alive connection to a replica that just died
    # gets no answer: send it again to another (when it fit in the buffer).
    retry-on conn-failure empty-response response-timeout
    option forwardfor
    # Answers stream token by token: send each chunk at once.
    option http-no-delay

frontend hub
    bind %s
    http-request set-header X-Request-ID %%[uuid()] unless { req.hdr(X-Request-ID) -m found }
    default_backend replicas

backend replicas
    balance leastconn
    option httpchk GET /readyz
    http-check expect status 200
    default-server inter 250ms fall 2 rise 1
`, listen)
	for i, a := range addrs {
		fmt.Fprintf(&b, "    server r%d %s check\n", i+1, a)
	}
	return b.String()
}

// startHAProxy runs Debian's haproxy in front of addrs and returns its address.
func startHAProxy(t testing.TB, addrs []string) string {
	t.Helper()
	bin, err := exec.LookPath("haproxy")
	if err != nil {
		t.Fatal("haproxy is not installed: this test needs Debian's haproxy package (scripts/setup.sh installs it)")
	}
	listen := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	cfg := filepath.Join(t.TempDir(), "haproxy.cfg")
	if err := os.WriteFile(cfg, []byte(HAProxyConfig(listen, addrs)), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "-db", "-f", cfg)
	var log bytes.Buffer
	cmd.Stdout, cmd.Stderr = &log, &log
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		if res, err := http.Get("http://" + listen + "/readyz"); err == nil {
			res.Body.Close()
			if res.StatusCode == 200 {
				return listen
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("haproxy did not start serving on %s", listen)
	return ""
}

// atollCmd runs an `atoll` command and returns its standard output.
func atollCmd(t testing.TB, bin string, args ...string) string {
	t.Helper()
	cmd := exec.Command(bin, args...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		t.Fatalf("atoll %s: %v\n%s", strings.Join(args, " "), err, errb.String())
	}
	return out.String() + errb.String()
}

// streamOutcome is what one client saw.
type streamOutcome struct {
	done bool   // [DONE] arrived: the turn is acknowledged
	conv string // from the final chunk
	text string
}

// stream sends one streamed question and reads it to the end or the cut;
// onToken (if not nil) is called at its first token.
func stream(client *http.Client, url, model, q, idem, bearer string, onToken ...func()) (streamOutcome, error) {
	req, _ := http.NewRequest("POST", url+"/v1/chat/completions", bytes.NewReader(chatBody(model, "", q, true)))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Idempotency-Key", idem)
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	res, err := client.Do(req)
	if err != nil {
		return streamOutcome{}, err
	}
	defer res.Body.Close()
	if res.StatusCode != 200 {
		b, _ := io.ReadAll(res.Body)
		return streamOutcome{}, fmt.Errorf("status %d: %s", res.StatusCode, b)
	}
	var out streamOutcome
	var text strings.Builder
	sc := bufio.NewScanner(res.Body)
	for sc.Scan() {
		line, ok := strings.CutPrefix(sc.Text(), "data: ")
		if !ok {
			continue
		}
		if line == "[DONE]" {
			out.done = true
			break
		}
		var c struct {
			Choices []struct{ Delta struct{ Content string } }
			Atoll   *atollExtra
			Error   *struct{ Message string }
		}
		if err := json.Unmarshal([]byte(line), &c); err != nil {
			return out, fmt.Errorf("a damaged chunk %q: a stream must be whole or cut, never garbled", line)
		}
		if c.Error != nil {
			return out, fmt.Errorf("error event: %s", c.Error.Message)
		}
		if len(c.Choices) > 0 {
			if text.Len() == 0 && c.Choices[0].Delta.Content != "" {
				for _, f := range onToken {
					f()
				}
			}
			text.WriteString(c.Choices[0].Delta.Content)
		}
		if c.Atoll != nil {
			out.conv = c.Atoll.Conversation
		}
	}
	out.text = text.String()
	if !out.done {
		return out, fmt.Errorf("cut after %q", out.text)
	}
	return out, nil
}

// TestReplicasBehindHAProxy: three replicas on one PostgreSQL behind
// haproxy, under 200 concurrent streams: one replica is killed with
// SIGKILL, a new version is published on another, a token is revoked.
// Every stream completes or is cut cleanly (and its retry, with the same
// Idempotency-Key, completes); no acknowledged turn or lead is lost or
// stored twice; the new version and the revocation reach every live
// replica within a second.
func TestReplicasBehindHAProxy(t *testing.T) {
	const streams, leadEvery = 200, 5
	pg := pgtest.Start(t, pgtest.Options{})
	dsn := pg.NewDatabase(t)
	bin := testbin.Atoll(t)
	fake := ollamafake.New(t)
	// Each answer streams 16 tokens 60 ms apart (about a second), so the
	// kill lands mid-stream. A question naming an email saves a lead first.
	emailRe := regexp.MustCompile(`[a-z0-9.-]+@example\.com`)
	fake.OnChat(func(r ollamafake.ChatRequest) ollamafake.Reply {
		last := r.Messages[len(r.Messages)-1]
		if m := emailRe.FindString(last.Content); m != "" && last.Role == "user" {
			return ollamafake.Reply{ToolCalls: []ollamafake.ToolCall{{Name: "save_lead", Arguments: map[string]any{"name": "Client", "email": m}}}}
		}
		return ollamafake.Reply{Tokens: strings.Fields("Custom cakes need forty eight hours notice here , and a deposit of ten euros ; thanks ."), Delay: 60 * time.Millisecond}
	})

	admin := t.TempDir()
	tok := strings.TrimSpace(strings.SplitN(atollCmd(t, bin, "--data", admin, "hub", "workspace", "create", "shop", "--db", dsn), "\n", 2)[0])
	spare := strings.TrimSpace(strings.SplitN(atollCmd(t, bin, "--data", admin, "hub", "token", "create", "--workspace", "shop", "--label", "spare", "--db", dsn), "\n", 2)[0])
	var reps []*hubProc
	var addrs []string
	for range 3 {
		p := startReplica(t, bin, dsn, fake.URL, "--shutdown-grace", "5s", "--backend-concurrency", "128", "--backend-queue", "256")
		reps = append(reps, p)
		addrs = append(addrs, p.addr)
	}
	lb := "http://" + startHAProxy(t, addrs)
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: streams, MaxConnsPerHost: 0}, Timeout: 120 * time.Second}
	publishV := func(opening string) (int, string) {
		req, _ := http.NewRequest("POST", lb+"/api/publish", bytes.NewReader(leadBundle(t, "baker", opening)))
		req.Header.Set("Authorization", "Bearer "+tok)
		res, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return res.StatusCode, string(b)
	}
	if code, body := publishV("one"); code != 200 {
		t.Fatalf("publish v1: %d %s", code, body)
	}
	served := func(addr string) string {
		res, err := http.Get("http://" + addr + "/api/agents")
		if err != nil {
			return "down"
		}
		defer res.Body.Close()
		var as []publicAgent
		json.NewDecoder(res.Body).Decode(&as)
		for _, a := range as {
			if a.Name == "baker" {
				return a.Opening
			}
		}
		return "none"
	}
	for _, a := range addrs {
		waitFor(t, 20*time.Second, func() bool { return served(a) == "one" })
	}

	type result struct {
		idem, email string
		first       error
		out         streamOutcome
		retryErr    error
	}
	results := make([]result, streams)
	var flowing atomic.Int32 // streams that have had their first token
	var wg sync.WaitGroup
	t0 := time.Now()
	for i := range streams {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := &results[i]
			r.idem = fmt.Sprintf("stream-%d", i)
			q := "How much notice for a cake?"
			if i%leadEvery == 0 {
				r.email = fmt.Sprintf("client-%d@example.com", i)
				q = "Please call me back, my email is " + r.email
			}
			r.out, r.first = stream(client, lb, "baker", q, r.idem, "", func() { flowing.Add(1) })
			if r.first != nil {
				// A cut stream is retried once, with the same key, through
				// the balancer (so on a live replica).
				r.out, r.retryErr = stream(client, lb, "baker", q, r.idem, "")
			}
		}()
	}
	// Mid-load, once answers are streaming: kill one replica, publish on
	// the others, revoke a token.
	active := func(addr string) int {
		res, err := http.Get("http://" + addr + "/readyz")
		if err != nil {
			return 0
		}
		defer res.Body.Close()
		var v struct{ Streams int }
		json.NewDecoder(res.Body).Decode(&v)
		return v.Streams
	}
	waitFor(t, 30*time.Second, func() bool { return flowing.Load() >= streams*3/4 && active(reps[0].addr) >= 5 })
	if err := reps[0].cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	killedAt := time.Since(t0)
	// The publisher's request may reach the dead replica before haproxy
	// has marked it down (a bundle too large to resend): it gets a 502 and
	// publishes again, as `atoll publish` is run again.
	code, body := publishV("two")
	for try := 0; (code == 502 || code == 503) && try < 5; try++ {
		t.Logf("publish v2 during the load: %d, again", code)
		code, body = publishV("two")
	}
	if code != 200 {
		t.Fatalf("publish v2 during the load: %d %s", code, body)
	}
	published := time.Now()
	for _, a := range addrs[1:] {
		waitFor(t, 20*time.Second, func() bool { return served(a) == "two" })
	}
	if took := time.Since(published); took > time.Second {
		t.Errorf("version 2 reached every live replica after %v, more than a second", took)
	}
	list := atollCmd(t, bin, "--data", admin, "hub", "token", "list", "--workspace", "shop", "--json", "--db", dsn)
	var toks []struct{ ID, Label string }
	json.Unmarshal([]byte(list), &toks)
	spareID := ""
	for _, x := range toks {
		if x.Label == "spare" {
			spareID = x.ID
		}
	}
	atollCmd(t, bin, "--data", admin, "hub", "token", "revoke", spareID, "--db", dsn)
	revoked := time.Now()
	for _, a := range addrs[1:] {
		req, _ := http.NewRequest("GET", "http://"+a+"/api/workspace/agents", nil)
		req.Header.Set("Authorization", "Bearer "+spare)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != 401 {
			t.Errorf("a revoked token on %s: %d", a, res.StatusCode)
		}
	}
	if took := time.Since(revoked); took > time.Second {
		t.Errorf("revocation took %v to check on every live replica", took)
	}
	wg.Wait()
	elapsed := time.Since(t0)

	// Every stream completed, at once or on its retry.
	cut, failed, midStream := 0, 0, 0
	for i, r := range results {
		if r.first != nil && strings.HasPrefix(r.first.Error(), "cut after") && r.out.done {
			midStream++
		}
		if r.first != nil {
			cut++
		}
		if r.retryErr != nil || !r.out.done || r.out.conv == "" {
			failed++
			t.Errorf("stream %d: first %v, retry %v", i, r.first, r.retryErr)
		}
	}
	t.Logf("%d streams in %v (replica killed at %v): %d cut and retried (%d cut after tokens had flowed), %d failed", streams, elapsed.Round(time.Millisecond), killedAt.Round(time.Millisecond), cut, midStream, failed)
	if midStream == 0 {
		t.Error("no stream was cut mid-answer: the kill did not land while the killed replica streamed")
	}

	// The database: each acknowledged turn once, each lead once.
	st, err := postgres.Open(context.Background(), dsn, postgres.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	ctx := context.Background()
	ws, err := st.WorkspaceByName(ctx, "shop")
	if err != nil {
		t.Fatal(err)
	}
	for i, r := range results {
		if !r.out.done {
			continue
		}
		ts, err := st.Turns(ctx, ws.ID, r.out.conv, 10)
		if err != nil || len(ts) != 1 || ts[0].Key != r.idem {
			t.Errorf("stream %d: acknowledged turn in %s: %+v %v", i, r.out.conv, ts, err)
		}
	}
	leads, err := st.Leads(ctx, ws.ID, "baker")
	if err != nil {
		t.Fatal(err)
	}
	byEmail := map[string]int{}
	for _, l := range leads {
		byEmail[l.Email]++
	}
	for i, r := range results {
		if r.email != "" && r.out.done && byEmail[r.email] != 1 {
			t.Errorf("stream %d: lead %s stored %d times", i, r.email, byEmail[r.email])
		}
	}
	if want := (streams + leadEvery - 1) / leadEvery; len(leads) != want {
		t.Errorf("%d leads stored, want %d (one per asking client)", len(leads), want)
	}
	var _ hubstore.Storage = st
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t testing.TB, d time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("condition not met within %v", d)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// BenchmarkReplicas: streamed answers per second through real `atoll hub`
// processes on one PostgreSQL: one replica reached directly, one behind
// haproxy (the balancer's own cost), three behind haproxy. The scripted
// model streams 8 tokens 5 ms apart; 100 streams run at once. Reported:
// streams/s, the median time to the first token (ttft-ms) and the
// median whole answer (p50-ms).
//
//	go test -run '^$' -bench BenchmarkReplicas -benchtime 5x ./hub/
func BenchmarkReplicas(b *testing.B) {
	pg := pgtest.Start(b, pgtest.Options{Durable: true})
	bin := testbin.Atoll(b)
	fake := ollamafake.New(b)
	fake.OnChat(func(ollamafake.ChatRequest) ollamafake.Reply {
		return ollamafake.Reply{Tokens: strings.Fields("Cakes need forty eight hours notice here ."), Delay: 5 * time.Millisecond}
	})
	for _, c := range []struct {
		name     string
		replicas int
		lb       bool
	}{{"one-direct", 1, false}, {"one-haproxy", 1, true}, {"three-haproxy", 3, true}} {
		b.Run(c.name, func(b *testing.B) {
			dsn := pg.NewDatabase(b)
			admin := b.TempDir()
			tok := strings.TrimSpace(strings.SplitN(atollCmd(b, bin, "--data", admin, "hub", "workspace", "create", "shop", "--db", dsn), "\n", 2)[0])
			var addrs []string
			for range c.replicas {
				addrs = append(addrs, startReplica(b, bin, dsn, fake.URL, "--backend-concurrency", "256", "--backend-queue", "512").addr)
			}
			url := "http://" + addrs[0]
			if c.lb {
				url = "http://" + startHAProxy(b, addrs)
			}
			req, _ := http.NewRequest("POST", url+"/api/publish", bytes.NewReader(leadBundle(b, "baker", "hi")))
			req.Header.Set("Authorization", "Bearer "+tok)
			res, err := http.DefaultClient.Do(req)
			if err != nil || res.StatusCode != 200 {
				b.Fatalf("publish: %v", err)
			}
			res.Body.Close()
			const n = 100
			client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: n}}
			var mu sync.Mutex
			var ttfts, totals []time.Duration
			b.ResetTimer()
			start := time.Now()
			for i := 0; i < b.N; i++ {
				var wg sync.WaitGroup
				for j := range n {
					wg.Add(1)
					go func() {
						defer wg.Done()
						t0 := time.Now()
						ttft, err := streamTTFT(client, url, fmt.Sprintf("b%d-%d", i, j))
						if err != nil {
							b.Error(err)
							return
						}
						mu.Lock()
						ttfts, totals = append(ttfts, ttft), append(totals, time.Since(t0))
						mu.Unlock()
					}()
				}
				wg.Wait()
			}
			el := time.Since(start)
			b.StopTimer()
			b.ReportMetric(float64(n*b.N)/el.Seconds(), "streams/s")
			b.ReportMetric(float64(median(ttfts).Microseconds())/1000, "ttft-ms")
			b.ReportMetric(float64(median(totals).Microseconds())/1000, "p50-ms")
		})
	}
}

// streamTTFT streams one question and returns when its first token came.
func streamTTFT(client *http.Client, url, idem string) (time.Duration, error) {
	t0 := time.Now()
	req, _ := http.NewRequest("POST", url+"/v1/chat/completions", bytes.NewReader(chatBody("baker", "", "How much notice for a cake?", true)))
	req.Header.Set("Idempotency-Key", idem)
	res, err := client.Do(req)
	if err != nil {
		return 0, err
	}
	defer res.Body.Close()
	if res.StatusCode != 200 {
		return 0, fmt.Errorf("status %d", res.StatusCode)
	}
	var ttft time.Duration
	sc := bufio.NewScanner(res.Body)
	done := false
	for sc.Scan() {
		line := sc.Text()
		if ttft == 0 && strings.Contains(line, `"content":"`) {
			ttft = time.Since(t0)
		}
		if line == "data: [DONE]" {
			done = true
		}
	}
	if !done {
		return 0, fmt.Errorf("stream cut")
	}
	return ttft, nil
}

func median(d []time.Duration) time.Duration {
	if len(d) == 0 {
		return 0
	}
	s := append([]time.Duration(nil), d...)
	slices.Sort(s)
	return s[len(s)/2]
}
