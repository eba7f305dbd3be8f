package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"time"
)

// Execer is a connection or transaction that migrations run on.
type Execer interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

// Migrate applies the migrations db lacks. The caller makes it exclusive
// (PostgreSQL: an advisory lock on this connection; SQLite: an immediate
// transaction), so several instances starting at once migrate once.
func Migrate(ctx context.Context, db Execer, d *Dialect) error {
	rebind := (&Store{d: d}).q
	if _, err := db.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (version BIGINT PRIMARY KEY, applied BIGINT NOT NULL)`); err != nil {
		return fmt.Errorf("couldn't create the hub database's migration table: %w", err)
	}
	var have int
	if err := db.QueryRowContext(ctx, `SELECT COALESCE(MAX(version), 0) FROM schema_migrations`).Scan(&have); err != nil {
		return err
	}
	all := schema(d)
	if have > Latest() {
		return fmt.Errorf("the hub database has schema version %d but this atoll knows only up to %d: upgrade atoll", have, Latest())
	}
	for v := have + 1; v <= Latest(); v++ {
		for _, stmt := range all[v] {
			if _, err := db.ExecContext(ctx, stmt); err != nil {
				return fmt.Errorf("hub database migration %d failed: %w", v, err)
			}
		}
		if _, err := db.ExecContext(ctx, rebind(`INSERT INTO schema_migrations (version, applied) VALUES (?, ?)`), v, time.Now().UnixNano()); err != nil {
			return fmt.Errorf("hub database migration %d failed: %w", v, err)
		}
	}
	return nil
}

// AppliedMigrations lists the schema versions recorded, in order (the
// conformance suite checks each is there once).
func (s *Store) AppliedMigrations(ctx context.Context) ([]int, error) {
	rows, err := s.query(ctx, `SELECT version FROM schema_migrations ORDER BY version`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []int
	for rows.Next() {
		var v int
		if err := rows.Scan(&v); err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, rows.Err()
}

// LatestMigration is the newest schema version this build knows.
func (s *Store) LatestMigration() int { return Latest() }
