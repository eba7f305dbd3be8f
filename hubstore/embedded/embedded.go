// Package embedded is the hub's default storage engine: one SQLite file
// (hub.db) in the hub's folder, through modernc.org/sqlite, which needs no
// cgo. It runs the same SQL as the PostgreSQL engine (package
// hubstore/internal/sqlstore), so one machine and many replicas take the
// same code paths.
//
// Why SQLite rather than the JSON and JSONL files the hub kept before:
// every write the hub needs is a small read-modify-write that must be
// atomic and isolated (a turn acknowledged once, a lead merged once, a
// rate counter shared with a CLI process revoking a token), and SQLite
// gives transactions, unique keys and cross-process locking that the files
// would need hand-written again, with a rename per write. In WAL mode a
// process killed with kill -9 loses no committed transaction.
package embedded

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"time"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"atoll/hubstore/internal/sqlstore"
)

// File is the database's name in the hub's folder.
const File = "hub.db"

// Options tune an embedded store; the zero value is right for the hub.
type Options struct {
	// Poll is how often Watch looks for changes made by other processes
	// on the same file (this process's own changes wake it at once).
	Poll time.Duration
}

// Open opens (creating and migrating when needed) the store in dir.
func Open(ctx context.Context, dir string, opt Options) (*sqlstore.Store, error) {
	if opt.Poll <= 0 {
		opt.Poll = 250 * time.Millisecond
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("couldn't create the hub folder %s: %w", dir, err)
	}
	path := filepath.Join(dir, File)
	q := url.Values{}
	// busy_timeout: another process (a CLI command beside the running hub)
	// holding the write lock makes us wait, not fail. synchronous=NORMAL
	// in WAL mode: a process crash loses nothing committed; only a power
	// loss may lose the last transactions.
	for _, p := range []string{"busy_timeout(15000)", "journal_mode(WAL)", "foreign_keys(1)", "synchronous(NORMAL)"} {
		q.Add("_pragma", p)
	}
	// Write transactions take the write lock at BEGIN, so read-modify-write
	// in one transaction never loses an update and never deadlocks.
	q.Set("_txlock", "immediate")
	db, err := sql.Open("sqlite", "file:"+path+"?"+q.Encode())
	if err != nil {
		return nil, err
	}
	d := &sqlstore.Dialect{Name: "sqlite", Blob: "BLOB", Serial: "INTEGER PRIMARY KEY AUTOINCREMENT", IsUnique: isUnique, Poll: opt.Poll}
	if err := migrate(ctx, db, d); err != nil {
		db.Close()
		return nil, fmt.Errorf("couldn't open the hub database %s: %w", path, err)
	}
	return sqlstore.New(db, d, nil), nil
}

func migrate(ctx context.Context, db *sql.DB, d *sqlstore.Dialect) error {
	tx, err := db.BeginTx(ctx, nil) // immediate: one process migrates, the others wait
	if err != nil {
		return err
	}
	if err := sqlstore.Migrate(ctx, tx, d); err != nil {
		_ = tx.Rollback()
		return err
	}
	return tx.Commit()
}

func isUnique(err error) bool {
	var e *sqlite.Error
	if !errors.As(err, &e) {
		return false
	}
	return e.Code() == sqlite3.SQLITE_CONSTRAINT_UNIQUE || e.Code() == sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY
}
