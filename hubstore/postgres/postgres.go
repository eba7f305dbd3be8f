// Package postgres is the hub's storage engine for several replicas: all
// state in one PostgreSQL database through pgx (github.com/jackc/pgx/v5,
// used through its database/sql adapter so the SQL in
// hubstore/internal/sqlstore is the same as the embedded engine's), with a
// dedicated pgx connection that LISTENs for changes.
//
// Migrations run under a session advisory lock, so any number of replicas
// starting at once on an empty database migrate it exactly once. Changes
// (publish, rollback, unpublish, revocations) are rows written in the same
// transaction, followed by a NOTIFY; each replica reads new rows when
// notified and, as a fallback for a lost connection, every Poll.
package postgres

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/stdlib"

	"atoll/hubstore/internal/sqlstore"
)

// Channel is the NOTIFY channel replicas listen on.
const Channel = "atoll_hub_changes"

// Advisory lock keys (arbitrary constants, fixed forever: replicas of
// different builds must agree on them).
const (
	migrateLock = 0x61746f6c6c01 // "atoll" 01
	changeLock  = 0x61746f6c6c02
)

// Options tune the engine; the zero value is right for the hub.
type Options struct {
	MaxConns int           // pool size; default 10
	Poll     time.Duration // fallback check for changes; default 1s
	// NoListen turns LISTEN/NOTIFY off, leaving only the periodic check
	// (for tests of the fallback).
	NoListen bool
}

// Open connects to dsn (a postgres:// URL or key=value string), migrates
// the schema if needed and starts listening for changes.
func Open(ctx context.Context, dsn string, opt Options) (*sqlstore.Store, error) {
	if opt.MaxConns <= 0 {
		opt.MaxConns = 10
	}
	if opt.Poll <= 0 {
		opt.Poll = time.Second
	}
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		return nil, fmt.Errorf("the hub database address is not valid (%v): use postgres://user:password@host:5432/dbname", err)
	}
	db := stdlib.OpenDB(*cfg)
	db.SetMaxOpenConns(opt.MaxConns)
	db.SetMaxIdleConns(opt.MaxConns)
	d := &sqlstore.Dialect{
		Name: "postgres", Dollar: true, ForUpdate: " FOR UPDATE",
		Blob: "BYTEA", Serial: "BIGSERIAL PRIMARY KEY",
		// Change numbers come from a sequence, handed out before commit;
		// taking this lock until commit makes them commit in order, so a
		// reader that has seen number n never later finds a smaller one.
		BeforeChange: fmt.Sprintf("SELECT pg_advisory_xact_lock(%d)", int64(changeLock)),
		AfterChange:  fmt.Sprintf("SELECT pg_notify('%s', '')", Channel),
		IsUnique:     isUnique,
		Poll:         opt.Poll,
	}
	if err := migrate(ctx, db, d); err != nil {
		db.Close()
		return nil, err
	}
	lctx, stop := context.WithCancel(context.Background())
	done := make(chan struct{})
	var s *sqlstore.Store
	s = sqlstore.New(db, d, func() error {
		stop()
		<-done
		return nil
	})
	if opt.NoListen {
		close(done)
	} else {
		go listen(lctx, cfg, s, done)
	}
	return s, nil
}

func migrate(ctx context.Context, db *sql.DB, d *sqlstore.Dialect) error {
	conn, err := db.Conn(ctx)
	if err != nil {
		return fmt.Errorf("couldn't connect to the hub database: %w", err)
	}
	defer conn.Close()
	// A session lock, held across the migration's transaction: the other
	// replicas wait here, then find nothing left to do.
	if _, err := conn.ExecContext(ctx, "SELECT pg_advisory_lock($1)", int64(migrateLock)); err != nil {
		return fmt.Errorf("couldn't lock the hub database for migration: %w", err)
	}
	defer conn.ExecContext(context.Background(), "SELECT pg_advisory_unlock($1)", int64(migrateLock))
	tx, err := conn.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	if err := sqlstore.Migrate(ctx, tx, d); err != nil {
		_ = tx.Rollback()
		return err
	}
	return tx.Commit()
}

// listen keeps one connection LISTENing and wakes the store's change feed
// on every notification and after every reconnection (to catch up on
// what was missed while away).
func listen(ctx context.Context, cfg *pgx.ConnConfig, s *sqlstore.Store, done chan struct{}) {
	defer close(done)
	backoff := 100 * time.Millisecond
	for ctx.Err() == nil {
		conn, err := pgx.ConnectConfig(ctx, cfg)
		if err == nil {
			_, err = conn.Exec(ctx, "LISTEN "+Channel)
			if err == nil {
				backoff = 100 * time.Millisecond
				s.Wake()
				for {
					if _, err = conn.WaitForNotification(ctx); err != nil {
						break
					}
					s.Wake()
				}
			}
			closeCtx, cancel := context.WithTimeout(context.Background(), time.Second)
			_ = conn.Close(closeCtx)
			cancel()
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(backoff):
		}
		backoff = min(backoff*2, 5*time.Second)
	}
}

func isUnique(err error) bool {
	var e *pgconn.PgError
	return errors.As(err, &e) && e.Code == "23505"
}
