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
	"os"
	"path/filepath"
	"strings"
	"time"

	"atoll/agent"
	"atoll/knowledge"
	"atoll/store"
)

// Config sets up a hub.
type Config struct {
	Dir string // the hub's own folder: tokens, and an Atoll data folder in data/
	// Model answers (an Ollama server through package llm); Embedder embeds
	// queries for knowledge bases that have vectors (nil: lexical only).
	Model    agent.Model
	Embedder knowledge.QueryEmbedder
	// Import validates a bundle completely, then installs it into the
	// hub's data folder (its store and agents), and returns the published
	// agent's name. It is package publish's importer (Importer), passed in
	// so the hub does not depend on its flags.
	Import func(ctx context.Context, bundle string, st *store.Store, agents *agent.Repo) (string, error)

	RatePerMinute int           // per client IP on public routes; 0 = no limit
	MaxBundle     int64         // bytes
	Retention     time.Duration // conversations older than this are deleted; 0 = keep
	// TrustedProxies are the proxies whose X-Forwarded-For is believed
	// (the client is the rightmost address not in these ranges). Empty:
	// the header is ignored and the connection's address is the client.
	TrustedProxies []netip.Prefix
	Limits         ServeLimits // zero fields: DefaultServeLimits
	Log            *slog.Logger
}

// Hub serves published agents.
type Hub struct {
	cfg    Config
	tokens *Tokens
	store  *store.Store
	agents *agent.Repo
	convs  *agent.Conversations
	runner *agent.Runner
	limit  *limiter
	limits ServeLimits
}

// DataDir is where published agents and their knowledge live.
func (h *Hub) DataDir() string { return filepath.Join(h.cfg.Dir, "data") }

// Runner is the answer loop the hub uses (for wiring leads and memory).
func (h *Hub) Runner() *agent.Runner { return h.runner }

// New opens (or creates) a hub folder.
func New(cfg Config) (*Hub, error) {
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.NewJSONHandler(io.Discard, nil))
	}
	if cfg.MaxBundle <= 0 {
		cfg.MaxBundle = 1 << 30
	}
	data := filepath.Join(cfg.Dir, "data")
	st, err := store.Open(data)
	if err != nil {
		return nil, err
	}
	st.SetLockHolder("the Atoll hub")
	h := &Hub{cfg: cfg, tokens: NewTokens(cfg.Dir), store: st,
		agents: agent.NewRepo(filepath.Join(data, "agents")),
		convs:  agent.NewConversations(filepath.Join(data, "conversations")),
		limit:  newLimiter(cfg.RatePerMinute, max(10, cfg.RatePerMinute/2)),
		limits: cfg.Limits.withDefaults(),
	}
	h.runner = agent.NewRunner(cfg.Model, &knowledge.Searcher{Store: st, Embedder: cfg.Embedder}, h.convs)
	// Leads captured by published agents land in the inbox (GET /api/leads).
	h.runner.Leads = agent.NewLeads(filepath.Join(data, "leads"))
	return h, nil
}

// Tokens manages publisher tokens.
func (h *Hub) Tokens() *Tokens { return h.tokens }

// Close releases the data folder.
func (h *Hub) Close() { h.store.Close() }

// Handler is the hub's HTTP API and pages.
func (h *Hub) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", h.index)
	mux.HandleFunc("GET /a/{name}", h.chatPage)
	mux.HandleFunc("GET /static/chat.js", h.chatJS)
	mux.HandleFunc("GET /widget.js", h.widgetJS)
	mux.HandleFunc("GET /api/agents", h.listAgents)
	mux.HandleFunc("POST /v1/chat/completions", h.completions)
	mux.HandleFunc("OPTIONS /v1/chat/completions", h.preflight)
	mux.HandleFunc("GET /v1/models", h.models)
	mux.Handle("/mcp/{agent}", h.mcpHandler())
	mux.Handle("POST /api/publish", h.admin(h.publish))
	mux.Handle("DELETE /api/agents/{name}", h.admin(h.unpublish))
	mux.Handle("POST /api/agents/{name}/rollback", h.admin(h.rollback))
	mux.Handle("GET /api/leads", h.admin(h.leads))
	return h.logged(mux)
}

// admin requires a publisher token.
func (h *Hub) admin(next http.HandlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		if !ok || !h.tokens.Valid(tok) {
			writeErr(w, http.StatusUnauthorized, "a valid publisher token is required (Authorization: Bearer …; create one with `atoll hub token create`)")
			return
		}
		next(w, r)
	})
}

type statusWriter struct {
	http.ResponseWriter
	status int
}

func (s *statusWriter) WriteHeader(c int) { s.status = c; s.ResponseWriter.WriteHeader(c) }
func (s *statusWriter) Flush() {
	if f, ok := s.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// logged rate-limits public traffic and writes one structured log line per request.
func (h *Hub) logged(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		ip := h.clientIP(r)
		sw := &statusWriter{ResponseWriter: w, status: 200}
		w.Header().Set("X-Content-Type-Options", "nosniff")
		// The limit is decided on the headers alone: a refused request's
		// body is never read (writeErr closes the connection instead).
		if !h.limit.allow(ip, start) {
			writeErr(sw, http.StatusTooManyRequests, "too many requests; wait a minute and try again")
		} else {
			guardBody(w, r, h.limits, start)
			next.ServeHTTP(sw, r)
		}
		h.cfg.Log.Info("request", "method", r.Method, "path", r.URL.Path, "status", sw.status, "ms", time.Since(start).Milliseconds(), "ip", ip)
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

// publicAgent is what end users may see of an agent.
type publicAgent struct {
	Name        string   `json:"name"`
	Description string   `json:"description"`
	Opening     string   `json:"opening"`
	Starters    []string `json:"starters"`
	Version     int      `json:"version"`
}

func (h *Hub) listAgents(w http.ResponseWriter, r *http.Request) {
	defs, err := h.agents.List()
	if err != nil {
		writeErr(w, 500, err.Error())
		return
	}
	out := []publicAgent{}
	for _, d := range defs {
		out = append(out, publicAgent{Name: d.Name, Description: d.Description, Opening: d.Opening, Starters: d.Starters, Version: d.Version})
	}
	writeJSON(w, out)
}

func (h *Hub) models(w http.ResponseWriter, r *http.Request) {
	defs, _ := h.agents.List()
	data := []map[string]any{}
	for _, d := range defs {
		data = append(data, map[string]any{"id": d.Name, "object": "model", "owned_by": "atoll"})
	}
	writeJSON(w, map[string]any{"object": "list", "data": data})
}

func (h *Hub) publish(w http.ResponseWriter, r *http.Request) {
	if h.cfg.Import == nil {
		writeErr(w, http.StatusNotImplemented, "this hub was started without bundle import")
		return
	}
	tmp, err := os.CreateTemp(h.cfg.Dir, "upload-*.atoll")
	if err != nil {
		writeErr(w, 500, err.Error())
		return
	}
	defer os.Remove(tmp.Name())
	_, err = io.Copy(tmp, http.MaxBytesReader(w, r.Body, h.cfg.MaxBundle))
	tmp.Close()
	if errors.Is(err, errSlowBody) {
		writeErr(w, http.StatusRequestTimeout, fmt.Sprintf("the bundle arrived slower than %d KB/s; publish again over a better connection", h.limits.MinBodyRate>>10))
		return
	}
	if err != nil {
		writeErr(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("the bundle could not be received or is larger than %d MB", h.cfg.MaxBundle>>20))
		return
	}
	name, err := h.cfg.Import(r.Context(), tmp.Name(), h.store, h.agents)
	if err != nil {
		writeErr(w, http.StatusUnprocessableEntity, err.Error())
		return
	}
	d, err := h.agents.Get(name)
	if err != nil {
		writeErr(w, 500, err.Error())
		return
	}
	h.cfg.Log.Info("published", "agent", name, "version", d.Version)
	writeJSON(w, map[string]any{"agent": name, "version": d.Version, "chat": "/a/" + name, "widget": widgetSnippet(r, name)})
}

// unpublish removes an agent with every version, and the knowledge-base
// copies its versions used (documents and original files are inside them),
// unless another agent uses one too.
func (h *Hub) unpublish(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	vs, err := h.agents.Versions(name)
	if err != nil {
		writeErr(w, http.StatusNotFound, fmt.Sprintf("no agent named %q is published here", name))
		return
	}
	kbs := map[string]bool{}
	for _, v := range vs {
		if d, err := h.agents.GetVersion(name, v); err == nil {
			for _, kb := range d.KBs {
				kbs[kb] = true
			}
		}
	}
	if err := h.agents.Delete(name); err != nil {
		writeErr(w, 500, err.Error())
		return
	}
	// The agent is gone first: were the hub to stop here, what is left is
	// unreferenced knowledge, never an agent pointing at missing knowledge.
	others, _ := h.agents.List()
	for _, d := range others {
		vs, _ := h.agents.Versions(d.Name)
		for _, v := range vs {
			if od, err := h.agents.GetVersion(d.Name, v); err == nil {
				for _, kb := range od.KBs {
					delete(kbs, kb)
				}
			}
		}
	}
	removed := []string{}
	for kb := range kbs {
		if err := h.store.Remove(kb); err != nil && !errors.Is(err, store.ErrNotFound) {
			h.cfg.Log.Warn("unpublish: knowledge base not removed", "agent", name, "kb", kb, "err", err)
			continue
		}
		removed = append(removed, kb)
	}
	h.cfg.Log.Info("unpublished", "agent", name, "knowledgeBases", removed)
	writeJSON(w, map[string]any{"unpublished": name, "knowledgeBasesRemoved": len(removed)})
}

// rollback republishes the previous version of an agent's definition.
func (h *Hub) rollback(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	vs, err := h.agents.Versions(name)
	if err != nil || len(vs) < 2 {
		writeErr(w, http.StatusConflict, "there is no earlier version to roll back to")
		return
	}
	prev, err := h.agents.GetVersion(name, vs[len(vs)-2])
	if err != nil {
		writeErr(w, 500, err.Error())
		return
	}
	saved, err := h.agents.Save(prev)
	if err != nil {
		writeErr(w, 500, err.Error())
		return
	}
	writeJSON(w, map[string]any{"agent": name, "version": saved.Version, "restored": vs[len(vs)-2]})
}

// leads returns the leads captured by an agent (the inbox).
func (h *Hub) leads(w http.ResponseWriter, r *http.Request) {
	name := r.URL.Query().Get("agent")
	if _, err := h.agents.Get(name); err != nil {
		writeErr(w, http.StatusNotFound, "no such agent")
		return
	}
	b, err := os.ReadFile(filepath.Join(h.DataDir(), "leads", name+".jsonl"))
	out := []json.RawMessage{}
	if err == nil {
		for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
			if json.Valid([]byte(line)) {
				out = append(out, json.RawMessage(line))
			}
		}
	}
	writeJSON(w, out)
}

// PruneConversations deletes conversations older than the retention period.
func (h *Hub) PruneConversations(now time.Time) int {
	if h.cfg.Retention <= 0 {
		return 0
	}
	dir := filepath.Join(h.DataDir(), "conversations")
	entries, _ := os.ReadDir(dir)
	n := 0
	for _, e := range entries {
		fi, err := e.Info()
		if err == nil && now.Sub(fi.ModTime()) > h.cfg.Retention {
			if os.Remove(filepath.Join(dir, e.Name())) == nil {
				n++
			}
		}
	}
	return n
}

// Run prunes conversations every hour until ctx ends.
func (h *Hub) Run(ctx context.Context) {
	t := time.NewTicker(time.Hour)
	defer t.Stop()
	for {
		h.PruneConversations(time.Now())
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

var errNoQuestion = errors.New("the last message must be the user's question")
