// Package metrics exposes the hub's Prometheus metrics: answer streams in
// flight, time to the first token, requests per workspace, and the model
// server pool's queue, load, health and errors per backend.
//
// It uses the official client library (github.com/prometheus/client_golang)
// rather than hand-writing the text format: histograms with cumulative
// buckets, label escaping and the exposition formats Prometheus negotiates
// are exactly what that library is kept for, and its parser lets the tests
// check the output as Prometheus reads it.
//
// Every method is safe on a nil *Metrics and then does nothing, so the hub
// calls them without checking whether metrics are on.
package metrics

import (
	"context"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"atoll/llm"
)

// ttftBuckets span a warm small model (tens of ms) to a large one loading
// from disk (tens of seconds).
var ttftBuckets = []float64{0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 4, 8, 15, 30, 60}

// Metrics is one hub process's registry.
type Metrics struct {
	reg         *prometheus.Registry
	streams     *prometheus.GaugeVec
	ttft        prometheus.Histogram
	requests    *prometheus.CounterVec
	backendTTFT *prometheus.HistogramVec
}

// New makes a registry with the hub's metrics and the Go runtime's and
// process's own.
func New() *Metrics {
	m := &Metrics{
		reg: prometheus.NewRegistry(),
		streams: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "atoll_hub_streams_in_flight", Help: "Answers being streamed to clients now.",
		}, []string{"workspace"}),
		ttft: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "atoll_hub_ttft_seconds", Help: "From a chat request's arrival to its first answer token (retrieval, queueing and the model's own time).",
			Buckets: ttftBuckets,
		}),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "atoll_hub_requests_total", Help: "HTTP requests answered, by workspace and status code.",
		}, []string{"workspace", "code"}),
		backendTTFT: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "atoll_backend_ttft_seconds", Help: "A model server's time to the first token of a chat.",
			Buckets: ttftBuckets,
		}, []string{"backend"}),
	}
	m.reg.MustRegister(m.streams, m.ttft, m.requests, m.backendTTFT,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// Handler serves the metrics (GET /metrics).
func (m *Metrics) Handler() http.Handler {
	if m == nil {
		return http.NotFoundHandler()
	}
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{})
}

// WatchPool adds the pool's gauges and counters (read from its Status at
// each scrape) and its backends' time to first token.
func (m *Metrics) WatchPool(p *llm.Pool) {
	if m == nil || p == nil {
		return
	}
	m.reg.MustRegister(poolCollector{p})
	p.OnEvent(func(ev llm.PoolEvent) {
		if ev.Op == "chat" && ev.TTFT > 0 {
			m.backendTTFT.WithLabelValues(ev.Backend).Observe(ev.TTFT.Seconds())
		}
	})
}

var (
	descQueue       = prometheus.NewDesc("atoll_pool_queue_depth", "Requests waiting for a free model server.", nil, nil)
	descQueueLimit  = prometheus.NewDesc("atoll_pool_queue_limit", "Requests that may wait before the hub answers 429.", nil, nil)
	descUp          = prometheus.NewDesc("atoll_backend_up", "1 if the model server passed its last health check.", []string{"backend"}, nil)
	descOutstanding = prometheus.NewDesc("atoll_backend_outstanding", "Requests a model server is working on now.", []string{"backend"}, nil)
	descRequests    = prometheus.NewDesc("atoll_backend_requests_total", "Requests sent to a model server.", []string{"backend"}, nil)
	descErrors      = prometheus.NewDesc("atoll_backend_errors_total", "Failed requests to a model server, by kind (unavailable, stream_cut, model_not_found, unsupported, other).", []string{"backend", "kind"}, nil)
)

// poolCollector reads the pool at scrape time: the pool keeps its own
// counts (for /readyz too), so nothing is counted twice.
type poolCollector struct{ p *llm.Pool }

func (c poolCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descQueue, descQueueLimit, descUp, descOutstanding, descRequests, descErrors} {
		ch <- d
	}
}

func (c poolCollector) Collect(ch chan<- prometheus.Metric) {
	st := c.p.Status()
	ch <- prometheus.MustNewConstMetric(descQueue, prometheus.GaugeValue, float64(st.Queued))
	ch <- prometheus.MustNewConstMetric(descQueueLimit, prometheus.GaugeValue, float64(st.QueueLimit))
	for _, b := range st.Backends {
		up := 0.0
		if b.Healthy {
			up = 1
		}
		ch <- prometheus.MustNewConstMetric(descUp, prometheus.GaugeValue, up, b.URL)
		ch <- prometheus.MustNewConstMetric(descOutstanding, prometheus.GaugeValue, float64(b.Outstanding), b.URL)
		ch <- prometheus.MustNewConstMetric(descRequests, prometheus.CounterValue, float64(b.Requests), b.URL)
		for kind, n := range b.Errors {
			ch <- prometheus.MustNewConstMetric(descErrors, prometheus.CounterValue, float64(n), b.URL, kind)
		}
	}
}

// Stream tracks one answer stream: in flight until End, and its time to
// first token.
type Stream struct {
	m         *Metrics
	workspace string
	start     time.Time
	once      sync.Once
}

// StartStream counts a stream in flight for workspace ("" is "none").
func (m *Metrics) StartStream(workspace string) *Stream {
	if m == nil {
		return nil
	}
	workspace = label(workspace)
	m.streams.WithLabelValues(workspace).Inc()
	return &Stream{m: m, workspace: workspace, start: time.Now()}
}

// Token marks a token sent; the first one observes the time to first token.
func (s *Stream) Token() {
	if s == nil {
		return
	}
	s.once.Do(func() { s.m.ttft.Observe(time.Since(s.start).Seconds()) })
}

// End ends the stream.
func (s *Stream) End() {
	if s == nil {
		return
	}
	s.m.streams.WithLabelValues(s.workspace).Dec()
}

func label(workspace string) string {
	if workspace == "" {
		return "none"
	}
	return workspace
}

type wsKey struct{}

// SetWorkspace names the workspace a request belongs to, once the hub knows
// it (from the agent or the token); Middleware counts the request under it.
func SetWorkspace(r *http.Request, workspace string) {
	if p, ok := r.Context().Value(wsKey{}).(*string); ok {
		*p = workspace
	}
}

// Middleware counts every request by workspace and status code.
func (m *Metrics) Middleware(next http.Handler) http.Handler {
	if m == nil {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ws := new(string)
		sw := &statusWriter{ResponseWriter: w, status: http.StatusOK}
		next.ServeHTTP(sw, r.WithContext(context.WithValue(r.Context(), wsKey{}, ws)))
		m.requests.WithLabelValues(label(*ws), strconv.Itoa(sw.status)).Inc()
	})
}

type statusWriter struct {
	http.ResponseWriter
	status int
	wrote  bool
}

func (s *statusWriter) WriteHeader(code int) {
	if !s.wrote {
		s.status, s.wrote = code, true
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusWriter) Write(b []byte) (int, error) {
	s.wrote = true
	return s.ResponseWriter.Write(b)
}

func (s *statusWriter) Flush() {
	s.wrote = true
	if f, ok := s.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// Unwrap lets http.ResponseController reach the connection.
func (s *statusWriter) Unwrap() http.ResponseWriter { return s.ResponseWriter }
