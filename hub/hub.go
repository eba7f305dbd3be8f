package hub

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/netip"
	"path/filepath"
	"strings"
	"sync/atomic"
	"time"

	"atoll/agent"
	"atoll/channels"
	"atoll/hubstore"
	"atoll/hubstore/embedded"
	"atoll/knowledge"
	"atoll/llm"
	"atoll/metrics"
	"atoll/store"
)

// Config sets up a hub.
type Config struct {
	// Dir is the replica's own folder: the embedded database (hub.db) when
	// Store is nil, the cache of materialised bundles (cache/), and, from
	// hubs before the database, tokens.json and data/, imported once.
	Dir string
	// Store keeps everything that changes. Nil: the embedded store in Dir.
	// Several replicas share one PostgreSQL store (hubstore/postgres).
	Store hubstore.Storage
	// Model answers (an Ollama server through package llm); Embedder embeds
	// queries for knowledge bases that have vectors (nil: lexical only).
	Model    agent.Model
	Embedder knowledge.QueryEmbedder
	// Import validates a bundle completely, then installs it into a data
	// folder (its store and agents), and returns the agent's name. It is
	// package publish's importer (Importer), passed in so the hub does not
	// depend on its flags. Nil: Importer(nil), which checks no models.
	Import func(ctx context.Context, bundle string, st *store.Store, agents *agent.Repo) (string, error)

	RatePerMinute int           // per client IP on public routes; 0 = no limit
	MaxBundle     int64         // bytes
	Retention     time.Duration // conversations older than this are deleted; 0 = keep
	// TrustedProxies are the proxies whose X-Forwarded-For is believed
	// (the client is the rightmost address not in these ranges). Empty:
	// the header is ignored and the connection's address is the client.
	TrustedProxies []netip.Prefix
	Limits         ServeLimits // zero fields: DefaultServeLimits
	// ShutdownGrace is how long streams may run on after SIGTERM before
	// they are cut; 0 is 30 s.
	ShutdownGrace time.Duration
	Log           *slog.Logger
	// Backends reports the model servers (llm.Pool's Status) on /readyz;
	// nil: not reported.
	Backends func() llm.PoolStatus
	// Metrics counts requests per workspace, answers in flight and time to
	// first token, and is served on GET /metrics when MetricsRoute is set.
	// Nil: no metrics.
	Metrics      *metrics.Metrics
	MetricsRoute bool
	// ChannelAPIBases are the API origins (an operator's local Telegram
	// Bot API server, a proxy) a channel added through the admin API may
	// name as its api_base; a tenant's other api_base is refused, since
	// the hub would send requests there. The CLI's channels may name any.
	ChannelAPIBases []string
}

// Hub serves published agents.
type Hub struct {
	cfg       Config
	st        hubstore.Storage
	ownStore  bool
	cache     *cache
	runner    *agent.Runner
	limit     *limiter
	adminRate *limiter // per publisher token on the admin API
	limits    ServeLimits
	streams   *streamCounter
	draining  atomic.Bool
	stopWatch context.CancelFunc
	channels  *hubChannels
}

// Runner is the answer loop the hub uses.
func (h *Hub) Runner() *agent.Runner { return h.runner }

// Store is the hub's state.
func (h *Hub) Store() hubstore.Storage { return h.st }

// New opens a hub: its store (the embedded one in Dir unless cfg.Store is
// given), importing a folder from before the database on first start.
func New(cfg Config) (*Hub, error) {
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.NewJSONHandler(io.Discard, nil))
	}
	if cfg.MaxBundle <= 0 {
		cfg.MaxBundle = 1 << 30
	}
	if cfg.Import == nil {
		cfg.Import = Importer(nil)
	}
	if cfg.ShutdownGrace <= 0 {
		cfg.ShutdownGrace = 30 * time.Second
	}
	bases := make([]string, 0, len(cfg.ChannelAPIBases))
	for _, b := range cfg.ChannelAPIBases {
		ok, err := channels.CheckBase(b)
		if err != nil {
			return nil, fmt.Errorf("channel API base: %w", err)
		}
		bases = append(bases, ok)
	}
	cfg.ChannelAPIBases = bases
	ar, ab := adminLimits(cfg.RatePerMinute)
	h := &Hub{cfg: cfg, st: cfg.Store,
		limit:     newLimiter(cfg.RatePerMinute, max(10, cfg.RatePerMinute/2)),
		adminRate: newLimiter(ar, ab),
		limits:    cfg.Limits.withDefaults(),
		streams:   newStreamCounter(),
	}
	ctx := context.Background()
	if h.st == nil {
		st, err := embedded.Open(ctx, cfg.Dir, embedded.Options{})
		if err != nil {
			return nil, err
		}
		h.st, h.ownStore = st, true
	}
	c, err := newCache(filepath.Join(cfg.Dir, "cache"), h.st, cfg.Import, cfg.Embedder, cfg.Log)
	if err != nil {
		h.closeStore()
		return nil, err
	}
	h.cache = c
	h.runner = agent.NewRunner(cfg.Model, retriever{}, nil)
	h.runner.SaveLead = h.saveLead
	if err := h.importLegacy(ctx); err != nil {
		h.closeStore()
		return nil, fmt.Errorf("couldn't import the hub folder %s into its database: %w", cfg.Dir, err)
	}
	wctx, stop := context.WithCancel(context.Background())
	h.stopWatch = stop
	h.cache.watch(wctx)
	if err := h.startChannels(); err != nil {
		h.Close()
		return nil, err
	}
	return h, nil
}

func (h *Hub) closeStore() {
	if h.ownStore {
		_ = h.st.Close()
	}
}

// Close stops following changes, releases the cached bundles and closes
// the store when the hub opened it.
func (h *Hub) Close() {
	if h.stopWatch != nil {
		h.stopWatch()
	}
	h.closeChannels()
	h.cache.close()
	h.closeStore()
}

// Handler is the hub's HTTP API and pages.
func (h *Hub) Handler() http.Handler {
	mux := http.NewServeMux()
	// Admin routes are limited per publisher token in admin, not per
	// address: one office's publisher would otherwise spend the budget
	// meant for anonymous visitors in a few screens of the window.
	adminRoutes := map[string]bool{}
	adm := func(pattern string, fn http.HandlerFunc) {
		mux.Handle(pattern, h.admin(fn))
		adminRoutes[pattern] = true
	}
	mux.HandleFunc("GET /{$}", h.index)
	mux.HandleFunc("GET /a/{name}", h.chatPage)
	mux.HandleFunc("GET /static/chat.js", h.chatJS)
	mux.HandleFunc("GET /widget.js", h.widgetJS)
	mux.HandleFunc("GET /healthz", h.healthz)
	mux.HandleFunc("GET /readyz", h.readyz)
	mux.HandleFunc("GET /api/agents", h.listAgents)
	mux.HandleFunc("POST /v1/chat/completions", h.completions)
	mux.HandleFunc("OPTIONS /v1/chat/completions", h.preflight)
	mux.HandleFunc("POST /api/feedback", h.feedback)
	mux.HandleFunc("OPTIONS /api/feedback", h.preflight)
	mux.HandleFunc("GET /v1/models", h.models)
	mux.Handle("/mcp/{agent}", h.mcpHandler())
	mux.Handle("/ch/{id}", h.channels)
	adm("POST /api/publish", h.publish)
	adm("DELETE /api/agents/{name}", h.unpublish)
	adm("POST /api/agents/{name}/rollback", h.rollback)
	adm("PUT /api/agents/{name}/access", h.setAccess)
	adm("GET /api/agents/{name}/keys", h.listKeys)
	adm("POST /api/agents/{name}/keys", h.createKey)
	adm("DELETE /api/agents/{name}/keys/{id}", h.revokeKey)
	adm("GET /api/agents/{name}/channels", h.listChannels)
	adm("POST /api/agents/{name}/channels", h.addChannel)
	adm("DELETE /api/agents/{name}/channels/{id}", h.removeChannel)
	adm("POST /api/agents/{name}/channels/{id}/test", h.testChannel)
	adm("GET /api/workspace/agents", h.workspaceAgents)
	adm("GET /api/conversations", h.conversations)
	adm("GET /api/usage", h.usage)
	adm("GET /api/leads", h.leads)
	adm("GET /api/agents/{name}/review", h.reviewPull)
	adm("GET /api/agents/{name}/analytics", h.analyticsReport)
	if h.cfg.MetricsRoute {
		mux.Handle("GET /metrics", h.cfg.Metrics.Handler())
	}
	return h.cfg.Metrics.Middleware(h.logged(mux, adminRoutes))
}

type ctxKey int

const (
	wsKey ctxKey = iota
	logKey
	searchKey
	turnKey
)

// workspaceOf is the workspace of the publisher token that authenticated r.
func workspaceOf(r *http.Request) string { s, _ := r.Context().Value(wsKey).(string); return s }

// admin requires a publisher token and puts its workspace in the request's
// context: every admin handler acts only inside it.
func (h *Hub) admin(next http.HandlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// A request without a valid token spends its address's public
		// budget, so guessing tokens is limited like anonymous traffic (the
		// lookup is one indexed read); a valid token is limited on its own.
		ip, now := h.clientIP(r), time.Now()
		tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		var t hubstore.Token
		var err error
		if ok && tok != "" {
			t, err = h.st.TokenByHash(r.Context(), hashToken(tok))
		}
		if !ok || tok == "" || err != nil {
			if err != nil && !errors.Is(err, hubstore.ErrNotFound) {
				h.logFor(r).Error("token lookup", "err", err)
				writeErr(w, http.StatusServiceUnavailable, "the hub's database did not answer; try again in a moment")
				return
			}
			if !h.limit.allow(ip, now) {
				writeErr(w, http.StatusTooManyRequests, "too many requests; wait a minute and try again")
				return
			}
			writeErr(w, http.StatusUnauthorized, "a valid publisher token is required (Authorization: Bearer …; create one with `atoll hub token create --workspace NAME`)")
			return
		}
		if !h.adminRate.allow(t.ID, now) {
			writeErr(w, http.StatusTooManyRequests, "too many requests with this publisher token; wait a minute and try again")
			return
		}
		if lw, ok := w.(*statusWriter); ok {
			lw.ws = t.Workspace
		}
		metrics.SetWorkspace(r, t.Workspace)
		next(w, r.WithContext(context.WithValue(r.Context(), wsKey, t.Workspace)))
	})
}

type statusWriter struct {
	http.ResponseWriter
	status int
	ws     string
}

func (s *statusWriter) WriteHeader(c int) { s.status = c; s.ResponseWriter.WriteHeader(c) }
func (s *statusWriter) Flush() {
	if f, ok := s.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// Unwrap lets http.ResponseController reach the connection.
func (s *statusWriter) Unwrap() http.ResponseWriter { return s.ResponseWriter }

func (h *Hub) logFor(r *http.Request) *slog.Logger {
	if l, ok := r.Context().Value(logKey).(*slog.Logger); ok {
		return l
	}
	return h.cfg.Log
}

// requestID is the proxy's X-Request-ID when a trusted proxy sent a sane
// one (so one id follows a request through haproxy and the hub), else new.
func (h *Hub) requestID(r *http.Request) string {
	if id := r.Header.Get("X-Request-ID"); id != "" && len(id) <= 64 {
		if ap, err := netip.ParseAddrPort(r.RemoteAddr); err == nil && h.trusted(ap.Addr().Unmap()) && saneID(id) {
			return id
		}
	}
	return hubstore.NewID()
}

func saneID(s string) bool {
	for _, c := range s {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.') {
			return false
		}
	}
	return true
}

// logged rate-limits public traffic and writes one structured log line per
// request, with its request id (also sent back as X-Request-ID).
func (h *Hub) logged(mux *http.ServeMux, adminRoutes map[string]bool) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		ip := h.clientIP(r)
		id := h.requestID(r)
		sw := &statusWriter{ResponseWriter: w, status: 200}
		w.Header().Set("X-Content-Type-Options", "nosniff")
		w.Header().Set("X-Request-ID", id)
		log := h.cfg.Log.With("request", id)
		r = r.WithContext(context.WithValue(r.Context(), logKey, log))
		probe := r.URL.Path == "/healthz" || r.URL.Path == "/readyz"
		// A messaging platform delivers all its users' messages from a few
		// addresses: its callbacks are checked by signature, deduplicated
		// and queued by the channel dispatcher, not limited per address.
		platform := strings.HasPrefix(r.URL.Path, "/ch/")
		// The limit is decided on the headers alone: a refused request's
		// body is never read (writeErr closes the connection instead).
		// Load-balancer probes are not clients and are never limited.
		_, pattern := mux.Handler(r)
		admin := adminRoutes[pattern]
		if !probe && !platform && !admin && !h.limit.allow(ip, start) {
			writeErr(sw, http.StatusTooManyRequests, "too many requests; wait a minute and try again")
		} else {
			guardBody(w, r, h.limits, start)
			mux.ServeHTTP(sw, r)
		}
		if probe && sw.status == 200 {
			return
		}
		attrs := []any{"method", r.Method, "path", r.URL.Path, "status", sw.status, "ms", time.Since(start).Milliseconds(), "ip", ip}
		if sw.ws != "" {
			attrs = append(attrs, "workspace", sw.ws)
		}
		log.Info("request", attrs...)
	})
}

// writeErr answers with an error. The connection is closed after it, so
// the server never drains a body the handler refused to read (Go's server
// would otherwise read up to 256 KB of it first, at the client's pace).
func writeErr(w http.ResponseWriter, code int, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Connection", "close")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(map[string]any{"error": map[string]string{"message": msg}})
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(v)
}

// storeErr answers a store failure: a missing thing is a 404 with what,
// anything else a 503 (the database), logged.
func (h *Hub) storeErr(w http.ResponseWriter, r *http.Request, err error, notFound string) {
	switch {
	case errors.Is(err, hubstore.ErrNotFound) || errors.Is(err, hubstore.ErrForbidden):
		writeErr(w, http.StatusNotFound, notFound)
	case errors.Is(err, hubstore.ErrAlreadyExists):
		writeErr(w, http.StatusConflict, err.Error())
	case errors.Is(err, hubstore.ErrConflict):
		writeErr(w, http.StatusConflict, err.Error())
	default:
		h.logFor(r).Error("store", "err", err)
		writeErr(w, http.StatusServiceUnavailable, "the hub's database did not answer; try again in a moment")
	}
}

func (h *Hub) healthz(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, map[string]string{"status": "ok"})
}

// readyz says whether a load balancer should send requests here: not while
// draining for shutdown, not while the database does not answer.
func (h *Hub) readyz(w http.ResponseWriter, r *http.Request) {
	if h.draining.Load() {
		writeErr(w, http.StatusServiceUnavailable, "this hub is shutting down")
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	if _, err := h.st.Workspace(ctx, "readyz-probe"); err != nil && !errors.Is(err, hubstore.ErrNotFound) {
		writeErr(w, http.StatusServiceUnavailable, "the hub's database does not answer")
		return
	}
	out := map[string]any{"status": "ready", "streams": h.streams.total()}
	if h.cfg.Backends != nil {
		// Reported, not required: every replica shares the same model
		// servers, so taking this one out of the balancer would not help,
		// and pages and publishing work without them.
		out["backends"] = h.cfg.Backends()
	}
	writeJSON(w, out)
}

// publicAgent is what end users may see of an agent.
type publicAgent struct {
	Name        string   `json:"name"`
	Description string   `json:"description"`
	Opening     string   `json:"opening"`
	Starters    []string `json:"starters"`
	Version     int      `json:"version"`
	Access      string   `json:"access"`
}

func (h *Hub) publicAgents(ctx context.Context) []publicAgent {
	as, err := h.st.PublicAgents(ctx)
	out := []publicAgent{}
	if err != nil {
		return out
	}
	for _, a := range as {
		sv, err := h.cache.agent(ctx, a.Name)
		if err != nil {
			continue
		}
		d := sv.def
		out = append(out, publicAgent{Name: d.Name, Description: d.Description, Opening: d.Opening, Starters: d.Starters, Version: sv.ver.Number, Access: string(sv.agent.Access)})
	}
	return out
}

func (h *Hub) listAgents(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, h.publicAgents(r.Context()))
}

func (h *Hub) models(w http.ResponseWriter, r *http.Request) {
	data := []map[string]any{}
	for _, d := range h.publicAgents(r.Context()) {
		data = append(data, map[string]any{"id": d.Name, "object": "model", "owned_by": "atoll"})
	}
	writeJSON(w, map[string]any{"object": "list", "data": data})
}

// PruneConversations deletes conversations older than the retention period.
func (h *Hub) PruneConversations(now time.Time) int {
	if h.cfg.Retention <= 0 {
		return 0
	}
	n, err := h.st.PruneConversations(context.Background(), now.Add(-h.cfg.Retention))
	if err != nil {
		h.cfg.Log.Warn("pruning conversations", "err", err)
	}
	return n
}

// Run prunes conversations every hour and sweeps expired counters every
// minute until ctx ends.
func (h *Hub) Run(ctx context.Context) {
	t := time.NewTicker(time.Minute)
	defer t.Stop()
	last := time.Time{}
	for {
		now := time.Now()
		if now.Sub(last) >= time.Hour {
			h.PruneConversations(now)
			last = now
		}
		if err := h.st.Sweep(ctx, now); err != nil && ctx.Err() == nil {
			h.cfg.Log.Warn("sweeping expired counters", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

var errNoQuestion = errors.New("the last message must be the user's question")
