package channels

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Question is one end-user message for the agent to answer.
type Question struct {
	Workspace string
	Agent     string
	Channel   string // the channel's ID (a lead records it)
	Kind      Kind
	// UserKey identifies the end user for conversations, memory and
	// leads: the kind and the platform's user ID, e.g. "telegram:42".
	UserKey string
	Text    string
}

// Answerer produces the agent's answer; the hub plugs its answer loop in.
type Answerer interface {
	Answer(ctx context.Context, q Question) (Reply, error)
}

// AnswerFunc adapts a function to Answerer.
type AnswerFunc func(ctx context.Context, q Question) (Reply, error)

// Answer implements Answerer.
func (f AnswerFunc) Answer(ctx context.Context, q Question) (Reply, error) { return f(ctx, q) }

// Options configure a Dispatcher. Zero fields take the defaults.
type Options struct {
	Answerer  Answerer
	Dedupe    Deduper       // default: NewMemoryDeduper(100 000)
	DedupeTTL time.Duration // default 48 h (WhatsApp retries for days; the rest within hours)
	HTTP      *http.Client  // for send and token APIs; default: 20 s timeout
	APIBases  []string      // api_bases a tenant's channel may name (Client)
	Workers   int           // answers in progress at once; default 4
	Queue     int           // messages waiting for a worker; default 1000
	// AnswerTimeout bounds one answer and its sends; default 3 min.
	AnswerTimeout time.Duration
	// SorryText is sent when the agent cannot answer, so the end user is
	// not left waiting; "" sends nothing.
	SorryText string
	MaxBody   int64 // callback body limit; default 1 MiB
	Now       func() time.Time
	Log       *slog.Logger

	// BusyWait bounds how long a question the Answerer calls Busy is
	// tried again before the end user is told; default 60 s.
	BusyWait time.Duration
	// Status, if set, is told of every change to a channel's status
	// (a hub's replicas share it through their store).
	Status StatusSink
}

const maxPending = 10_000

// DefaultSorry is the default SorryText.
const DefaultSorry = "Sorry, I cannot answer right now. Please try again in a few minutes."

// Delta is what one event adds to a channel's status: counts to add and
// times (with the error text) to keep when later than the recorded ones.
type Delta struct {
	Received, Answered, Failed, Duplicates, Rejected, Votes int64
	LastMessage, LastReply, LastErrorAt                     time.Time
	LastError                                               string
}

// StatusSink is told of channels' status changes. Note is called on the
// acknowledgement path, so it must not block: queue or aggregate, and
// write elsewhere.
type StatusSink interface {
	Note(ctx context.Context, ws, channel string, d Delta)
}

// Dispatcher runs the channels: it serves their callbacks and answers their
// messages through a bounded pool of workers.
type Dispatcher struct {
	opt Options

	mu       sync.RWMutex
	channels map[string]*Channel

	// pending holds each user's last numbered follow-ups, so a reply of
	// "2" asks the second one. Bounded: cleared when full.
	pendMu  sync.Mutex
	pending map[string][]string

	jobs    chan job
	wg      sync.WaitGroup
	closing chan struct{}
	once    sync.Once
	parked  atomic.Int64 // Busy questions waiting to be queued again
}

type job struct {
	ch    *Channel
	msg   Message
	key   string
	fetch func(ctx context.Context) ([]Message, error)
	// since is when a Busy question was first tried; tries, how often.
	since time.Time
	tries int
}

// New starts a dispatcher; Close stops it.
func New(opt Options) *Dispatcher {
	if opt.Now == nil {
		opt.Now = time.Now
	}
	if opt.Dedupe == nil {
		opt.Dedupe = NewMemoryDeduper(0, opt.Now)
	}
	if opt.DedupeTTL <= 0 {
		opt.DedupeTTL = 48 * time.Hour
	}
	if opt.HTTP == nil {
		opt.HTTP = &http.Client{Timeout: 20 * time.Second}
	}
	if opt.Workers <= 0 {
		opt.Workers = 4
	}
	if opt.Queue <= 0 {
		opt.Queue = 1000
	}
	if opt.AnswerTimeout <= 0 {
		opt.AnswerTimeout = 3 * time.Minute
	}
	if opt.BusyWait <= 0 {
		opt.BusyWait = time.Minute
	}
	if opt.MaxBody <= 0 {
		opt.MaxBody = 1 << 20
	}
	if opt.Log == nil {
		opt.Log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	d := &Dispatcher{opt: opt, channels: map[string]*Channel{}, pending: map[string][]string{}, jobs: make(chan job, opt.Queue), closing: make(chan struct{})}
	for range opt.Workers {
		d.wg.Add(1)
		go d.work()
	}
	return d
}

// Close stops taking messages and waits for the answers in progress
// (bounded by AnswerTimeout each); queued messages are dropped.
func (d *Dispatcher) Close() {
	d.once.Do(func() { close(d.closing) })
	d.wg.Wait()
}

// Channel is one configured, running channel.
type Channel struct {
	cfg     Config
	factory Factory
	adapter Adapter
	sink    StatusSink

	received, answered, failed, duplicates, rejected, votes atomic.Int64

	mu          sync.Mutex
	lastMessage time.Time
	lastReply   time.Time
	lastError   string
	lastErrorAt time.Time
}

// Status is a channel's health, for the Publish screen and `channel list`.
type Status struct {
	ID          string    `json:"id"`
	Kind        Kind      `json:"kind"`
	Workspace   string    `json:"workspace,omitempty"`
	Agent       string    `json:"agent"`
	LastMessage time.Time `json:"last_message,omitzero"`
	LastReply   time.Time `json:"last_reply,omitzero"`
	LastError   string    `json:"last_error,omitempty"`
	LastErrorAt time.Time `json:"last_error_at,omitzero"`
	TokenExpiry time.Time `json:"token_expiry,omitzero"` // the answering replica's cached access token: each replica fetches its own
	Received    int64     `json:"received"`              // messages taken
	Answered    int64     `json:"answered"`              // replies sent
	Failed      int64     `json:"failed"`                // messages left unanswered
	Duplicates  int64     `json:"duplicates"`            // platform retries ignored
	Rejected    int64     `json:"rejected"`              // callbacks refused (signature)
	Votes       int64     `json:"votes"`                 // votes on answers recorded
}

// Config returns the channel's config (secrets included: never serve it;
// use PublicView).
func (c *Channel) Config() Config { return c.cfg }

// Adapter returns the channel's adapter.
func (c *Channel) Adapter() Adapter { return c.adapter }

// Status reports the channel's health.
func (c *Channel) Status() Status {
	c.mu.Lock()
	s := Status{ID: c.cfg.ID, Kind: c.cfg.Kind, Workspace: c.cfg.Workspace, Agent: c.cfg.Agent,
		LastMessage: c.lastMessage, LastReply: c.lastReply, LastError: c.lastError, LastErrorAt: c.lastErrorAt}
	c.mu.Unlock()
	if th, ok := c.adapter.(TokenHolder); ok {
		s.TokenExpiry = th.TokenExpiry()
	}
	s.Received, s.Answered, s.Failed = c.received.Load(), c.answered.Load(), c.failed.Load()
	s.Duplicates, s.Rejected, s.Votes = c.duplicates.Load(), c.rejected.Load(), c.votes.Load()
	return s
}

func (c *Channel) noteError(now time.Time, err error) {
	c.add(Delta{LastError: err.Error(), LastErrorAt: now})
}

// add records an event in this dispatcher's status of the channel and
// tells the sink.
func (c *Channel) add(d Delta) {
	c.received.Add(d.Received)
	c.answered.Add(d.Answered)
	c.failed.Add(d.Failed)
	c.duplicates.Add(d.Duplicates)
	c.rejected.Add(d.Rejected)
	c.votes.Add(d.Votes)
	if !d.LastMessage.IsZero() || !d.LastReply.IsZero() || !d.LastErrorAt.IsZero() {
		c.mu.Lock()
		if !d.LastMessage.IsZero() {
			c.lastMessage = d.LastMessage
		}
		if !d.LastReply.IsZero() {
			c.lastReply = d.LastReply
		}
		if !d.LastErrorAt.IsZero() {
			c.lastError, c.lastErrorAt = d.LastError, d.LastErrorAt
		}
		c.mu.Unlock()
	}
	if c.sink != nil {
		c.sink.Note(context.Background(), c.cfg.Workspace, c.cfg.ID, d)
	}
}

// Add builds a channel from cfg (validated against its kind) and starts
// serving it, replacing a channel with the same ID.
func (d *Dispatcher) Add(cfg Config) (*Channel, error) {
	if strings.TrimSpace(cfg.ID) == "" || strings.ContainsAny(cfg.ID, "/?#% ") {
		return nil, fmt.Errorf("channel ID %q must be non-empty, without spaces or /?#%%", cfg.ID)
	}
	f, err := Validate(cfg)
	if err != nil {
		return nil, err
	}
	hc, err := Client(d.opt.HTTP, cfg, d.opt.APIBases)
	if err != nil {
		return nil, err
	}
	a, err := f.New(Env{Config: cfg, HTTP: hc, Now: d.opt.Now})
	if err != nil {
		return nil, err
	}
	ch := &Channel{cfg: cfg, factory: f, adapter: a, sink: d.opt.Status}
	d.mu.Lock()
	d.channels[cfg.ID] = ch
	d.mu.Unlock()
	return ch, nil
}

// Remove stops serving a channel (unpublishing disconnects its channels).
func (d *Dispatcher) Remove(id string) {
	d.mu.Lock()
	delete(d.channels, id)
	d.mu.Unlock()
}

// Get returns a running channel.
func (d *Dispatcher) Get(id string) (*Channel, bool) {
	d.mu.RLock()
	defer d.mu.RUnlock()
	c, ok := d.channels[id]
	return c, ok
}

// List returns the running channels' statuses.
func (d *Dispatcher) List() []Status {
	d.mu.RLock()
	defer d.mu.RUnlock()
	out := make([]Status, 0, len(d.channels))
	for _, c := range d.channels {
		out = append(out, c.Status())
	}
	return out
}

// ServeHTTP serves every channel's callbacks, the channel named by the
// route's {id} wildcard (mount it at "/ch/{id}").
func (d *Dispatcher) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	if id == "" {
		id = r.URL.Path[strings.LastIndexByte(r.URL.Path, '/')+1:]
	}
	c, ok := d.Get(id)
	if !ok {
		http.Error(w, "no such channel", http.StatusNotFound)
		return
	}
	d.serve(c, w, r)
}

// Handler serves one channel's callbacks.
func (d *Dispatcher) Handler(id string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, ok := d.Get(id)
		if !ok {
			http.Error(w, "no such channel", http.StatusNotFound)
			return
		}
		d.serve(c, w, r)
	})
}

// serve acknowledges a callback without waiting for any answer: the
// platform's deadline (3 s for Slack and Feishu, 5 s for WeChat) is far
// shorter than a local model's answer, and a late acknowledgement makes
// the platform retry.
func (d *Dispatcher) serve(c *Channel, w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, d.opt.MaxBody))
	if err != nil {
		http.Error(w, "request body too large", http.StatusRequestEntityTooLarge)
		return
	}
	cb, err := c.adapter.Receive(r, body)
	if err != nil {
		switch {
		case errors.Is(err, ErrUnauthorized):
			c.add(Delta{Rejected: 1})
			c.noteError(d.opt.Now(), fmt.Errorf("refused a callback: %w", err))
			http.Error(w, "unauthorized", http.StatusUnauthorized)
		case errors.Is(err, ErrBadRequest):
			c.noteError(d.opt.Now(), err)
			http.Error(w, "bad request", http.StatusBadRequest)
		default:
			c.noteError(d.opt.Now(), err)
			http.Error(w, "cannot process the callback", http.StatusInternalServerError)
		}
		return
	}
	for _, m := range cb.Messages {
		if !d.take(r.Context(), c, m) {
			// The queue is full: let the platform retry later
			// rather than drop the customer's message.
			http.Error(w, "busy", http.StatusServiceUnavailable)
			return
		}
	}
	if cb.Fetch != nil && !d.enqueue(job{ch: c, fetch: cb.Fetch}) {
		http.Error(w, "busy", http.StatusServiceUnavailable)
		return
	}
	for _, v := range cb.Votes {
		res := d.vote(r.Context(), c, v)
		if cb.VoteAck != nil && len(cb.Votes) == 1 && res != VoteDuplicate {
			cb.ContentType, cb.Body = cb.VoteAck(res)
		}
	}
	if cb.ContentType != "" {
		w.Header().Set("Content-Type", cb.ContentType)
	}
	if cb.Status != 0 {
		w.WriteHeader(cb.Status)
	}
	if cb.Body != nil {
		w.Write(cb.Body)
	}
}

func (d *Dispatcher) dedupeKey(c *Channel, m Message) string {
	return c.cfg.ID + "\x00" + m.ID
}

// take claims a message and queues it; false means the queue is full.
func (d *Dispatcher) take(ctx context.Context, c *Channel, m Message) bool {
	if m.ID == "" || strings.TrimSpace(m.Text) == "" {
		return true
	}
	key := d.dedupeKey(c, m)
	fresh, err := d.opt.Dedupe.Claim(ctx, key, d.opt.DedupeTTL)
	if err != nil {
		// Without the store a retry might be answered twice; answering
		// once more beats not answering.
		d.opt.Log.Warn("channel dedupe store failed", "channel", c.cfg.ID, "err", err)
		fresh = true
	}
	if !fresh {
		c.add(Delta{Duplicates: 1})
		return true
	}
	if !d.enqueue(job{ch: c, msg: m, key: key}) {
		_ = d.opt.Dedupe.Release(ctx, key)
		return false
	}
	c.add(Delta{Received: 1, LastMessage: d.opt.Now()})
	return true
}

func (d *Dispatcher) enqueue(j job) bool {
	select {
	case <-d.closing:
		return false
	default:
	}
	select {
	case d.jobs <- j:
		return true
	default:
		return false
	}
}

func (d *Dispatcher) work() {
	defer d.wg.Done()
	for {
		select {
		case <-d.closing:
			return
		case j := <-d.jobs:
			d.run(j)
		}
	}
}

func (d *Dispatcher) run(j job) {
	ctx, cancel := context.WithTimeout(context.Background(), d.opt.AnswerTimeout)
	defer cancel()
	if j.fetch != nil {
		msgs, err := j.fetch(ctx)
		if err != nil {
			j.ch.noteError(d.opt.Now(), err)
			return
		}
		for _, m := range msgs {
			if m.ID == "" || strings.TrimSpace(m.Text) == "" {
				continue
			}
			key := d.dedupeKey(j.ch, m)
			if fresh, err := d.opt.Dedupe.Claim(ctx, key, d.opt.DedupeTTL); err == nil && !fresh {
				j.ch.add(Delta{Duplicates: 1})
				continue
			}
			j.ch.add(Delta{Received: 1, LastMessage: d.opt.Now()})
			d.answer(ctx, job{ch: j.ch, msg: m, key: key})
		}
		return
	}
	d.answer(ctx, j)
}

func (d *Dispatcher) answer(ctx context.Context, j job) {
	c, m := j.ch, j.msg
	q := Question{Workspace: c.cfg.Workspace, Agent: c.cfg.Agent, Channel: c.cfg.ID, Kind: c.cfg.Kind,
		UserKey: string(c.cfg.Kind) + ":" + m.User, Text: strings.TrimSpace(m.Text)}
	pkey := c.cfg.ID + "\x00" + q.UserKey
	if n, err := strconv.Atoi(q.Text); err == nil {
		d.pendMu.Lock()
		if f := d.pending[pkey]; n >= 1 && n <= len(f) {
			q.Text = f[n-1]
		}
		d.pendMu.Unlock()
	}
	rep, err := d.opt.Answerer.Answer(ctx, q)
	parked, err := d.waitBusy(j, err)
	if parked {
		return
	}
	sorry := false
	if err != nil {
		c.add(Delta{Failed: 1, LastErrorAt: d.opt.Now(), LastError: fmt.Sprintf("the agent could not answer: %v", err)})
		text := d.opt.SorryText
		var dec *Declined
		if errors.As(err, &dec) {
			text = dec.Text
		}
		if text == "" {
			return
		}
		rep, sorry = Reply{Text: text}, true
	}
	// The offered follow-ups are recorded before the reply goes out: the
	// user's "2" may arrive as soon as they see it.
	if !sorry {
		d.pendMu.Lock()
		if len(d.pending) >= maxPending {
			clear(d.pending)
		}
		if len(rep.Followups) > 0 {
			d.pending[pkey] = rep.Followups
		} else {
			delete(d.pending, pkey)
		}
		d.pendMu.Unlock()
	}
	ids, err := d.send(ctx, c, m, rep)
	if err == nil && !sorry {
		d.sent(ctx, c, m, rep, ids)
	}
	if err != nil {
		if !sorry {
			c.add(Delta{Failed: 1})
			d.pendMu.Lock()
			delete(d.pending, pkey) // never seen, so never chosen
			d.pendMu.Unlock()
		}
		c.noteError(d.opt.Now(), fmt.Errorf("the reply could not be sent: %w", err))
		return
	}
	rd := Delta{LastReply: d.opt.Now()}
	if !sorry {
		rd.Answered = 1
	}
	c.add(rd)
}

// send tries a reply up to three times while the failure is transient,
// and returns the sent messages' IDs where the adapter reports them.
func (d *Dispatcher) send(ctx context.Context, c *Channel, m Message, rep Reply) ([]string, error) {
	backoff := 500 * time.Millisecond
	ids, _ := c.adapter.(IDSender)
	for attempt := 1; ; attempt++ {
		var got []string
		var err error
		if ids != nil {
			got, err = ids.SendIDs(ctx, m, rep)
		} else {
			err = c.adapter.Send(ctx, m, rep)
		}
		if err == nil || !IsRetryable(err) || attempt == 3 {
			return got, err
		}
		select {
		case <-ctx.Done():
			return nil, err
		case <-time.After(backoff):
		}
		backoff *= 2
	}
}

// SendTest sends a test message to a user of the channel (a chat ID, open
// ID, phone number or channel, as the platform names them), for the
// Publish screen's "Send test message".
func (d *Dispatcher) SendTest(ctx context.Context, id, to, text string) error {
	c, ok := d.Get(id)
	if !ok {
		return fmt.Errorf("there is no channel %q; `atoll hub channel list` shows them", id)
	}
	if strings.TrimSpace(to) == "" {
		return errors.New("a test message needs a recipient (the platform's user or chat ID)")
	}
	err := c.adapter.Send(ctx, Message{User: to, Chat: to}, Reply{Text: text})
	if err != nil {
		c.noteError(d.opt.Now(), fmt.Errorf("the test message could not be sent: %w", err))
	}
	return err
}
