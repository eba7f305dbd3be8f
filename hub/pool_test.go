package hub

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"atoll/internal/ollamafake"
	"atoll/llm"
	"atoll/metrics"
)

// TestPoolBusyIs429: when every model server is at its limit and none may
// wait, a chat (streamed or not) is refused with 429, Retry-After and a
// sentence, never a 502 or a stream that ends in an error; /readyz shows
// the backends, and /metrics counts the refusals under the workspace.
func TestPoolBusyIs429(t *testing.T) {
	fake := ollamafake.New(t)
	release := make(chan struct{})
	var once sync.Once
	open := func() { once.Do(func() { close(release) }) }
	var calls atomic.Int32
	fake.OnChat(func(ollamafake.ChatRequest) ollamafake.Reply {
		if calls.Add(1) == 1 {
			<-release // the first answer holds the only slot
		}
		return ollamafake.Reply{Text: "ok"}
	})
	pool, err := llm.NewPool(llm.PoolConfig{Backends: []llm.BackendSpec{{URL: fake.URL}}, MaxConcurrent: 1, MaxQueue: -1, HealthInterval: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	met := metrics.New()
	met.WatchPool(pool)
	dir := t.TempDir()
	legacyFolder(t, dir, ollamafake.DefaultChatModel)
	h, err := New(Config{Dir: dir, Model: pool, Embedder: pool, Backends: pool.Status, Metrics: met, MetricsRoute: true})
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	srv := httptest.NewServer(h.Handler())
	defer srv.Close()
	defer open() // before srv.Close, which waits for the held answer
	ws, err := h.st.WorkspaceByName(context.Background(), DefaultWorkspace)
	if err != nil {
		t.Fatal(err)
	}

	first := make(chan int, 1)
	go func() {
		res, err := http.Post(srv.URL+"/v1/chat/completions", "application/json", strings.NewReader(`{"model":"baker","messages":[{"role":"user","content":"cakes?"}]}`))
		if err != nil {
			first <- 0
			return
		}
		io.Copy(io.Discard, res.Body)
		res.Body.Close()
		first <- res.StatusCode
	}()
	deadline := time.Now().Add(15 * time.Second)
	for calls.Load() == 0 {
		if time.Now().After(deadline) {
			t.Fatal("the first chat never reached the model server")
		}
		time.Sleep(2 * time.Millisecond)
	}

	for _, stream := range []bool{false, true} {
		res := post(t, srv.URL+"/v1/chat/completions", `{"model":"baker","stream":`+strconv.FormatBool(stream)+`,"messages":[{"role":"user","content":"cakes?"}]}`)
		body, _ := io.ReadAll(res.Body)
		res.Body.Close()
		secs, _ := strconv.Atoi(res.Header.Get("Retry-After"))
		if res.StatusCode != http.StatusTooManyRequests || secs < 1 || !strings.Contains(string(body), "busy") {
			t.Fatalf("stream=%v with the pool full: %d, Retry-After %q, %s", stream, res.StatusCode, res.Header.Get("Retry-After"), body)
		}
	}

	res, err := http.Get(srv.URL + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	var ready struct {
		Backends llm.PoolStatus `json:"backends"`
	}
	json.NewDecoder(res.Body).Decode(&ready)
	res.Body.Close()
	if res.StatusCode != 200 || !ready.Backends.Ready || len(ready.Backends.Backends) != 1 || ready.Backends.Backends[0].Outstanding != 1 {
		t.Fatalf("/readyz: %d %+v", res.StatusCode, ready.Backends)
	}

	open()
	if code := <-first; code != 200 {
		t.Fatalf("the held answer: %d", code)
	}

	res, err = http.Get(srv.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(res.Body)
	res.Body.Close()
	if err != nil {
		t.Fatalf("/metrics does not parse: %v", err)
	}
	counts := map[string]float64{}
	for _, m := range fams["atoll_hub_requests_total"].GetMetric() {
		var w, code string
		for _, l := range m.GetLabel() {
			switch l.GetName() {
			case "workspace":
				w = l.GetValue()
			case "code":
				code = l.GetValue()
			}
		}
		if w == ws.ID {
			counts[code] = m.GetCounter().GetValue()
		}
	}
	if counts["429"] != 2 || counts["200"] != 1 {
		t.Fatalf("requests of workspace %s by code: %v; want 2 × 429 and 1 × 200", ws.ID, counts)
	}
}
