package metrics_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"atoll/internal/ollamafake"
	"atoll/llm"
	"atoll/metrics"
)

// scrape reads /metrics in the text format, as Prometheus does, and parses it.
func scrape(t *testing.T, m *metrics.Metrics) map[string]*dto.MetricFamily {
	t.Helper()
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	if rec.Code != 200 || !strings.HasPrefix(rec.Header().Get("Content-Type"), "text/plain; version=0.0.4") {
		t.Fatalf("/metrics: %d %q", rec.Code, rec.Header().Get("Content-Type"))
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(rec.Body)
	if err != nil {
		t.Fatalf("the text format does not parse: %v", err)
	}
	return fams
}

// value finds the sample of family name whose labels include want.
func value(fams map[string]*dto.MetricFamily, name string, want map[string]string) (float64, bool) {
	f := fams[name]
	if f == nil {
		return 0, false
	}
next:
	for _, m := range f.Metric {
		have := map[string]string{}
		for _, l := range m.Label {
			have[l.GetName()] = l.GetValue()
		}
		for k, v := range want {
			if have[k] != v {
				continue next
			}
		}
		switch {
		case m.Counter != nil:
			return m.Counter.GetValue(), true
		case m.Gauge != nil:
			return m.Gauge.GetValue(), true
		case m.Histogram != nil:
			return float64(m.Histogram.GetSampleCount()), true
		}
	}
	return 0, false
}

func TestMetricsMoveAndParse(t *testing.T) {
	good, bad := ollamafake.New(t), ollamafake.New(t)
	good.OnChat(func(ollamafake.ChatRequest) ollamafake.Reply { return ollamafake.Reply{Text: "fine"} })
	bad.OnChat(func(ollamafake.ChatRequest) ollamafake.Reply {
		return ollamafake.Reply{Status: 500, Error: "runner died"}
	})
	pool, err := llm.NewPool(llm.PoolConfig{Backends: []llm.BackendSpec{{URL: good.URL}, {URL: bad.URL}}, HealthInterval: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	m := metrics.New()
	m.WatchPool(pool)

	before := scrape(t, m)
	if v, ok := value(before, "atoll_backend_up", map[string]string{"backend": good.URL}); !ok || v != 1 {
		t.Fatalf("atoll_backend_up for the good backend: %v, %v", v, ok)
	}
	if _, ok := value(before, "atoll_pool_queue_depth", nil); !ok {
		t.Fatal("no atoll_pool_queue_depth")
	}

	// A stand-in for the hub's chat handler: a stream per request, under
	// the workspace the handler names.
	inFlight := make(chan float64, 1)
	h := m.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		metrics.SetWorkspace(r, "bakery")
		st := m.StartStream("bakery")
		defer st.End()
		v, _ := value(scrape(t, m), "atoll_hub_streams_in_flight", map[string]string{"workspace": "bakery"})
		select {
		case inFlight <- v:
		default:
		}
		_, err := pool.Chat(r.Context(), llm.ChatRequest{Model: ollamafake.DefaultChatModel, Messages: []llm.Message{{Role: "user", Content: "q"}}},
			func(s string) error { st.Token(); _, err := io.WriteString(w, s); return err })
		if err != nil {
			http.Error(w, err.Error(), 502)
		}
	}))
	srv := httptest.NewServer(h)
	defer srv.Close()
	for range 4 {
		res, err := http.Post(srv.URL, "text/plain", nil)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode != 200 || string(b) != "fine" {
			t.Fatalf("%d %q", res.StatusCode, b)
		}
	}
	if v := <-inFlight; v != 1 {
		t.Fatalf("streams in flight during a stream: %v, want 1", v)
	}

	after := scrape(t, m)
	for _, c := range []struct {
		name   string
		labels map[string]string
		want   float64
	}{
		{"atoll_hub_requests_total", map[string]string{"workspace": "bakery", "code": "200"}, 4},
		{"atoll_hub_streams_in_flight", map[string]string{"workspace": "bakery"}, 0},
		{"atoll_hub_ttft_seconds", nil, 4},
		{"atoll_backend_requests_total", map[string]string{"backend": good.URL}, 4},
	} {
		if v, ok := value(after, c.name, c.labels); !ok || v != c.want {
			t.Errorf("%s%v = %v (found %v), want %v", c.name, c.labels, v, ok, c.want)
		}
	}
	// The failing backend took some first attempts (the pool alternates
	// between equally idle backends) and each was counted as its error.
	badReqs, _ := value(after, "atoll_backend_requests_total", map[string]string{"backend": bad.URL})
	badErrs, _ := value(after, "atoll_backend_errors_total", map[string]string{"backend": bad.URL, "kind": "other"})
	if badReqs == 0 || badErrs != badReqs {
		t.Errorf("the failing backend: %v requests, %v errors; want equal and above 0", badReqs, badErrs)
	}
	if v, _ := value(after, "atoll_backend_ttft_seconds", map[string]string{"backend": good.URL}); v != 4 {
		t.Errorf("backend TTFT observations: %v, want 4", v)
	}
}

// A nil *Metrics is "metrics off": the hub calls it without checks.
func TestNilMetrics(t *testing.T) {
	var m *metrics.Metrics
	st := m.StartStream("x")
	st.Token()
	st.End()
	m.WatchPool(nil)
	called := false
	m.Middleware(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { called = true })).ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/", nil))
	if !called {
		t.Fatal("the nil middleware dropped the request")
	}
}
