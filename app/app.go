// Package app is the layer the frontend calls: in the desktop window through
// Wails bindings, in a browser through package server. Each method validates
// its input, calls the core packages and returns plain structs; long work
// runs as a job that reports through events (see events.go and docs/api.md).
package app

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"slices"
	"strings"
	"sync"
	"time"

	"atoll/agent"
	"atoll/knowledge"
	"atoll/llm"
	"atoll/mcp"
	"atoll/store"
)

// Config is what the process starts with.
type Config struct {
	DataDir   string
	OllamaURL string
	Version   string
	// Holder names this process to another one waiting to write to a
	// knowledge base ("atoll serve"); the window by default.
	Holder string
}

// Settings are the user's preferences, kept in DATA/settings.json.
type Settings struct {
	DataDir    string `json:"dataDir"`
	OllamaURL  string `json:"ollamaURL"`
	Language   string `json:"language"` // "system", "en", "zh-CN"
	Theme      string `json:"theme"`    // "system", "light", "dark"
	EmbedModel string `json:"embedModel"`
	ChatModel  string `json:"chatModel"`
	// MemoryOff stops every agent from learning or using facts about you,
	// whatever each agent's own switch says.
	MemoryOff bool `json:"memoryOff"`
	// AllowRemoteOllama lets the Ollama address point at another machine;
	// off, only this computer's Ollama may be set here, so questions and
	// documents cannot leave it by a mistyped address.
	AllowRemoteOllama bool `json:"allowRemoteOllama"`
	// RerankURL, when set, turns on reranking: a /v1/rerank endpoint
	// (llama.cpp server, Hugging Face TEI, Jina-compatible) re-orders the
	// best RerankTopN passages of each search (0: 20). Off by default. It
	// reads the passages, so it is held to the same this-computer rule as
	// the Ollama address.
	RerankURL   string `json:"rerankURL,omitempty"`
	RerankModel string `json:"rerankModel,omitempty"`
	RerankTopN  int    `json:"rerankTopN,omitempty"`
	// OCRModel is an Ollama vision model that reads scans and photos
	// instead of Tesseract; "" is Tesseract (see SetOCRModel).
	OCRModel string `json:"ocrModel,omitempty"`
}

// DefaultEmbedModel is suggested for new knowledge bases.
const DefaultEmbedModel = "nomic-embed-text"

// App is the service bound to the window and served over HTTP.
type App struct {
	bg      sync.WaitGroup // background work and jobs: Close waits for them
	cfg     Config
	emit    Emitter
	dialogs Dialogs

	store    *store.Store
	agents   *agent.Repo
	convs    *agent.Conversations
	leads    *agent.Leads
	tests    *agent.TestRuns
	memory   *agent.Memories
	mu       sync.Mutex
	settings Settings
	model    *llm.Client
	ingester *knowledge.Ingester
	searcher *knowledge.Searcher
	runner   *agent.Runner

	jobs sync.Map // id -> context.CancelFunc
	kick chan struct{}
	stop context.CancelFunc

	confirms confirmations
	// correcting serialises corrections: each rewrites an agent's test set.
	correcting sync.Mutex
	mcp        *mcp.Manager // the user's MCP servers, started on first use (mcp.go)

	// firstTokenTimeout allows for loading a large model and reading a long
	// prompt on a CPU; stallTimeout is the longest silence between tokens.
	firstTokenTimeout, stallTimeout time.Duration
}

// New opens the data folder and wires the core. emit may be nil (events are
// dropped); dialogs may be nil (the browser uploads instead).
func New(cfg Config, emit Emitter, dialogs Dialogs) (*App, error) {
	st, err := store.Open(cfg.DataDir)
	if err != nil {
		return nil, err
	}
	if cfg.Holder == "" {
		cfg.Holder = "the Atoll window"
	}
	st.SetLockHolder(cfg.Holder)
	a := &App{cfg: cfg, emit: emit, dialogs: dialogs, store: st,
		firstTokenTimeout: 5 * time.Minute, stallTimeout: 90 * time.Second,
		agents: agent.NewRepo(filepath.Join(cfg.DataDir, "agents")),
		convs:  agent.NewConversations(filepath.Join(cfg.DataDir, "conversations")),
		leads:  agent.NewLeads(filepath.Join(cfg.DataDir, "leads")),
		tests:  agent.NewTestRuns(filepath.Join(cfg.DataDir, "agents")),
		memory: agent.NewMemories(filepath.Join(cfg.DataDir, "memory")),
	}
	a.settings = a.loadSettings()
	a.mcp = newMCPManager(cfg.DataDir)
	if err := a.connect(a.settings.OllamaURL); err != nil {
		return nil, err
	}
	ctx, stop := context.WithCancel(context.Background())
	a.kick, a.stop = make(chan struct{}, 1), stop
	a.bg.Add(2)
	go func() { defer a.bg.Done(); a.backgroundEmbed(ctx, time.Minute) }()
	go func() { defer a.bg.Done(); a.runSources(ctx, time.Minute) }()
	return a, nil
}

func (a *App) connect(url string) error {
	c, err := llm.New(url)
	if err != nil {
		return err
	}
	a.model = c
	a.ingester = knowledge.New(a.store, c)
	a.ingester.Explain = llm.Sentence
	a.searcher = &knowledge.Searcher{Store: a.store, Embedder: c, Reranker: reranker(a.settings)}
	a.runner = agent.NewRunner(c, a.searcher, a.convs)
	a.runner.Leads = a.leads
	a.runner.HTTPTools = func() []agent.HTTPTool { return LoadHTTPTools(a.cfg.DataDir) }
	a.runner.Confirm = a.confirm
	a.runner.MCP = a.mcpManager()
	ocr := ocrEngine(c, a.settings.OCRModel) // connect runs again when it changes
	a.ingester.OCR = ocr
	a.runner.ReadImage = func(ctx context.Context, img []byte) (string, error) {
		return readImageText(ctx, img, ocr)
	}
	if !a.settings.MemoryOff {
		a.runner.Memory = a.memory
	}
	return nil
}

// Close stops background work and releases the data folder.
func (a *App) Close() {
	a.stop()
	// Jobs and background work end before the data folder is released, so
	// nothing writes into it after Close returns.
	a.jobs.Range(func(_, c any) bool {
		if cancel, ok := c.(context.CancelFunc); ok {
			cancel()
		}
		return true
	})
	a.bg.Wait()
	a.mcpManager().Close()
	a.store.Close()
}

func (a *App) send(name string, payload any) {
	if a.emit != nil {
		a.emit.Emit(name, payload)
	}
}

func (a *App) loadSettings() Settings {
	s := Settings{Language: "system", Theme: "system", EmbedModel: DefaultEmbedModel}
	if b, err := os.ReadFile(filepath.Join(a.cfg.DataDir, "settings.json")); err == nil {
		_ = json.Unmarshal(b, &s)
	}
	// The data folder is where we are; the Ollama address given at start
	// (flag or OLLAMA_HOST) wins over the saved one.
	s.DataDir = a.cfg.DataDir
	if a.cfg.OllamaURL != "" {
		s.OllamaURL = a.cfg.OllamaURL
	}
	if s.OllamaURL == "" {
		s.OllamaURL = "http://127.0.0.1:11434"
	}
	return s
}

func newID() string {
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// ---- Knowledge ----

// KB is a knowledge base as the frontend lists it.
type KB struct {
	Name       string `json:"name"`
	EmbedModel string `json:"embedModel"`
	// NextEmbedModel is being computed in the background; EmbedModel serves.
	NextEmbedModel string `json:"nextEmbedModel,omitempty"`
	Docs           int    `json:"docs"`
	Chunks         int    `json:"chunks"`
	Bytes          int64  `json:"bytes"`
	Pending        int    `json:"pending"`
	Failed         int    `json:"failed"`
	// OCRPending counts the pages of scans and photos waiting for OCR;
	// OCRPendingWhy says what to do (install Tesseract...).
	OCRPending    int       `json:"ocrPending"`
	OCRPendingWhy string    `json:"ocrPendingWhy,omitempty"`
	Created       time.Time `json:"created"`
	// Fusion is how far hybrid search trusts each side for EmbedModel; nil
	// until the first hybrid search measures it.
	Fusion *KBFusion `json:"fusion,omitempty"`
}

// KBFusion is the fusion figure the Knowledge screen shows: the share of
// pseudo-queries each side alone ranks first, and how they are combined
// (rag.FusionWeights.Mode: keyword, meaning, mostlyKeyword, mostlyMeaning, both).
type KBFusion struct {
	Keyword float64 `json:"keyword"`
	Meaning float64 `json:"meaning"`
	Mode    string  `json:"mode"`
}

func (a *App) kbView(name string) (KB, error) {
	kb, err := a.store.KB(name)
	if err != nil {
		return KB{}, userError(err)
	}
	m := kb.Meta()
	v := KB{Name: m.Name, EmbedModel: m.EmbedModel, NextEmbedModel: m.NextEmbedModel, Created: m.Created}
	for _, d := range kb.Docs() {
		v.Docs++
		v.Bytes += d.Size
		if d.Status == store.StatusFailed {
			v.Failed++
		}
		if len(d.OCRPending) > 0 {
			v.OCRPending += len(d.OCRPending)
			if v.OCRPendingWhy == "" {
				v.OCRPendingWhy = ocrPendingWhy(d.Warnings)
			}
		}
	}
	v.Chunks = kb.ChunkCount()
	if w := kb.Index().Fusion(); w.Measured() && w.Model == m.EmbedModel && m.EmbedModel != "" {
		v.Fusion = &KBFusion{Keyword: w.Keyword, Meaning: w.Meaning, Mode: w.Mode()}
	}
	if m.EmbedModel != "" {
		v.Pending = len(kb.Pending())
	}
	return v, nil
}

// ListKBs lists knowledge bases with counts.
func (a *App) ListKBs() ([]KB, error) {
	metas, err := a.store.List()
	if err != nil {
		return nil, err
	}
	out := []KB{}
	for _, m := range metas {
		if v, err := a.kbView(m.Name); err == nil {
			out = append(out, v)
		}
	}
	return out, nil
}

// CreateKB creates a knowledge base.
func (a *App) CreateKB(name, embedModel string) (KB, error) {
	name = strings.TrimSpace(name)
	if embedModel == "" {
		embedModel = a.current().EmbedModel
	}
	if _, err := a.store.Create(name, embedModel); err != nil {
		return KB{}, err
	}
	return a.kbView(name)
}

// RemoveKB deletes a knowledge base.
func (a *App) RemoveKB(name string) error { return userError(a.store.Remove(name)) }

// Doc is a document as the frontend lists it.
type Doc struct {
	Path     string    `json:"path"`
	Name     string    `json:"name"`
	Format   string    `json:"format"`
	Status   string    `json:"status"` // ok, failed, pending
	Error    string    `json:"error"`
	Warnings []string  `json:"warnings"`
	Chunks   int       `json:"chunks"`
	Pages    int       `json:"pages"`
	Bytes    int64     `json:"bytes"`
	Ingested time.Time `json:"ingested"`
	// OCRPending counts the pages (1 for an image) waiting for OCR.
	OCRPending int `json:"ocrPending"`
}

// ListDocuments lists a knowledge base's documents with their status.
func (a *App) ListDocuments(kbName string) ([]Doc, error) {
	kb, err := a.store.KB(kbName)
	if err != nil {
		return nil, userError(err)
	}
	pending := map[string]bool{}
	if kb.Meta().EmbedModel != "" {
		for _, c := range kb.Pending() {
			pending[c.Key] = true
		}
	}
	out := []Doc{}
	for _, d := range kb.Docs() {
		v := Doc{Path: d.Path, Name: d.Name, Format: d.Format, Status: d.Status, Error: d.Error, Warnings: d.Warnings, Pages: d.Pages, Bytes: d.Size, Ingested: d.Ingested, OCRPending: len(d.OCRPending)}
		if full, ok := kb.Doc(d.Path); ok {
			v.Chunks = len(full.Chunks)
			if d.Status == store.StatusOK && len(pending) > 0 {
				for _, c := range full.Chunks {
					if pending[c.Key] {
						v.Status = "pending"
						break
					}
				}
			}
		}
		if v.Warnings == nil {
			v.Warnings = []string{}
		}
		out = append(out, v)
	}
	return out, nil
}

// Chunk is one stored passage.
type Chunk struct {
	ID       string   `json:"id"`
	Source   string   `json:"source"`
	Page     int      `json:"page"`
	Headings []string `json:"headings"`
	Start    int      `json:"start"`
	End      int      `json:"end"`
	Text     string   `json:"text"`
}

// DocumentChunks returns a document's chunks.
func (a *App) DocumentChunks(kbName, path string) ([]Chunk, error) {
	kb, err := a.store.KB(kbName)
	if err != nil {
		return nil, userError(err)
	}
	d, ok := kb.Doc(path)
	if !ok {
		return nil, fmt.Errorf("%s is not in %q", path, kbName)
	}
	out := make([]Chunk, 0, len(d.Chunks))
	for _, c := range d.Chunks {
		h := c.Headings
		if h == nil {
			h = []string{}
		}
		out = append(out, Chunk{ID: c.ID, Source: d.Path, Page: c.Page, Headings: h, Start: c.Start, End: c.End, Text: c.Text})
	}
	return out, nil
}

// RemoveDocument forgets one document.
func (a *App) RemoveDocument(kbName, path string) error {
	kb, err := a.store.KB(kbName)
	if err != nil {
		return userError(err)
	}
	return kb.Remove(path)
}

// Ingest starts a job adding paths to kbName; progress arrives as events.
func (a *App) Ingest(kbName string, paths []string) (string, error) {
	if len(paths) == 0 {
		return "", errors.New("choose at least one file or folder to add")
	}
	if err := store.ValidName(kbName); err != nil {
		return "", err
	}
	job := newID()
	ctx, cancel := context.WithCancel(context.Background())
	a.jobs.Store(job, cancel)
	embed := ""
	if kb, err := a.store.KB(kbName); err == nil {
		embed = kb.Meta().EmbedModel
	} else {
		embed = a.current().EmbedModel
	}
	ing := a.ingesterNow()
	// The Sources list, recorded before the job so nothing is written
	// after its last event; a record, not the job's outcome.
	if _, err := a.store.Create(kbName, embed); err == nil {
		_ = knowledge.RecordPaths(a.store, kbName, paths, knowledge.Summary{})
	}
	a.bg.Add(1) // Close waits for it
	go func() {
		defer a.bg.Done()
		defer a.jobs.Delete(job)
		defer cancel()
		started := time.Now().UTC()
		sum, err := ing.Run(ctx, job, kbName, embed, paths, func(p knowledge.Progress) { a.send(EventIngestProgress, p) })
		if err != nil {
			sum.Errors = append(sum.Errors, knowledge.FileFailure{File: "", Reason: err.Error()})
		}
		if sum.OK > 0 || sum.Removed > 0 {
			a.knowledgeChanged(kbName, a.changedDocs(kbName, started, paths)) // checks follow the knowledge (checks.go)
		}
		a.send(EventIngestDone, sum)
	}()
	return job, nil
}

func (a *App) ingesterNow() *knowledge.Ingester {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.ingester
}

// CancelJob stops an ingest job or an answer stream.
func (a *App) CancelJob(id string) error {
	if c, ok := a.jobs.Load(id); ok {
		c.(context.CancelFunc)()
	}
	return nil
}

// ChooseFiles opens the desktop's file dialog.
func (a *App) ChooseFiles() ([]string, error) {
	if a.dialogs == nil {
		return nil, errors.New("file dialogs exist only in the desktop app; drop files here or use the upload button")
	}
	return a.dialogs.OpenFiles()
}

// ChooseFolder opens the desktop's folder dialog.
func (a *App) ChooseFolder() (string, error) {
	if a.dialogs == nil {
		return "", errors.New("folder dialogs exist only in the desktop app; drop files here or use the upload button")
	}
	return a.dialogs.OpenFolder()
}

// Hit is one search result.
type Hit struct {
	KB       string   `json:"kb"`
	Source   string   `json:"source"`
	Page     int      `json:"page"`
	Headings []string `json:"headings"`
	Text     string   `json:"text"`
	Score    float64  `json:"score"`
	// AlsoIn names other files holding the same passage.
	AlsoIn []string `json:"alsoIn,omitempty"`
}

// Search tries retrieval on one knowledge base.
func (a *App) Search(kbName, query string, k int) ([]Hit, error) {
	if strings.TrimSpace(query) == "" {
		return []Hit{}, nil
	}
	if k <= 0 || k > 50 {
		k = 8
	}
	hits, err := a.searcherNow().Search(context.Background(), []string{kbName}, query, k, nil)
	if err != nil {
		return nil, userError(err)
	}
	out := make([]Hit, 0, len(hits))
	for _, h := range hits {
		hd := h.Headings
		if hd == nil {
			hd = []string{}
		}
		out = append(out, Hit{KB: h.KB, Source: h.Source, Page: h.Page, Headings: hd, Text: h.Text, Score: h.Score, AlsoIn: h.AlsoIn})
	}
	return out, nil
}

func (a *App) searcherNow() *knowledge.Searcher {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.searcher
}

// ---- Agents ----

// ListAgents lists agents.
func (a *App) ListAgents() ([]agent.Definition, error) { return a.agents.List() }

// GetAgent returns one agent.
func (a *App) GetAgent(name string) (agent.Definition, error) {
	d, err := a.agents.Get(name)
	return d, userError(err)
}

// SaveAgent creates or updates an agent (a new version each time).
func (a *App) SaveAgent(d agent.Definition) (agent.Definition, error) {
	for _, kb := range d.KBs {
		if _, err := a.store.KB(kb); err != nil {
			return agent.Definition{}, fmt.Errorf("the knowledge base %q does not exist; create it on the Knowledge screen first", kb)
		}
	}
	return a.agents.Save(d)
}

// DraftAgent proposes an agent from one sentence; nothing is saved until the
// user reviews it and calls SaveAgent.
func (a *App) DraftAgent(sentence string, kbs []string, model string) (agent.Draft, error) {
	if model == "" {
		model = a.current().ChatModel
	}
	if model == "" {
		model = a.firstChatModel()
	}
	if model == "" {
		return agent.Draft{}, errors.New("no chat model is installed: pull one on the Models screen (for example `ollama pull qwen2.5:7b`), then try again")
	}
	if kbs == nil {
		kbs = []string{}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	d, err := agent.DraftFromSentence(ctx, a.client(), model, sentence, kbs)
	if err != nil {
		return d, errors.New(llm.Sentence(err))
	}
	return d, nil
}

// firstChatModel is the first installed model that can chat.
func (a *App) firstChatModel() string {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	ms, err := a.client().List(ctx)
	if err != nil {
		return ""
	}
	for _, m := range ms {
		if !slices.Contains(m.Capabilities, "embedding") || slices.Contains(m.Capabilities, "completion") {
			return m.Name
		}
	}
	return ""
}

// DeleteAgent removes an agent.
func (a *App) DeleteAgent(name string) error { return userError(a.agents.Delete(name)) }

// ---- Chat ----

// AskDone is the chat:done payload.
type AskDone struct {
	ID string `json:"id"`
	agent.Answer
	Error string `json:"error"`
}

// Ask starts answering question; tokens arrive as chat:token events and the
// outcome as chat:done. It returns the stream id.
func (a *App) Ask(agentName, conversationID, question string) (string, error) {
	return a.ask(agentName, conversationID, question, nil)
}

func (a *App) ask(agentName, conversationID, question string, images [][]byte) (string, error) {
	def, err := a.agents.Get(agentName)
	if err != nil {
		return "", userError(err)
	}
	if strings.TrimSpace(question) == "" {
		return "", errors.New("type a question first")
	}
	id := newID()
	ctx, cancelCause := context.WithCancelCause(context.Background())
	cancel := func() { cancelCause(context.Canceled) }
	a.jobs.Store(id, context.CancelFunc(cancel))
	a.mu.Lock()
	runner := a.runner
	a.mu.Unlock()
	go func() {
		defer a.jobs.Delete(id)
		defer cancel()
		// A server that stops sending (Ollama 0.6.5 can wedge after streams
		// are cancelled in quick succession) must not leave the user
		// watching "thinking" forever.
		watch := time.AfterFunc(a.firstTokenTimeout, func() { cancelCause(errStalled) })
		defer watch.Stop()
		tb := &tokenBatcher{id: id, send: a.send}
		ans, err := runner.AskWith(ctx, def, agent.AskOptions{Conversation: conversationID, Images: images}, question, func(s string) error {
			watch.Reset(a.stallTimeout)
			return tb.add(s)
		})
		tb.flush()
		done := AskDone{ID: id, Answer: ans}
		switch {
		case err == nil:
		case errors.Is(context.Cause(ctx), errStalled):
			done.Error = fmt.Sprintf("The model server stopped sending the answer (nothing for %s). Restart Ollama (`ollama serve`) and ask again.", a.stallTimeout)
		case errors.Is(err, context.Canceled):
			done.Error = "Stopped."
		default:
			done.Error = llm.Sentence(err)
		}
		a.send(EventChatDone, done)
	}()
	return id, nil
}

var errStalled = errors.New("the answer stream stalled")

// StopAsk stops an answer stream.
func (a *App) StopAsk(id string) error { return a.CancelJob(id) }

// ListConversations lists an agent's conversations.
func (a *App) ListConversations(agentName string) ([]agent.Conversation, error) {
	return a.convs.List(agentName)
}

// GetConversation returns one conversation with its messages.
func (a *App) GetConversation(id string) (agent.Conversation, error) { return a.convs.Get(id) }

// tokenBatcher coalesces tokens into an event every ~30 ms. It runs on the
// single producer (the stream callback), so order is kept by construction.
type tokenBatcher struct {
	id   string
	send func(string, any)
	buf  strings.Builder
	seq  int
	last time.Time
}

// TokenEvent is the chat:token payload.
type TokenEvent struct {
	ID   string `json:"id"`
	Seq  int    `json:"seq"`
	Text string `json:"text"`
}

func (t *tokenBatcher) add(s string) error {
	t.buf.WriteString(s)
	if time.Since(t.last) >= 30*time.Millisecond {
		t.flush()
	}
	return nil
}

func (t *tokenBatcher) flush() {
	if t.buf.Len() == 0 {
		return
	}
	t.seq++
	t.send(EventChatToken, TokenEvent{ID: t.id, Seq: t.seq, Text: t.buf.String()})
	t.buf.Reset()
	t.last = time.Now()
}

// ---- Models and settings ----

// OllamaStatus tells whether the model server answers, and how to fix it.
type OllamaStatus struct {
	URL       string `json:"url"`
	Reachable bool   `json:"reachable"`
	Version   string `json:"version"`
	Error     string `json:"error"`
	Fix       string `json:"fix"`
}

// OllamaStatus checks the model server.
func (a *App) OllamaStatus() (OllamaStatus, error) {
	c := a.client()
	s := OllamaStatus{URL: c.URL()}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	v, err := c.Version(ctx)
	if err != nil {
		s.Error = llm.Sentence(err)
		s.Fix = "ollama serve"
		return s, nil
	}
	s.Reachable, s.Version = true, v
	return s, nil
}

func (a *App) client() *llm.Client {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.model
}

func (a *App) current() Settings {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.settings
}

// GetSettings returns the current settings.
func (a *App) GetSettings() (Settings, error) { return a.current(), nil }

// SaveSettings validates and stores settings; a new Ollama address takes effect at once.
func (a *App) SaveSettings(s Settings) (Settings, error) {
	switch s.Language {
	case "", "system", "en", "zh-CN":
	default:
		return Settings{}, fmt.Errorf("unknown language %q", s.Language)
	}
	switch s.Theme {
	case "", "system", "light", "dark":
	default:
		return Settings{}, fmt.Errorf("unknown theme %q", s.Theme)
	}
	s.DataDir = a.cfg.DataDir
	if s.OllamaURL == "" {
		s.OllamaURL = a.current().OllamaURL
	}
	if _, err := llm.New(s.OllamaURL); err != nil {
		return Settings{}, fmt.Errorf("%q is not a valid Ollama address: %w", s.OllamaURL, err)
	}
	// The address in use (given by flag or $OLLAMA_HOST at start) stays
	// allowed: the switch guards changes made here.
	if !s.AllowRemoteOllama && !isLocalURL(s.OllamaURL) && s.OllamaURL != a.current().OllamaURL {
		return Settings{}, fmt.Errorf("%s is not on this computer: turn on \"Allow an Ollama server on another machine\" first — your questions and documents will be sent there", s.OllamaURL)
	}
	s.RerankURL = strings.TrimSpace(s.RerankURL)
	if s.RerankURL != "" {
		if _, err := reranker(s).Endpoint(); err != nil {
			return Settings{}, err
		}
		if !s.AllowRemoteOllama && !isLocalURL(s.RerankURL) && s.RerankURL != a.current().RerankURL {
			return Settings{}, fmt.Errorf("%s is not on this computer: turn on \"Allow an Ollama server on another machine\" first — your questions and passages will be sent there", s.RerankURL)
		}
	}
	if s.OCRModel = strings.TrimSpace(s.OCRModel); s.OCRModel != "" && s.OCRModel != a.current().OCRModel {
		if err := a.checkVisionModel(s.OCRModel); err != nil {
			return Settings{}, err
		}
	}
	if s.RerankTopN < 0 || s.RerankTopN > 100 {
		return Settings{}, fmt.Errorf("rerank %d passages is out of range: choose 1 to 100, or 0 for 20", s.RerankTopN)
	}
	b, _ := json.MarshalIndent(s, "", "  ")
	if err := store.WriteFileAtomic(filepath.Join(a.cfg.DataDir, "settings.json"), b, 0o600); err != nil {
		return Settings{}, err
	}
	a.mu.Lock()
	changed := s.OllamaURL != a.settings.OllamaURL || s.MemoryOff != a.settings.MemoryOff ||
		s.RerankURL != a.settings.RerankURL || s.RerankModel != a.settings.RerankModel || s.RerankTopN != a.settings.RerankTopN ||
		s.OCRModel != a.settings.OCRModel
	a.settings = s
	a.mu.Unlock()
	if changed {
		a.mu.Lock()
		err := a.connect(s.OllamaURL)
		a.mu.Unlock()
		if err != nil {
			return Settings{}, err
		}
	}
	return s, nil
}

// About describes this build.
type About struct {
	Version   string `json:"version"`
	GoVersion string `json:"goVersion"`
	Wails     string `json:"wails"`
	DataDir   string `json:"dataDir"`
	OllamaURL string `json:"ollamaURL"`
}

// About returns versions.
func (a *App) About() (About, error) {
	ab := About{Version: a.cfg.Version, GoVersion: runtime.Version(), DataDir: a.cfg.DataDir, OllamaURL: a.client().URL()}
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, d := range bi.Deps {
			if d.Path == "github.com/wailsapp/wails/v2" {
				ab.Wails = d.Version
			}
		}
	}
	return ab, nil
}

// userError turns store/agent sentinel errors into sentences.
func userError(err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, store.ErrNotFound) {
		return fmt.Errorf("%v — it may have been removed; refresh the list", err)
	}
	return err
}

// MaxPreviewBytes bounds a PDF sent to the interface for page previews.
const MaxPreviewBytes = 64 << 20

// SourcePDF returns a stored PDF's bytes (base64) for the citation panel's
// page preview. Only files that are documents of a knowledge base are served,
// so the interface cannot read arbitrary files through it.
func (a *App) SourcePDF(path string) (string, error) {
	b, err := a.sourceFile(path, "pdf")
	if err != nil {
		return "", err
	}
	return base64.StdEncoding.EncodeToString(b), nil
}

// sourceFile returns the bytes of a document of some knowledge base in the
// given format, exactly as it was ingested.
func (a *App) sourceFile(path, format string) ([]byte, error) {
	metas, err := a.store.List()
	if err != nil {
		return nil, err
	}
	for _, m := range metas {
		kb, err := a.store.KB(m.Name)
		if err != nil {
			continue
		}
		d, ok := kb.Doc(path)
		if !ok || d.Format != format {
			continue
		}
		st, err := os.Stat(path)
		if err != nil {
			return nil, fmt.Errorf("%s is no longer on this computer (%v); the passage text is still shown", filepath.Base(path), err)
		}
		if st.Size() > MaxPreviewBytes {
			return nil, fmt.Errorf("%s is larger than %d MB, too large to preview", filepath.Base(path), MaxPreviewBytes>>20)
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return nil, err
		}
		// Only the very file that was ingested: a document path from an
		// imported bundle must not become a way to read other files here.
		if sum := sha256.Sum256(b); int64(len(b)) != d.Size || hex.EncodeToString(sum[:]) != d.Hash {
			return nil, fmt.Errorf("%s has changed since it was added; add it again to preview its pages", filepath.Base(path))
		}
		return b, nil
	}
	if format == "pdf" {
		return nil, fmt.Errorf("%s is not a PDF in any knowledge base", filepath.Base(path))
	}
	return nil, fmt.Errorf("%s is not an image in any knowledge base", filepath.Base(path))
}

// reranker is the settings' reranker, nil (off) without an address.
func reranker(s Settings) *knowledge.Reranker {
	if strings.TrimSpace(s.RerankURL) == "" {
		return nil
	}
	return &knowledge.Reranker{URL: strings.TrimSpace(s.RerankURL), Model: s.RerankModel, TopN: s.RerankTopN}
}

// isLocalURL reports whether an Ollama address is this computer.
func isLocalURL(raw string) bool {
	if !strings.Contains(raw, "://") {
		raw = "http://" + raw
	}
	u, err := url.Parse(raw)
	if err != nil {
		return false
	}
	host := u.Hostname()
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
