package hub

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"regexp"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"atoll/internal/testbin"
)

// startHubProcess runs `atoll hub` under prlimit --nofile=512 on a free
// loopback port and returns its address once it serves.
func startHubProcess(t testing.TB, bin string, extra ...string) string {
	t.Helper()
	dir := t.TempDir()
	args := append([]string{"--nofile=512", "--", bin, "--data", dir, "--ollama", "http://127.0.0.1:1", "hub", "--addr", "127.0.0.1:0"}, extra...)
	cmd := exec.Command("prlimit", args...)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = io.Discard
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
	case a := <-addr:
		return a
	case <-time.After(30 * time.Second):
		t.Fatal("the hub did not start")
	}
	return ""
}

// slowConnections opens n connections from 127.0.0.1 that each declare a
// large body and then send it a byte at a time, as an attacker holding file
// descriptors would. It returns a stop function.
func slowConnections(t testing.TB, addr string, n int) func() {
	t.Helper()
	var mu sync.Mutex
	var conns []net.Conn
	done := make(chan struct{})
	paths := []string{"/api/publish", "/v1/chat/completions", "/api/agents/x/rollback"}
	var wg sync.WaitGroup
	for i := 0; i < n; i++ {
		c, err := net.DialTimeout("tcp", addr, 5*time.Second)
		if err != nil {
			continue // the server may refuse at once; that is fine
		}
		fmt.Fprintf(c, "POST %s HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n{", paths[i%len(paths)], addr)
		mu.Lock()
		conns = append(conns, c)
		mu.Unlock()
	}
	// Keep trickling a byte a second on every connection still open.
	wg.Add(1)
	go func() {
		defer wg.Done()
		tick := time.NewTicker(time.Second)
		defer tick.Stop()
		for {
			select {
			case <-done:
				return
			case <-tick.C:
				mu.Lock()
				for _, c := range conns {
					c.SetWriteDeadline(time.Now().Add(10 * time.Millisecond))
					c.Write([]byte(" "))
				}
				mu.Unlock()
			}
		}
	}()
	return func() {
		close(done)
		wg.Wait()
		for _, c := range conns {
			c.Close()
		}
	}
}

// otherClient sends requests from 127.0.0.2 and returns their latencies;
// a request that fails counts as the timeout.
func otherClient(addr string, n int, timeout time.Duration) ([]time.Duration, []error) {
	client := &http.Client{Timeout: timeout, Transport: &http.Transport{
		DialContext:       (&net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP("127.0.0.2")}}).DialContext,
		DisableKeepAlives: true,
	}}
	var lat []time.Duration
	var errs []error
	for i := 0; i < n; i++ {
		t0 := time.Now()
		res, err := client.Get("http://" + addr + "/api/agents")
		if err == nil {
			_, err = io.ReadAll(res.Body)
			res.Body.Close()
			if err == nil && res.StatusCode != 200 {
				err = fmt.Errorf("status %d", res.StatusCode)
			}
		}
		if err != nil {
			errs = append(errs, err)
			lat = append(lat, timeout)
			continue
		}
		lat = append(lat, time.Since(t0))
	}
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	return lat, errs
}

// TestHubSurvivesSlowConnections is issue 20's measured target: 700 slow
// connections from one address must not stop another address's requests
// being answered within a second, with the process limited to 512 file
// descriptors.
func TestHubSurvivesSlowConnections(t *testing.T) {
	if _, err := exec.LookPath("prlimit"); err != nil {
		t.Fatal("prlimit (util-linux) is needed to limit the hub's file descriptors")
	}
	bin := testbin.Atoll(t)
	addr := startHubProcess(t, bin)
	stop := slowConnections(t, addr, 700)
	defer stop()
	lat, errs := otherClient(addr, 20, 5*time.Second)
	if len(errs) > 0 {
		t.Fatalf("%d of 20 requests from another address failed while one address held slow connections, e.g. %v", len(errs), errs[0])
	}
	if med := lat[len(lat)/2]; med > time.Second {
		t.Fatalf("another address's requests took %v (median) under slow connections; want under a second", med)
	}
	if os.Getenv("ATOLL_VERBOSE") != "" {
		t.Logf("latencies: %v", strings.Trim(fmt.Sprint(lat), "[]"))
	}
}

// BenchmarkHubSlowBodies measures what issue 20 targets: the latency of
// another address's requests while 700 slow connections from one address
// try to hold the hub, limited to 512 file descriptors, running the real
// `atoll hub`. Reported: median and 99th percentile in milliseconds.
func BenchmarkHubSlowBodies(b *testing.B) {
	bin := testbin.Atoll(b)
	addr := startHubProcess(b, bin, "--rate", "0") // the latency is measured, not the rate limit
	stop := slowConnections(b, addr, 700)
	defer stop()
	b.ResetTimer()
	lat, errs := otherClient(addr, max(b.N, 20), 5*time.Second)
	b.StopTimer()
	if len(errs) > 0 {
		b.Fatalf("%d requests failed, e.g. %v", len(errs), errs[0])
	}
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99-ms")
}
