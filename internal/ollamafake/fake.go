// Package ollamafake is a scripted Ollama server for fast unit tests of any
// package that talks to Ollama through atoll/llm. It speaks the wire format
// of Ollama 0.6.5 (/api/chat, /api/embed, /api/show, /api/tags, /api/ps,
// /api/pull, /api/version) from hand-written JSON, so it does not share code
// with the client it tests.
//
//	srv := ollamafake.New(t)                 // closed by t.Cleanup
//	srv.Script(ollamafake.Reply{Text: "Hello there"},
//		ollamafake.Reply{ToolCalls: []ollamafake.ToolCall{{Name: "save_lead", Arguments: map[string]any{"email": "a@b.c"}}}})
//	client, _ := llm.New(srv.URL)
//
// Two models exist from the start: DefaultChatModel (tools-capable, context
// 8192) and DefaultEmbedModel (embedding only, 64 dimensions). Embeddings are
// deterministic hash-based vectors (see Vector), so equal texts give equal
// vectors in any order and batch size.
package ollamafake

import (
	"encoding/json"
	"fmt"
	"hash/fnv"
	"math"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

const (
	DefaultChatModel  = "fake-chat"
	DefaultEmbedModel = "fake-embed"
	Version           = "0.6.5"
)

// Model is what the fake reports about one installed model.
type Model struct {
	Name            string // without tag; listings show NAME:latest
	Family          string // architecture, e.g. "llama"
	ParameterSize   string
	Quantization    string
	ContextLength   int      // <family>.context_length in model_info
	EmbeddingLength int      // <family>.embedding_length, and the size of its embeddings
	Embedding       bool     // an embedding-only model (<family>.pooling_type is set)
	Capabilities    []string // /api/show "capabilities"; nil leaves it out, as servers before 0.6.4 did
	Template        string
	Parameters      string // /api/show "parameters", e.g. "num_ctx 16384"
	Size            int64
}

// VisionModel is a vision-capable model (llava-like) to AddModel: its
// /api/show reports the "vision" capability. Chats with images to a model
// without it fail as Ollama 0.6.5's runner does.
func VisionModel(name string) Model {
	return Model{
		Name: name, Family: "llama", ParameterSize: "7B", Quantization: "Q4_K_M",
		ContextLength: 4096, EmbeddingLength: 64, Size: 4_700_000_000,
		Capabilities: []string{"completion", "vision"},
	}
}

// ToolCall is one function call in a scripted reply.
type ToolCall struct {
	Name      string
	Arguments map[string]any
}

// Reply scripts one /api/chat answer.
type Reply struct {
	Text      string   // split into word tokens unless Tokens is set
	Tokens    []string // streamed one per chunk
	JSON      any      // if set, its JSON encoding is the answer (structured outputs)
	ToolCalls []ToolCall
	Delay     time.Duration // before each token
	CutAfter  int           // >0: drop the connection after this many tokens, with no done message
	Status    int           // >0: fail with this HTTP status and Error as the message, before any token
	// Error without Status is sent as an {"error": ...} line after the
	// tokens, as Ollama does when its runner fails mid-answer.
	Error string
	// PromptTokens and EvalTokens go into the final message's counts;
	// zero means "count the words".
	PromptTokens, EvalTokens int
}

// ChatRequest is an /api/chat request as the fake received it.
type ChatRequest struct {
	Model    string          `json:"model"`
	Messages []ChatMessage   `json:"messages"`
	Stream   *bool           `json:"stream"`
	Format   json.RawMessage `json:"format"`
	Tools    json.RawMessage `json:"tools"`
	Options  map[string]any  `json:"options"`
	Raw      json.RawMessage `json:"-"` // the whole body
}

// ChatMessage is one message of a received chat request.
type ChatMessage struct {
	Role      string   `json:"role"`
	Content   string   `json:"content"`
	Images    []string `json:"images"` // base64, as Ollama takes them
	ToolCalls []struct {
		Function struct {
			Name      string         `json:"name"`
			Arguments map[string]any `json:"arguments"`
		} `json:"function"`
	} `json:"tool_calls"`
}

// Running is one /api/ps entry.
type Running struct {
	Name      string
	Size      int64
	SizeVRAM  int64
	ExpiresAt time.Time
}

// Server is the fake. Its setters are safe to call while requests run.
type Server struct {
	URL string

	ts *httptest.Server
	t  testing.TB

	mu          sync.Mutex
	models      map[string]Model
	script      []Reply
	onChat      func(ChatRequest) Reply
	chats       []ChatRequest
	embeds      [][]string
	embedScale  float32
	embedDelay  func(input []string) time.Duration
	inFlight    int
	maxInFlight int
	running     map[string]Running
	pullable    map[string]Model
	cancelled   int
	overrides   map[string]http.HandlerFunc
}

// New starts a fake with the two default models. It is closed by t.Cleanup.
func New(t testing.TB) *Server {
	t.Helper()
	s := &Server{
		t:          t,
		models:     map[string]Model{},
		running:    map[string]Running{},
		pullable:   map[string]Model{},
		overrides:  map[string]http.HandlerFunc{},
		embedScale: 1,
	}
	s.AddModel(Model{
		Name: DefaultChatModel, Family: "llama", ParameterSize: "8B", Quantization: "Q4_K_M",
		ContextLength: 8192, EmbeddingLength: 64, Size: 4_900_000_000,
		Capabilities: []string{"completion", "tools"},
		Template:     "{{ if .Tools }}{{ .Tools }}{{ end }}{{ range .Messages }}{{ .Content }}{{ end }}",
	})
	s.AddModel(Model{
		Name: DefaultEmbedModel, Family: "nomic-bert", ParameterSize: "137M", Quantization: "F16",
		ContextLength: 2048, EmbeddingLength: 64, Embedding: true, Size: 274_000_000,
		Capabilities: []string{"embedding"},
	})
	mux := http.NewServeMux()
	mux.HandleFunc("/api/version", s.route("/api/version", s.version))
	mux.HandleFunc("/api/tags", s.route("/api/tags", s.tags))
	mux.HandleFunc("/api/show", s.route("/api/show", s.show))
	mux.HandleFunc("/api/ps", s.route("/api/ps", s.ps))
	mux.HandleFunc("/api/chat", s.route("/api/chat", s.chat))
	mux.HandleFunc("/api/embed", s.route("/api/embed", s.embed))
	mux.HandleFunc("/api/pull", s.route("/api/pull", s.pull))
	s.ts = httptest.NewServer(mux)
	s.URL = s.ts.URL
	t.Cleanup(s.Close)
	return s
}

// Close stops the server (New registers it with t.Cleanup already).
func (s *Server) Close() { s.ts.Close() }

// AddModel installs (or replaces) a model.
func (s *Server) AddModel(m Model) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if m.Family == "" {
		m.Family = "llama"
	}
	if m.EmbeddingLength == 0 {
		m.EmbeddingLength = 64
	}
	s.models[baseName(m.Name)] = m
}

// RemoveModel uninstalls a model; requests for it then get Ollama's 404.
func (s *Server) RemoveModel(name string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.models, baseName(name))
}

// Script queues chat replies, answered in order.
func (s *Server) Script(replies ...Reply) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.script = append(s.script, replies...)
}

// OnChat sets the reply for chats when the script is empty. The default
// answers "ok".
func (s *Server) OnChat(fn func(ChatRequest) Reply) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.onChat = fn
}

// Chats returns the chat requests received so far.
func (s *Server) Chats() []ChatRequest {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]ChatRequest(nil), s.chats...)
}

// EmbedCalls returns the input array of every /api/embed request, in arrival order.
func (s *Server) EmbedCalls() [][]string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([][]string(nil), s.embeds...)
}

// MaxConcurrentEmbeds is the most /api/embed requests seen in flight at once.
func (s *Server) MaxConcurrentEmbeds() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.maxInFlight
}

// SetEmbedScale multiplies returned vectors, e.g. to check that a client
// normalises them (Ollama itself returns unit vectors).
func (s *Server) SetEmbedScale(k float32) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.embedScale = k
}

// SetEmbedDelay makes each /api/embed request wait fn(input) before answering.
func (s *Server) SetEmbedDelay(fn func(input []string) time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.embedDelay = fn
}

// SetRunning replaces the /api/ps list. Chats and embeddings also add their model.
func (s *Server) SetRunning(rs ...Running) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.running = map[string]Running{}
	for _, r := range rs {
		s.running[baseName(r.Name)] = r
	}
}

// Pullable makes /api/pull of m.Name succeed (with progress) and install m.
// Other pulls fail the way an offline machine does (a DNS error).
func (s *Server) Pullable(m Model) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.pullable[baseName(m.Name)] = m
}

// Cancelled counts chat streams the client abandoned before the end.
func (s *Server) Cancelled() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.cancelled
}

// Handle overrides an endpoint ("/api/chat", ...) with a custom handler.
func (s *Server) Handle(path string, h http.HandlerFunc) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.overrides[path] = h
}

func (s *Server) route(path string, h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		o := s.overrides[path]
		s.mu.Unlock()
		if o != nil {
			o(w, r)
			return
		}
		h(w, r)
	}
}

// Vector is the fake's embedding of text: deterministic, unit length, dim
// values drawn from an FNV hash of the text.
func Vector(text string, dim int) []float32 {
	v := make([]float32, dim)
	var norm float64
	for i := range v {
		h := fnv.New64a()
		fmt.Fprintf(h, "%d\x00%s", i, text)
		x := float64(h.Sum64()%2000)/1000 - 1
		v[i] = float32(x)
		norm += x * x
	}
	norm = math.Sqrt(norm)
	if norm == 0 {
		norm = 1
	}
	for i := range v {
		v[i] = float32(float64(v[i]) / norm)
	}
	return v
}

func hasCap(caps []string, c string) bool {
	for _, x := range caps {
		if x == c {
			return true
		}
	}
	return false
}

func baseName(name string) string { return strings.TrimSuffix(name, ":latest") }

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

func errorJSON(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, map[string]string{"error": msg})
}

func notFound(w http.ResponseWriter, name string) {
	// Ollama 0.6.5's wording for a model missing at chat or embed time.
	errorJSON(w, http.StatusNotFound, fmt.Sprintf("model %q not found, try pulling it first", name))
}

func (s *Server) model(name string) (Model, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	m, ok := s.models[baseName(name)]
	return m, ok
}

func (s *Server) markRunning(m Model) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.running[m.Name] = Running{Name: m.Name + ":latest", Size: m.Size, SizeVRAM: m.Size, ExpiresAt: time.Now().Add(5 * time.Minute)}
}

func (s *Server) version(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, map[string]string{"version": Version})
}

func details(m Model) map[string]any {
	return map[string]any{
		"format": "gguf", "family": m.Family, "families": []string{m.Family},
		"parameter_size": m.ParameterSize, "quantization_level": m.Quantization,
	}
}

func digest(m Model) string {
	h := fnv.New64a()
	h.Write([]byte(m.Name))
	return fmt.Sprintf("%016x%048x", h.Sum64(), 0)
}

func (s *Server) tags(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	var out []map[string]any
	for _, m := range s.models {
		out = append(out, map[string]any{
			"name": m.Name + ":latest", "model": m.Name + ":latest", "size": m.Size,
			"digest": digest(m), "modified_at": time.Now().Format(time.RFC3339), "details": details(m),
		})
	}
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, map[string]any{"models": out})
}

func (s *Server) show(w http.ResponseWriter, r *http.Request) {
	var req struct{ Model, Name string }
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
		errorJSON(w, http.StatusBadRequest, err.Error())
		return
	}
	name := req.Model
	if name == "" {
		name = req.Name
	}
	m, ok := s.model(name)
	if !ok {
		errorJSON(w, http.StatusNotFound, fmt.Sprintf("model '%s' not found", name))
		return
	}
	info := map[string]any{
		"general.architecture":             m.Family,
		m.Family + ".context_length":       m.ContextLength,
		m.Family + ".embedding_length":     m.EmbeddingLength,
		"general.parameter_count":          1000,
		m.Family + ".attention.head_count": 4,
	}
	if m.Embedding {
		info[m.Family+".pooling_type"] = 1
	}
	resp := map[string]any{
		"template":   m.Template,
		"parameters": m.Parameters,
		"details":    details(m),
		"model_info": info,
		"modelfile":  "FROM " + m.Name,
	}
	if m.Capabilities != nil {
		resp["capabilities"] = m.Capabilities
	}
	writeJSON(w, http.StatusOK, resp)
}

func (s *Server) ps(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	var out []map[string]any
	for _, rm := range s.running {
		out = append(out, map[string]any{
			"name": rm.Name, "model": rm.Name, "size": rm.Size, "size_vram": rm.SizeVRAM,
			"expires_at": rm.ExpiresAt.Format(time.RFC3339Nano),
		})
	}
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, map[string]any{"models": out})
}

func (s *Server) embed(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Model string          `json:"model"`
		Input json.RawMessage `json:"input"`
	}
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
		errorJSON(w, http.StatusBadRequest, err.Error())
		return
	}
	var input []string
	if err := json.Unmarshal(req.Input, &input); err != nil {
		var one string
		if err := json.Unmarshal(req.Input, &one); err != nil {
			errorJSON(w, http.StatusBadRequest, "invalid input type")
			return
		}
		input = []string{one}
	}
	s.mu.Lock()
	s.embeds = append(s.embeds, input)
	s.inFlight++
	s.maxInFlight = max(s.maxInFlight, s.inFlight)
	delay, scale := s.embedDelay, s.embedScale
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		s.inFlight--
		s.mu.Unlock()
	}()

	m, ok := s.model(req.Model)
	if !ok {
		notFound(w, req.Model)
		return
	}
	if delay != nil {
		select {
		case <-time.After(delay(input)):
		case <-r.Context().Done():
			return
		}
	}
	s.markRunning(m)
	out := make([][]float32, len(input))
	for i, text := range input {
		v := Vector(text, m.EmbeddingLength)
		for j := range v {
			v[j] *= scale
		}
		out[i] = v
	}
	writeJSON(w, http.StatusOK, map[string]any{"model": req.Model, "embeddings": out, "prompt_eval_count": len(input)})
}

func (s *Server) pull(w http.ResponseWriter, r *http.Request) {
	var req struct{ Model, Name string }
	json.NewDecoder(r.Body).Decode(&req)
	name := req.Model
	if name == "" {
		name = req.Name
	}
	s.mu.Lock()
	m, ok := s.pullable[baseName(name)]
	s.mu.Unlock()
	w.Header().Set("Content-Type", "application/x-ndjson")
	enc := json.NewEncoder(w)
	enc.Encode(map[string]any{"status": "pulling manifest"})
	if !ok {
		// What 0.6.5 sends on a machine without network.
		enc.Encode(map[string]any{"error": fmt.Sprintf(`pull model manifest: Get "https://registry.ollama.ai/v2/library/%s/manifests/latest": dial tcp: lookup registry.ollama.ai: no such host`, baseName(name))})
		return
	}
	const total = 1000
	for done := int64(0); done <= total; done += 250 {
		enc.Encode(map[string]any{"status": "pulling " + digest(m)[:12], "digest": "sha256:" + digest(m), "total": total, "completed": done})
	}
	enc.Encode(map[string]any{"status": "success"})
	s.AddModel(m)
}

func (s *Server) chat(w http.ResponseWriter, r *http.Request) {
	var raw json.RawMessage
	if err := json.NewDecoder(r.Body).Decode(&raw); err != nil {
		errorJSON(w, http.StatusBadRequest, err.Error())
		return
	}
	var req ChatRequest
	if err := json.Unmarshal(raw, &req); err != nil {
		errorJSON(w, http.StatusBadRequest, err.Error())
		return
	}
	req.Raw = raw

	s.mu.Lock()
	s.chats = append(s.chats, req)
	var reply Reply
	switch {
	case len(s.script) > 0:
		reply, s.script = s.script[0], s.script[1:]
	case s.onChat != nil:
		fn := s.onChat
		s.mu.Unlock()
		reply = fn(req)
		s.mu.Lock()
	default:
		reply = Reply{Text: "ok"}
	}
	s.mu.Unlock()

	m, ok := s.model(req.Model)
	if !ok {
		notFound(w, req.Model)
		return
	}
	if reply.Status > 0 {
		errorJSON(w, reply.Status, reply.Error)
		return
	}
	if m.Capabilities != nil && !hasCap(m.Capabilities, "vision") {
		for _, msg := range req.Messages {
			if len(msg.Images) > 0 {
				errorJSON(w, http.StatusInternalServerError, "this model is missing data required for image input")
				return
			}
		}
	}
	s.markRunning(m)

	tokens := reply.Tokens
	if reply.JSON != nil {
		b, err := json.Marshal(reply.JSON)
		if err != nil {
			errorJSON(w, http.StatusInternalServerError, err.Error())
			return
		}
		tokens = []string{string(b)}
	} else if tokens == nil && reply.Text != "" {
		tokens = splitWords(reply.Text)
	}
	evalTokens := reply.EvalTokens
	if evalTokens == 0 {
		evalTokens = len(tokens)
	}
	promptTokens := reply.PromptTokens
	if promptTokens == 0 {
		for _, msg := range req.Messages {
			promptTokens += len(strings.Fields(msg.Content)) + 4
		}
	}
	var calls []map[string]any
	for _, c := range reply.ToolCalls {
		calls = append(calls, map[string]any{"function": map[string]any{"name": c.Name, "arguments": c.Arguments}})
	}
	final := func(content string, withCalls bool) map[string]any {
		msg := map[string]any{"role": "assistant", "content": content}
		if withCalls && len(calls) > 0 {
			msg["tool_calls"] = calls
		}
		return map[string]any{
			"model": req.Model, "created_at": time.Now().Format(time.RFC3339Nano), "message": msg,
			"done": true, "done_reason": "stop", "total_duration": 1000, "prompt_eval_count": promptTokens, "eval_count": evalTokens,
		}
	}

	stream := req.Stream == nil || *req.Stream
	if !stream {
		if reply.CutAfter > 0 {
			panic(http.ErrAbortHandler)
		}
		writeJSON(w, http.StatusOK, final(strings.Join(tokens, ""), true))
		return
	}

	w.Header().Set("Content-Type", "application/x-ndjson")
	flusher, _ := w.(http.Flusher)
	enc := json.NewEncoder(w)
	for i, tok := range tokens {
		if reply.CutAfter > 0 && i == reply.CutAfter {
			// Drop the connection mid-stream, as a crashed runner or a
			// proxy timeout does.
			panic(http.ErrAbortHandler)
		}
		if reply.Delay > 0 {
			select {
			case <-time.After(reply.Delay):
			case <-r.Context().Done():
				s.mu.Lock()
				s.cancelled++
				s.mu.Unlock()
				return
			}
		}
		if r.Context().Err() != nil {
			s.mu.Lock()
			s.cancelled++
			s.mu.Unlock()
			return
		}
		enc.Encode(map[string]any{
			"model": req.Model, "created_at": time.Now().Format(time.RFC3339Nano),
			"message": map[string]any{"role": "assistant", "content": tok}, "done": false,
		})
		if flusher != nil {
			flusher.Flush()
		}
	}
	if reply.CutAfter > 0 {
		panic(http.ErrAbortHandler)
	}
	if reply.Error != "" {
		enc.Encode(map[string]string{"error": reply.Error})
		return
	}
	if len(calls) > 0 {
		// Ollama 0.6.5 streams tool calls in a message of their own, with
		// empty content, before the final one.
		enc.Encode(map[string]any{
			"model": req.Model, "created_at": time.Now().Format(time.RFC3339Nano),
			"message": map[string]any{"role": "assistant", "content": "", "tool_calls": calls}, "done": false,
		})
	}
	enc.Encode(final("", false))
}

// splitWords keeps each word's leading space, like a tokenizer would.
func splitWords(s string) []string {
	var out []string
	start := 0
	for i := 1; i < len(s); i++ {
		if s[i] == ' ' && s[i-1] != ' ' {
			out = append(out, s[start:i])
			start = i
		}
	}
	return append(out, s[start:])
}
