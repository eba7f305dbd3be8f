// Package sqlstore implements hubstore.Storage once, in SQL that SQLite and
// PostgreSQL both run, so the embedded and the PostgreSQL engines share
// every code path; a Dialect carries the few differences (placeholders,
// row locks, the change notification).
package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"atoll/hubstore"
)

// Dialect is what differs between engines.
type Dialect struct {
	Name string
	// Dollar: placeholders are $1, $2 … (PostgreSQL) rather than ?.
	Dollar bool
	// ForUpdate is appended to a SELECT that read-modify-write depends
	// on. SQLite needs none: its write transactions take the database's
	// write lock at BEGIN (_txlock=immediate), so they run one at a time.
	ForUpdate string
	Blob      string
	Serial    string
	// BeforeChange runs in a transaction right before a change record is
	// inserted, AfterChange right after (PostgreSQL: a lock that makes
	// change numbers commit in order, and the NOTIFY).
	BeforeChange, AfterChange string
	// IsUnique tells a unique-constraint violation.
	IsUnique func(error) bool
	// Poll is how often Watch checks for changes it was not told about.
	Poll time.Duration
}

// Store is hubstore.Storage over a database/sql pool.
type Store struct {
	db *sql.DB
	d  *Dialect

	rebound sync.Map // query → query with the dialect's placeholders

	mu      sync.Mutex
	subs    map[*sub]struct{}
	polling bool
	wake    chan struct{}
	closed  chan struct{}
	done    chan struct{}
	onClose func() error
}

var _ hubstore.Storage = (*Store)(nil)

// New wraps an open database whose schema is migrated. onClose runs at
// Close before the pool closes (an engine's listener).
func New(db *sql.DB, d *Dialect, onClose func() error) *Store {
	return &Store{db: db, d: d, subs: map[*sub]struct{}{}, wake: make(chan struct{}, 1),
		closed: make(chan struct{}), done: make(chan struct{}), onClose: onClose}
}

// DB is the pool (for engine tests and benchmarks).
func (s *Store) DB() *sql.DB { return s.db }

// Wake makes Watch look for changes now (an engine's notification).
func (s *Store) Wake() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// Close stops the change feed and closes the pool.
func (s *Store) Close() error {
	s.mu.Lock()
	select {
	case <-s.closed:
		s.mu.Unlock()
		return nil
	default:
	}
	close(s.closed)
	polling := s.polling
	s.mu.Unlock()
	if polling {
		<-s.done
	}
	var err error
	if s.onClose != nil {
		err = s.onClose()
	}
	return errors.Join(err, s.db.Close())
}

func (s *Store) q(query string) string {
	if !s.d.Dollar {
		return query
	}
	if r, ok := s.rebound.Load(query); ok {
		return r.(string)
	}
	var b strings.Builder
	n := 0
	for i := 0; i < len(query); i++ {
		if query[i] == '?' {
			n++
			b.WriteByte('$')
			b.WriteString(strconv.Itoa(n))
			continue
		}
		b.WriteByte(query[i])
	}
	s.rebound.Store(query, b.String())
	return b.String()
}

// tx is one read-write transaction; fn's error rolls it back.
type tx struct {
	s  *Store
	tx *sql.Tx
	// changed: a change record was written, so Watch is woken after commit.
	changed bool
}

func (t *tx) exec(query string, args ...any) (sql.Result, error) {
	return t.tx.Exec(t.s.q(query), args...)
}
func (t *tx) query(query string, args ...any) (*sql.Rows, error) {
	return t.tx.Query(t.s.q(query), args...)
}
func (t *tx) row(query string, args ...any) *sql.Row { return t.tx.QueryRow(t.s.q(query), args...) }

func (s *Store) inTx(ctx context.Context, fn func(t *tx) error) error {
	sqlTx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("couldn't start a hub database transaction: %w", err)
	}
	t := &tx{s: s, tx: sqlTx}
	if err := fn(t); err != nil {
		_ = sqlTx.Rollback()
		return err
	}
	if err := sqlTx.Commit(); err != nil {
		return fmt.Errorf("couldn't save to the hub database: %w", err)
	}
	if t.changed {
		s.Wake()
	}
	return nil
}

func (s *Store) row(ctx context.Context, query string, args ...any) *sql.Row {
	return s.db.QueryRowContext(ctx, s.q(query), args...)
}

func (s *Store) query(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	return s.db.QueryContext(ctx, s.q(query), args...)
}

func ns(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixNano()
}

func tm(n int64) time.Time {
	if n == 0 {
		return time.Time{}
	}
	return time.Unix(0, n).UTC()
}

func now() time.Time { return time.Now().UTC() }

func notFound(what string, err error) error {
	if errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("%s: %w", what, hubstore.ErrNotFound)
	}
	return err
}

// change records a change in the transaction that makes it.
func (t *tx) change(c hubstore.Change) error {
	if t.s.d.BeforeChange != "" {
		if _, err := t.exec(t.s.d.BeforeChange); err != nil {
			return err
		}
	}
	if _, err := t.exec(`INSERT INTO changes (kind, workspace, agent, version, ref, at) VALUES (?, ?, ?, ?, ?, ?)`,
		string(c.Kind), c.Workspace, c.Agent, c.Version, c.ID, ns(now())); err != nil {
		return err
	}
	if t.s.d.AfterChange != "" {
		if _, err := t.exec(t.s.d.AfterChange); err != nil {
			return err
		}
	}
	t.changed = true
	return nil
}
