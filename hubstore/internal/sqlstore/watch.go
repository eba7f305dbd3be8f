package sqlstore

import (
	"context"
	"time"

	"atoll/hubstore"
)

// The change feed reads the changes table, which every change writes in
// its own transaction: a notification only says "look now", so a lost one
// (a listener reconnecting, another process on an SQLite file) costs at
// most one poll interval, never a change.

type sub struct {
	ctx  context.Context
	ch   chan hubstore.Change
	from int64
}

func (s *Store) Watch(ctx context.Context) <-chan hubstore.Change {
	ch := make(chan hubstore.Change, 64)
	var from int64
	if err := s.row(ctx, `SELECT COALESCE(MAX(seq), 0) FROM changes`).Scan(&from); err != nil {
		close(ch)
		return ch
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	select {
	case <-s.closed:
		close(ch)
		return ch
	default:
	}
	s.subs[&sub{ctx: ctx, ch: ch, from: from}] = struct{}{}
	if !s.polling {
		s.polling = true
		go s.poll(from)
	}
	go func() {
		select {
		case <-ctx.Done():
			s.Wake() // the poller closes the channel
		case <-s.closed:
		}
	}()
	return ch
}

func (s *Store) poll(last int64) {
	defer close(s.done)
	tick := time.NewTicker(s.d.Poll)
	defer tick.Stop()
	for {
		select {
		case <-s.closed:
			s.mu.Lock()
			for sb := range s.subs {
				close(sb.ch)
				delete(s.subs, sb)
			}
			s.mu.Unlock()
			return
		case <-s.wake:
		case <-tick.C:
		}
		s.dropGone()
		last = s.deliver(last)
	}
}

func (s *Store) dropGone() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for sb := range s.subs {
		if sb.ctx.Err() != nil {
			close(sb.ch)
			delete(s.subs, sb)
		}
	}
}

// deliver sends the changes after last to every subscriber that had not
// seen them, and returns the newest sequence number read.
func (s *Store) deliver(last int64) int64 {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	go func() {
		select {
		case <-s.closed:
			cancel()
		case <-ctx.Done():
		}
	}()
	for {
		rows, err := s.query(ctx, `SELECT seq, kind, workspace, agent, version, ref, at FROM changes WHERE seq > ? ORDER BY seq LIMIT 500`, last)
		if err != nil {
			return last
		}
		var batch []hubstore.Change
		for rows.Next() {
			var c hubstore.Change
			var kind string
			var version, at int64
			if err := rows.Scan(&c.Seq, &kind, &c.Workspace, &c.Agent, &version, &c.ID, &at); err != nil {
				break
			}
			c.Kind, c.Version, c.At = hubstore.ChangeKind(kind), int(version), tm(at)
			batch = append(batch, c)
		}
		rows.Close()
		s.mu.Lock()
		subs := make([]*sub, 0, len(s.subs))
		for sb := range s.subs {
			subs = append(subs, sb)
		}
		s.mu.Unlock()
		for _, c := range batch {
			for _, sb := range subs {
				if c.Seq <= sb.from {
					continue
				}
				select {
				case sb.ch <- c:
				case <-sb.ctx.Done():
				case <-s.closed:
					return last
				}
			}
			last = c.Seq
		}
		if len(batch) < 500 {
			return last
		}
	}
}
