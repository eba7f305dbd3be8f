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

// bundleGrace is how long a bundle may wait for its Publish: the hub puts
// a bundle and publishes it at once, so one still unpublished after this
// was left by a publish cut short.
const bundleGrace = time.Hour

func (s *Store) Sweep(ctx context.Context, at time.Time) error {
	if _, err := s.db.ExecContext(ctx, s.q(`DELETE FROM counters WHERE expires < ?`), at.UnixNano()); err != nil {
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
