package hub

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"atoll/channels"
	"atoll/hubstore"
)

// statusFlushEvery is how often a replica adds its channels' status
// changes to the store: the admin list flushes first, so it is only how
// late another replica's list can be.
const statusFlushEvery = time.Second

// statusSink gathers this replica's channel status changes in memory
// (Note is on the acknowledgement path: a map update, no database) and
// adds them to the store every statusFlushEvery and on close, so every
// replica reports the same figures.
type statusSink struct {
	st  hubstore.Storage
	log *slog.Logger

	mu      sync.Mutex
	pending map[statusKey]hubstore.ChannelStatus // one per channel at most

	flushMu sync.Mutex // one flush at a time, so a list after Flush sees it all
	stop    chan struct{}
	done    chan struct{}
	once    sync.Once
}

type statusKey struct{ ws, id string }

func newStatusSink(st hubstore.Storage, log *slog.Logger) *statusSink {
	s := &statusSink{st: st, log: log, pending: map[statusKey]hubstore.ChannelStatus{}, stop: make(chan struct{}), done: make(chan struct{})}
	go s.loop()
	return s
}

func (s *statusSink) Note(_ context.Context, ws, channel string, d channels.Delta) {
	s.mu.Lock()
	k := statusKey{ws, channel}
	s.pending[k] = mergeStatus(s.pending[k], hubstore.ChannelStatus{Received: d.Received, Answered: d.Answered, Failed: d.Failed,
		Duplicates: d.Duplicates, Rejected: d.Rejected, Votes: d.Votes,
		LastMessage: d.LastMessage, LastReply: d.LastReply, LastErrorAt: d.LastErrorAt, LastError: d.LastError})
	s.mu.Unlock()
}

// mergeStatus adds b to a as the store does: counts summed, later times
// kept, the error text with its time, bounded.
func mergeStatus(a, b hubstore.ChannelStatus) hubstore.ChannelStatus {
	a.Received += b.Received
	a.Answered += b.Answered
	a.Failed += b.Failed
	a.Duplicates += b.Duplicates
	a.Rejected += b.Rejected
	a.Votes += b.Votes
	if b.LastMessage.After(a.LastMessage) {
		a.LastMessage = b.LastMessage
	}
	if b.LastReply.After(a.LastReply) {
		a.LastReply = b.LastReply
	}
	if b.LastErrorAt.After(a.LastErrorAt) {
		a.LastErrorAt, a.LastError = b.LastErrorAt, channels.Clean(b.LastError, hubstore.MaxChannelError-len("…"))
	}
	return a
}

// Flush adds the changes gathered so far to the store. Changes it could
// not write are kept for the next flush.
func (s *statusSink) Flush(ctx context.Context) error {
	s.flushMu.Lock()
	defer s.flushMu.Unlock()
	s.mu.Lock()
	batch := s.pending
	s.pending = map[statusKey]hubstore.ChannelStatus{}
	s.mu.Unlock()
	var first error
	for k, d := range batch {
		if err := s.st.AddChannelStatus(ctx, k.ws, k.id, d); err != nil {
			if first == nil {
				first = err
			}
			s.mu.Lock()
			s.pending[k] = mergeStatus(d, s.pending[k])
			s.mu.Unlock()
		}
	}
	return first
}

func (s *statusSink) loop() {
	defer close(s.done)
	t := time.NewTicker(statusFlushEvery)
	defer t.Stop()
	for {
		select {
		case <-s.stop:
			return
		case <-t.C:
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			if err := s.Flush(ctx); err != nil {
				s.log.Warn("channel status not yet saved; retrying", "err", err)
			}
			cancel()
		}
	}
}

// Close stops the timer and writes what is left.
func (s *statusSink) Close() {
	s.once.Do(func() { close(s.stop) })
	<-s.done
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := s.Flush(ctx); err != nil {
		s.log.Warn("channel status changes lost at shutdown", "err", err)
	}
}

// sharedStatus returns the stored statuses of a workspace's channels,
// this replica's latest changes included.
func (hc *hubChannels) sharedStatus(ctx context.Context, ws string) (map[string]hubstore.ChannelStatus, error) {
	if err := hc.status.Flush(ctx); err != nil {
		return nil, err
	}
	return hc.h.st.ChannelStatuses(ctx, ws)
}

// withShared puts the replicas' shared figures in a channel's status in
// place of this replica's alone. A reason the channel does not run here
// (an error without a time) stays.
func withShared(s channels.Status, sh hubstore.ChannelStatus) channels.Status {
	s.Received, s.Answered, s.Failed = sh.Received, sh.Answered, sh.Failed
	s.Duplicates, s.Rejected, s.Votes = sh.Duplicates, sh.Rejected, sh.Votes
	s.LastMessage, s.LastReply = sh.LastMessage, sh.LastReply
	if s.LastError == "" || !s.LastErrorAt.IsZero() {
		s.LastError, s.LastErrorAt = sh.LastError, sh.LastErrorAt
	}
	return s
}
