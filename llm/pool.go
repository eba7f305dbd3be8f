package llm

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ollama/ollama/api"
)

// BackendSpec names one model server of a Pool.
type BackendSpec struct {
	Kind          string // "ollama" or "openai"
	URL           string
	Key           string // openai: API key, if the server wants one
	ContextLength int    // openai: the served models' context window (0: 8192)
}

// ParseBackend reads "ollama=URL" or "openai=URL" (the hub's --backend).
func ParseBackend(s string) (BackendSpec, error) {
	kind, u, ok := strings.Cut(strings.TrimSpace(s), "=")
	if !ok || u == "" {
		return BackendSpec{}, fmt.Errorf("%q is not KIND=URL: write ollama=http://host:11434 or openai=http://host:8000/v1", s)
	}
	kind = strings.ToLower(strings.TrimSpace(kind))
	if kind != "ollama" && kind != "openai" {
		return BackendSpec{}, fmt.Errorf("%q: the kind must be ollama or openai", s)
	}
	return BackendSpec{Kind: kind, URL: strings.TrimSpace(u)}, nil
}

// PoolConfig sets up a Pool. Zero fields take the defaults below.
type PoolConfig struct {
	Backends []BackendSpec
	// MaxConcurrent is how many requests one backend gets at once (default
	// 4, Ollama's usual OLLAMA_NUM_PARALLEL): more would only queue inside
	// the server, where the pool can neither see nor route around them.
	MaxConcurrent int
	// MaxQueue is how many requests may wait for a free backend, over all
	// backends (default 64; negative: none may wait). Beyond it a request
	// fails at once with a *BusyError.
	MaxQueue int
	// QueueWait is the longest a request waits in the queue before it
	// fails with a *BusyError (default 30 s).
	QueueWait time.Duration
	// HealthInterval is the time between background checks (default 5 s);
	// HealthTimeout bounds one check (default 3 s).
	HealthInterval time.Duration
	HealthTimeout  time.Duration
	Log            *slog.Logger // nil: discarded
}

// Defaults of PoolConfig.
const (
	DefaultPoolConcurrency = 4
	DefaultPoolQueue       = 64
	DefaultPoolQueueWait   = 30 * time.Second
)

// ErrBusy: every backend that has the model is at its concurrency limit and
// the queue is full (or the wait was too long). Errors wrapping it are
// *BusyError, which says when to retry.
var ErrBusy = errors.New("every model server is busy")

// BusyError is the pool's refusal when it is full; a hub answers it with
// 429 and Retry-After.
type BusyError struct {
	Model      string
	RetryAfter time.Duration // whole seconds, at least one
}

func (e *BusyError) Error() string {
	n := int(e.RetryAfter / time.Second)
	unit := "seconds"
	if n == 1 {
		unit = "second"
	}
	return fmt.Sprintf("Every model server that runs %s is busy — try again in %d %s.", nameOr(e.Model), n, unit)
}

// Is makes errors.Is(err, ErrBusy) true.
func (e *BusyError) Is(target error) bool { return target == ErrBusy }

// PoolEvent reports one finished request to a backend (for metrics).
type PoolEvent struct {
	Backend  string        // its URL
	Op       string        // "chat" or "embed"
	TTFT     time.Duration // chat: time to the first token or tool call; 0 if none
	Duration time.Duration
	Error    string // "" on success, else ErrorKind's name
	Failover bool   // the request is tried again on another backend
}

// BackendStatus is what the pool knows about one backend, for /readyz and logs.
type BackendStatus struct {
	URL         string            `json:"url"`
	Kind        string            `json:"kind"`
	Healthy     bool              `json:"healthy"`
	Models      []string          `json:"models"`
	Outstanding int               `json:"outstanding"`
	Limit       int               `json:"limit"`
	Requests    uint64            `json:"requests"`
	Errors      map[string]uint64 `json:"errors,omitempty"` // by ErrorKind
	LastError   string            `json:"last_error,omitempty"`
	LastCheck   time.Time         `json:"last_check"`
}

// PoolStatus is the whole pool: Ready when at least one backend is healthy.
type PoolStatus struct {
	Ready      bool            `json:"ready"`
	Queued     int             `json:"queued"`
	QueueLimit int             `json:"queue_limit"`
	Backends   []BackendStatus `json:"backends"`
}

// poolBackend is what the pool needs of a server: Client and OpenAI.
type poolBackend interface {
	Chat(ctx context.Context, req ChatRequest, onToken func(string) error) (ChatResult, error)
	Show(ctx context.Context, model string) (ModelInfo, error)
	Embed(ctx context.Context, model string, texts []string) ([][]float32, error)
	List(ctx context.Context) ([]ModelInfo, error)
	modelNames(ctx context.Context) ([]string, error)
}

type member struct {
	spec BackendSpec
	url  string
	be   poolBackend

	// Guarded by Pool.mu.
	healthy     bool
	models      map[string]bool // base names (no ":latest")
	outstanding int
	requests    uint64
	errs        map[string]uint64
	lastErr     string
	lastCheck   time.Time
}

type grant struct {
	m   *member
	err error
}

type waiter struct {
	model   string
	exclude map[*member]bool
	ch      chan grant // buffered: dispatch never blocks
}

// Pool spreads chats and embeddings over several model servers (Ollama or
// OpenAI-compatible). It offers Chat, Show, Embed and List like a Client,
// so the agent runner, knowledge search and bundle import use it unchanged.
//
// A request goes to the healthy backend that lists its model and has the
// fewest requests outstanding, up to MaxConcurrent per backend; beyond that
// it waits in a bounded FIFO queue, and beyond the queue it fails at once
// with a *BusyError. A backend that fails before the first token was handed
// to the caller is left for another that has the model; once a token went
// out, a failure is returned as is (the caller already showed part of the
// answer, and a second answer would not continue it).
//
// Health is checked in the background (Ollama /api/tags, OpenAI /models,
// which also refresh each backend's models); a backend that refuses a
// connection is taken out at once and comes back at the next good check.
type Pool struct {
	cfg     PoolConfig
	log     *slog.Logger
	members []*member

	mu      sync.Mutex
	waiters []*waiter
	next    int           // where the tie-break among equals starts
	hold    time.Duration // moving average of how long a request holds a slot

	observe atomic.Pointer[func(PoolEvent)]
	stop    context.CancelFunc
	done    chan struct{}
}

// NewPool connects to every backend once (so the first requests are routed
// by what the servers really have), then keeps checking them until Close.
// A backend that is down at the start is not an error: it joins when it
// answers.
func NewPool(cfg PoolConfig) (*Pool, error) {
	if len(cfg.Backends) == 0 {
		return nil, errors.New("a model-server pool needs at least one backend")
	}
	if cfg.MaxConcurrent <= 0 {
		cfg.MaxConcurrent = DefaultPoolConcurrency
	}
	switch {
	case cfg.MaxQueue == 0:
		cfg.MaxQueue = DefaultPoolQueue
	case cfg.MaxQueue < 0:
		cfg.MaxQueue = 0
	}
	if cfg.QueueWait <= 0 {
		cfg.QueueWait = DefaultPoolQueueWait
	}
	if cfg.HealthInterval <= 0 {
		cfg.HealthInterval = 5 * time.Second
	}
	if cfg.HealthTimeout <= 0 {
		cfg.HealthTimeout = 3 * time.Second
	}
	log := cfg.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	p := &Pool{cfg: cfg, log: log, done: make(chan struct{})}
	seen := map[string]bool{}
	for _, s := range cfg.Backends {
		var (
			be  poolBackend
			u   string
			err error
		)
		switch s.Kind {
		case "ollama", "":
			var c *Client
			c, err = New(s.URL)
			if c != nil {
				be, u = c, c.URL()
			}
		case "openai":
			var o *OpenAI
			o, err = NewOpenAI(s.URL, s.Key, s.ContextLength)
			if o != nil {
				be, u = o, o.base
			}
		default:
			err = fmt.Errorf("kind %q is not ollama or openai", s.Kind)
		}
		if err != nil {
			return nil, fmt.Errorf("backend %s: %w", s.URL, err)
		}
		if seen[u] {
			return nil, fmt.Errorf("backend %s is given twice", u)
		}
		seen[u] = true
		p.members = append(p.members, &member{spec: s, url: u, be: be, errs: map[string]uint64{}})
	}
	ctx, cancel := context.WithCancel(context.Background())
	p.stop = cancel
	p.checkAll(ctx)
	go p.loop(ctx)
	return p, nil
}

// Close stops the background checks. Requests in flight finish.
func (p *Pool) Close() {
	p.stop()
	<-p.done
}

// OnEvent sets fn to be told about every finished backend request (from
// the request's goroutine; fn must be quick). nil stops it.
func (p *Pool) OnEvent(fn func(PoolEvent)) {
	if fn == nil {
		p.observe.Store(nil)
		return
	}
	p.observe.Store(&fn)
}

func (p *Pool) emit(ev PoolEvent) {
	if fn := p.observe.Load(); fn != nil {
		(*fn)(ev)
	}
}

func (p *Pool) loop(ctx context.Context) {
	defer close(p.done)
	t := time.NewTicker(p.cfg.HealthInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			p.checkAll(ctx)
		}
	}
}

// checkAll probes every backend at once and applies the results together.
func (p *Pool) checkAll(ctx context.Context) {
	type result struct {
		names []string
		err   error
	}
	res := make([]result, len(p.members))
	var wg sync.WaitGroup
	for i, m := range p.members {
		wg.Add(1)
		go func() {
			defer wg.Done()
			cctx, cancel := context.WithTimeout(ctx, p.cfg.HealthTimeout)
			defer cancel()
			res[i].names, res[i].err = m.be.modelNames(cctx)
		}()
	}
	wg.Wait()
	if ctx.Err() != nil {
		return
	}
	now := time.Now()
	p.mu.Lock()
	defer p.mu.Unlock()
	for i, m := range p.members {
		first := m.lastCheck.IsZero()
		m.lastCheck = now
		if err := res[i].err; err != nil {
			if first {
				p.log.Warn("model server down", "backend", m.url, "error", err.Error())
			}
			p.downLocked(m, err)
			continue
		}
		models := make(map[string]bool, len(res[i].names))
		for _, n := range res[i].names {
			models[baseName(n)] = true
		}
		m.models = models
		if !m.healthy {
			m.healthy = true
			m.lastErr = ""
			p.log.Info("model server up", "backend", m.url, "models", sortedKeys(models))
		}
	}
	p.dispatchLocked()
}

func (p *Pool) downLocked(m *member, err error) {
	m.lastErr = err.Error()
	if m.healthy {
		m.healthy = false
		p.log.Warn("model server down", "backend", m.url, "error", m.lastErr)
	}
}

func sortedKeys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

func baseName(model string) string { return strings.TrimSuffix(model, ":latest") }

// pickLocked chooses the healthy backend outside exclude that has model and
// the fewest requests outstanding below the limit. It reports whether any
// candidate exists at all (false: waiting would not help).
func (p *Pool) pickLocked(model string, exclude map[*member]bool) (m *member, candidates bool) {
	name := baseName(model)
	n := len(p.members)
	for k := range n {
		c := p.members[(p.next+k)%n]
		if !c.healthy || exclude[c] || !c.models[name] {
			continue
		}
		candidates = true
		if c.outstanding < p.cfg.MaxConcurrent && (m == nil || c.outstanding < m.outstanding) {
			m = c
		}
	}
	if m != nil {
		// Rotate so that equally loaded backends take turns.
		p.next = (slices.Index(p.members, m) + 1) % n
		m.outstanding++
		m.requests++
	}
	return m, candidates
}

// dispatchLocked hands freed slots to waiters, oldest first; a waiter whose
// model no healthy backend has any more is failed rather than left to time out.
func (p *Pool) dispatchLocked() {
	kept := p.waiters[:0]
	for _, w := range p.waiters {
		m, some := p.pickLocked(w.model, w.exclude)
		switch {
		case m != nil:
			w.ch <- grant{m: m}
		case !some:
			w.ch <- grant{err: p.noBackendLocked("chat", w.model)}
		default:
			kept = append(kept, w)
		}
	}
	clear(p.waiters[len(kept):])
	p.waiters = kept
}

// acquire takes a slot on a backend for model, waiting in the queue if all
// are busy.
func (p *Pool) acquire(ctx context.Context, op, model string, exclude map[*member]bool) (*member, error) {
	p.mu.Lock()
	m, some := p.pickLocked(model, exclude)
	if m != nil {
		p.mu.Unlock()
		return m, nil
	}
	if !some {
		err := p.noBackendLocked(op, model)
		p.mu.Unlock()
		return nil, err
	}
	if len(p.waiters) >= p.cfg.MaxQueue {
		err := p.busyLocked(model)
		p.mu.Unlock()
		return nil, err
	}
	w := &waiter{model: model, exclude: exclude, ch: make(chan grant, 1)}
	p.waiters = append(p.waiters, w)
	p.mu.Unlock()

	t := time.NewTimer(p.cfg.QueueWait)
	defer t.Stop()
	select {
	case g := <-w.ch:
		return g.m, g.err
	case <-ctx.Done():
		p.abandon(w)
		return nil, ctx.Err()
	case <-t.C:
		p.mu.Lock()
		err := p.busyLocked(model)
		p.mu.Unlock()
		p.abandon(w)
		return nil, err
	}
}

// abandon takes w out of the queue; a slot granted meanwhile is given back.
func (p *Pool) abandon(w *waiter) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if i := slices.Index(p.waiters, w); i >= 0 {
		p.waiters = slices.Delete(p.waiters, i, i+1)
		return
	}
	if g := <-w.ch; g.m != nil {
		g.m.outstanding--
		p.dispatchLocked()
	}
}

func (p *Pool) release(m *member, held time.Duration, err error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	m.outstanding--
	if p.hold == 0 {
		p.hold = held
	} else {
		p.hold += (held - p.hold) / 8
	}
	if kind := ErrorKind(err); kind != "" {
		m.errs[kind]++
		if errors.Is(err, ErrUnavailable) {
			// Refused or reset: stop sending it work now rather than at
			// the next check.
			p.downLocked(m, err)
		}
	}
	p.dispatchLocked()
}

// busyLocked builds the refusal, with a retry time from how long requests
// hold their slots and how many wait ahead.
func (p *Pool) busyLocked(model string) error {
	slots := 0
	for _, m := range p.members {
		if m.healthy {
			slots += p.cfg.MaxConcurrent
		}
	}
	wait := p.hold
	if slots > 0 {
		wait = p.hold * time.Duration(len(p.waiters)+slots) / time.Duration(slots)
	}
	secs := min(max((wait+time.Second-1)/time.Second, 1), 60)
	return &BusyError{Model: model, RetryAfter: secs * time.Second}
}

// noBackendLocked says why no backend can take model: none is healthy, or
// none of the healthy ones has it.
func (p *Pool) noBackendLocked(op, model string) error {
	var healthy, all, reasons []string
	for _, m := range p.members {
		all = append(all, m.url)
		if m.healthy {
			healthy = append(healthy, m.url)
		} else if m.lastErr != "" {
			reasons = append(reasons, m.url+": "+m.lastErr)
		}
	}
	if len(healthy) == 0 {
		return &Error{Op: op, URL: strings.Join(all, ", "), Model: model, Kind: ErrUnavailable,
			Err: fmt.Errorf("no model server is healthy (%s)", strings.Join(reasons, "; "))}
	}
	return &Error{Op: op, URL: strings.Join(healthy, ", "), Model: model, Kind: ErrModelNotFound,
		Err: fmt.Errorf("no healthy model server has %q", model)}
}

// ErrorKind names err for metrics and status: "unavailable", "stream_cut",
// "model_not_found", "unsupported", "busy" or "other"; "" for nil, for
// cancellations and for errors that are not a server's (such as the
// caller's own onToken error).
func ErrorKind(err error) string {
	var e *Error
	switch {
	case err == nil:
		return ""
	case errors.Is(err, ErrBusy):
		return "busy"
	case !errors.As(err, &e):
		return ""
	case errors.Is(err, ErrUnavailable):
		return "unavailable"
	case errors.Is(err, ErrStreamCut):
		return "stream_cut"
	case errors.Is(err, ErrModelNotFound):
		return "model_not_found"
	case errors.Is(err, ErrUnsupported):
		return "unsupported"
	}
	return "other"
}

// retryable reports whether another backend might answer where this one
// failed: not when the request itself is at fault (the model lacks a
// capability, a 4xx other than "not found").
func retryable(err error) bool {
	var e *Error
	if !errors.As(err, &e) || errors.Is(err, ErrUnsupported) {
		return false
	}
	var se api.StatusError
	if errors.As(err, &se) && se.StatusCode >= 400 && se.StatusCode < 500 &&
		se.StatusCode != http.StatusNotFound && se.StatusCode != http.StatusTooManyRequests {
		return false
	}
	return true
}

// Chat runs req on the best backend for req.Model, moving to another if one
// fails before any token reached onToken.
func (p *Pool) Chat(ctx context.Context, req ChatRequest, onToken func(string) error) (ChatResult, error) {
	tried := map[*member]bool{}
	var (
		lastRes ChatResult
		lastErr error
	)
	for {
		m, err := p.acquire(ctx, "chat", req.Model, tried)
		if err != nil {
			if lastErr != nil && !errors.Is(err, ErrBusy) && ctx.Err() == nil {
				return lastRes, lastErr // the real failure, not "no other server"
			}
			return ChatResult{}, err
		}
		tried[m] = true
		started := false
		stream := onToken
		if onToken != nil {
			stream = func(s string) error {
				started = true
				return onToken(s)
			}
		}
		start := time.Now()
		res, err := m.be.Chat(ctx, req, stream)
		held := time.Since(start)
		p.release(m, held, err)
		again := err != nil && !started && ctx.Err() == nil && retryable(err)
		p.emit(PoolEvent{Backend: m.url, Op: "chat", TTFT: res.TTFT, Duration: held, Error: ErrorKind(err), Failover: again})
		if !again {
			return res, err
		}
		p.log.Warn("model server failed before the first token; trying another", "backend", m.url, "model", req.Model, "error", err.Error())
		lastRes, lastErr = res, err
	}
}

// Embed embeds texts on the best backend for model, moving to another on
// failure.
func (p *Pool) Embed(ctx context.Context, model string, texts []string) ([][]float32, error) {
	tried := map[*member]bool{}
	var lastErr error
	for {
		m, err := p.acquire(ctx, "embed", model, tried)
		if err != nil {
			if lastErr != nil && !errors.Is(err, ErrBusy) && ctx.Err() == nil {
				return nil, lastErr
			}
			return nil, err
		}
		tried[m] = true
		start := time.Now()
		vecs, err := m.be.Embed(ctx, model, texts)
		held := time.Since(start)
		p.release(m, held, err)
		again := err != nil && ctx.Err() == nil && retryable(err)
		p.emit(PoolEvent{Backend: m.url, Op: "embed", Duration: held, Error: ErrorKind(err), Failover: again})
		if !again {
			return vecs, err
		}
		p.log.Warn("model server failed to embed; trying another", "backend", m.url, "model", model, "error", err.Error())
		lastErr = err
	}
}

// candidates lists the healthy backends that have model, least loaded first.
func (p *Pool) candidates(model string) []*member {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []*member
	for _, m := range p.members {
		if m.healthy && m.models[baseName(model)] {
			out = append(out, m)
		}
	}
	slices.SortStableFunc(out, func(a, b *member) int { return a.outstanding - b.outstanding })
	return out
}

// Show describes model as the first healthy backend that has it reports it.
// It takes no slot: it is a cheap, cached metadata call.
func (p *Pool) Show(ctx context.Context, model string) (ModelInfo, error) {
	var lastErr error
	for _, m := range p.candidates(model) {
		info, err := m.be.Show(ctx, model)
		if err == nil {
			return info, nil
		}
		if ctx.Err() != nil {
			return ModelInfo{}, ctx.Err()
		}
		lastErr = err
	}
	if lastErr != nil {
		return ModelInfo{}, lastErr
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	return ModelInfo{}, p.noBackendLocked("show", model)
}

// List is every model some healthy backend serves, each once (the first
// backend's facts win), for checking a bundle's models before import.
func (p *Pool) List(ctx context.Context) ([]ModelInfo, error) {
	p.mu.Lock()
	var healthy []*member
	for _, m := range p.members {
		if m.healthy {
			healthy = append(healthy, m)
		}
	}
	p.mu.Unlock()
	var (
		out     []ModelInfo
		seen    = map[string]bool{}
		lastErr error
		ok      bool
	)
	for _, m := range healthy {
		list, err := m.be.List(ctx)
		if err != nil {
			lastErr = err
			continue
		}
		ok = true
		for _, info := range list {
			if !seen[baseName(info.Name)] {
				seen[baseName(info.Name)] = true
				out = append(out, info)
			}
		}
	}
	switch {
	case ok:
		return out, nil
	case ctx.Err() != nil:
		return nil, ctx.Err()
	case lastErr != nil:
		return nil, lastErr
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	return nil, p.noBackendLocked("list", "")
}

// Status is a snapshot of the pool, for /readyz, logs and metrics.
func (p *Pool) Status() PoolStatus {
	p.mu.Lock()
	defer p.mu.Unlock()
	st := PoolStatus{Queued: len(p.waiters), QueueLimit: p.cfg.MaxQueue}
	for _, m := range p.members {
		b := BackendStatus{
			URL: m.url, Kind: m.spec.Kind, Healthy: m.healthy, Models: sortedKeys(m.models),
			Outstanding: m.outstanding, Limit: p.cfg.MaxConcurrent, Requests: m.requests,
			LastError: m.lastErr, LastCheck: m.lastCheck,
		}
		if b.Kind == "" {
			b.Kind = "ollama"
		}
		if len(m.errs) > 0 {
			b.Errors = make(map[string]uint64, len(m.errs))
			for k, v := range m.errs {
				b.Errors[k] = v
			}
		}
		st.Ready = st.Ready || m.healthy
		st.Backends = append(st.Backends, b)
	}
	return st
}

// modelNames is the health check: /api/tags answers only when the server
// is up, and says which models it has.
func (c *Client) modelNames(ctx context.Context) ([]string, error) {
	resp, err := c.api.List(ctx)
	if err != nil {
		return nil, c.fail(ctx, "list", "", err)
	}
	out := make([]string, 0, len(resp.Models))
	for _, m := range resp.Models {
		out = append(out, m.Name)
	}
	return out, nil
}

func (o *OpenAI) modelNames(ctx context.Context) ([]string, error) {
	list, err := o.List(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]string, 0, len(list))
	for _, m := range list {
		out = append(out, m.Name)
	}
	return out, nil
}
