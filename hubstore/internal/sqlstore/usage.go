package sqlstore

import (
	"context"
	"fmt"
	"time"

	"atoll/hubstore"
)

func (s *Store) AddUsage(ctx context.Context, ws, key string, at time.Time, u hubstore.Usage) error {
	return s.inTx(ctx, func(t *tx) error { return t.addUsage(ws, key, at, u) })
}

func (t *tx) addUsage(ws, key string, at time.Time, u hubstore.Usage) error {
	day := hubstore.Day(at)
	if err := t.row(`SELECT id FROM workspaces WHERE id = ?`, ws).Scan(new(string)); err != nil {
		return notFound(fmt.Sprintf("workspace %q", ws), err)
	}
	targets := []string{""}
	if key != "" {
		if err := t.row(`SELECT id FROM api_keys WHERE id = ? AND workspace = ?`, key, ws).Scan(new(string)); err != nil {
			return notFound(fmt.Sprintf("API key %q", key), err)
		}
		targets = append(targets, key)
	}
	for _, k := range targets {
		if _, err := t.exec(`INSERT INTO usage (workspace, day, api_key, requests, tokens_in, tokens_out, errors) VALUES (?, ?, ?, ?, ?, ?, ?)
			ON CONFLICT (workspace, day, api_key) DO UPDATE SET
			requests = usage.requests + excluded.requests, tokens_in = usage.tokens_in + excluded.tokens_in,
			tokens_out = usage.tokens_out + excluded.tokens_out, errors = usage.errors + excluded.errors`,
			ws, day, k, u.Requests, u.TokensIn, u.TokensOut, u.Errors); err != nil {
			return err
		}
	}
	return nil
}

func (s *Store) Usage(ctx context.Context, ws string, from, to time.Time) ([]hubstore.UsageRow, error) {
	rows, err := s.query(ctx, `SELECT day, api_key, requests, tokens_in, tokens_out, errors FROM usage
		WHERE workspace = ? AND day >= ? AND day <= ? ORDER BY day, api_key`, ws, hubstore.Day(from), hubstore.Day(to))
	if err != nil {
		return nil, err
	}
	return collect(rows, func(sc interface{ Scan(...any) error }) (hubstore.UsageRow, error) {
		var r hubstore.UsageRow
		err := sc.Scan(&r.Day, &r.Key, &r.Requests, &r.TokensIn, &r.TokensOut, &r.Errors)
		return r, err
	})
}

func (s *Store) Incr(ctx context.Context, ws, key string, at time.Time, window time.Duration) (int64, time.Time, error) {
	if window <= 0 {
		return 0, time.Time{}, fmt.Errorf("a rate window must be longer than zero")
	}
	w := int64(window)
	start := at.UnixNano() / w * w
	if at.UnixNano() < 0 {
		start -= w
	}
	ends := time.Unix(0, start+w).UTC()
	var n int64
	// One statement: the engine's upsert is atomic, so replicas counting
	// at once lose nothing.
	err := s.row(ctx, `INSERT INTO counters (workspace, name, win, bucket, count, expires) VALUES (?, ?, ?, ?, 1, ?)
		ON CONFLICT (workspace, name, win, bucket) DO UPDATE SET count = counters.count + 1 RETURNING count`,
		ws, key, w, start, start+w).Scan(&n)
	if err != nil {
		return 0, time.Time{}, fmt.Errorf("couldn't count a request in the hub database: %w", err)
	}
	return n, ends, nil
}

// changesKept is how long change records stay for replicas to catch up.
const changesKept = time.Hour

func (s *Store) AcquireLease(ctx context.Context, ws, name string, max int, at time.Time, ttl time.Duration) (string, error) {
	if max <= 0 || ttl <= 0 {
		return "", fmt.Errorf("a lease needs a positive limit and duration")
	}
	id := hubstore.NewID()
	err := s.inTx(ctx, func(t *tx) error {
		// The workspace's row lock makes count-then-insert exact across
		// replicas (SQLite's write lock does the same for processes).
		if err := t.row(`SELECT id FROM workspaces WHERE id = ?`+s.d.ForUpdate, ws).Scan(new(string)); err != nil {
			return notFound(fmt.Sprintf("workspace %q", ws), err)
		}
		now := at.UnixNano()
		if _, err := t.exec(`DELETE FROM leases WHERE workspace = ? AND name = ? AND expires <= ?`, ws, name, now); err != nil {
			return err
		}
		var n int
		if err := t.row(`SELECT COUNT(*) FROM leases WHERE workspace = ? AND name = ?`, ws, name).Scan(&n); err != nil {
			return err
		}
		if n >= max {
			return fmt.Errorf("all %d of %q are held: %w", max, name, hubstore.ErrConflict)
		}
		_, err := t.exec(`INSERT INTO leases (workspace, name, id, expires) VALUES (?, ?, ?, ?)`, ws, name, id, at.Add(ttl).UnixNano())
		return err
	})
	if err != nil {
		return "", err
	}
	return id, nil
}

func (s *Store) RenewLease(ctx context.Context, ws, id string, at time.Time, ttl time.Duration) error {
	res, err := s.db.ExecContext(ctx, s.q(`UPDATE leases SET expires = ? WHERE workspace = ? AND id = ? AND expires > ?`), at.Add(ttl).UnixNano(), ws, id, at.UnixNano())
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("lease %q has expired: %w", id, hubstore.ErrNotFound)
	}
	return nil
}

func (s *Store) ReleaseLease(ctx context.Context, ws, id string) error {
	_, err := s.db.ExecContext(ctx, s.q(`DELETE FROM leases WHERE workspace = ? AND id = ?`), ws, id)
	return err
}

// bundleGrace is how long a bundle may wait for its Publish: the hub puts
// a bundle and publishes it at once, so one still unpublished after this
// was left by a publish cut short.
const bundleGrace = time.Hour

func (s *Store) Sweep(ctx context.Context, at time.Time) error {
	if _, err := s.db.ExecContext(ctx, s.q(`DELETE FROM counters WHERE expires < ?`), at.UnixNano()); err != nil {
		return err
	}
	if _, err := s.db.ExecContext(ctx, s.q(`DELETE FROM leases WHERE expires <= ?`), at.UnixNano()); err != nil {
		return err
	}
	if _, err := s.db.ExecContext(ctx, s.q(`DELETE FROM channel_messages WHERE expires <= ?`), at.UnixNano()); err != nil {
		return err
	}
	// Bundles no version uses, older than the grace: chunks first, so a
	// bundle row never points at missing chunks.
	old := at.Add(-bundleGrace).UnixNano()
	if err := s.inTx(ctx, func(t *tx) error {
		if _, err := t.exec(`DELETE FROM bundle_chunks WHERE EXISTS (SELECT 1 FROM bundles b WHERE b.workspace = bundle_chunks.workspace AND b.hash = bundle_chunks.hash AND b.created < ?
			AND NOT EXISTS (SELECT 1 FROM versions v WHERE v.workspace = b.workspace AND v.bundle = b.hash))`, old); err != nil {
			return err
		}
		_, err := t.exec(`DELETE FROM bundles WHERE created < ? AND NOT EXISTS (SELECT 1 FROM versions v WHERE v.workspace = bundles.workspace AND v.bundle = bundles.hash)`, old)
		return err
	}); err != nil {
		return err
	}
	_, err := s.db.ExecContext(ctx, s.q(`DELETE FROM changes WHERE at < ?`), at.Add(-changesKept).UnixNano())
	return err
}
