package postgres_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"testing"
	"time"

	"atoll/hubstore"
	"atoll/hubstore/postgres"
	"atoll/internal/pgtest"
)

func publishAndWait(t *testing.T, pub hubstore.Storage, feed <-chan hubstore.Change, ws, hash, agent string, within time.Duration) {
	t.Helper()
	start := time.Now()
	if _, err := pub.Publish(context.Background(), ws, agent, json.RawMessage(`{}`), hash); err != nil {
		t.Fatal(err)
	}
	deadline := time.After(within)
	for {
		select {
		case c := <-feed:
			if c.Kind == hubstore.ChangePublished && c.Agent == agent {
				t.Logf("%s seen after %v", agent, time.Since(start))
				return
			}
		case <-deadline:
			t.Fatalf("the publication of %s was not seen within %v", agent, within)
		}
	}
}

func setup(t *testing.T, s hubstore.Storage) (ws, hash string) {
	t.Helper()
	ctx := context.Background()
	w, err := s.CreateWorkspace(ctx, "w")
	if err != nil {
		t.Fatal(err)
	}
	b := []byte("bundle")
	h := sha256.Sum256(b)
	hash = hex.EncodeToString(h[:])
	if err := s.PutBundle(ctx, w.ID, hash, int64(len(b)), bytes.NewReader(b)); err != nil {
		t.Fatal(err)
	}
	return w.ID, hash
}

// Without notifications (a replica whose listening connection is down),
// the periodic check still brings every change.
func TestFeedFallsBackToPolling(t *testing.T) {
	pg := pgtest.Start(t, pgtest.Options{})
	dsn := pg.NewDatabase(t)
	ctx := context.Background()
	a, err := postgres.Open(ctx, dsn, postgres.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	b, err := postgres.Open(ctx, dsn, postgres.Options{NoListen: true, Poll: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	ws, hash := setup(t, a)
	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	publishAndWait(t, a, b.Watch(wctx), ws, hash, "polled", time.Second)
}

// A listening connection that the server drops is opened again, and
// notifications flow again, with no periodic check to hide a failure.
func TestFeedListenerReconnects(t *testing.T) {
	pg := pgtest.Start(t, pgtest.Options{})
	dsn := pg.NewDatabase(t)
	ctx := context.Background()
	a, err := postgres.Open(ctx, dsn, postgres.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	b, err := postgres.Open(ctx, dsn, postgres.Options{Poll: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	ws, hash := setup(t, a)
	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	feed := b.Watch(wctx)
	publishAndWait(t, a, feed, ws, hash, "before", time.Second)
	// Drop every listening connection (a's and b's).
	res, err := a.DB().ExecContext(ctx, `SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE query LIKE 'LISTEN %' AND pid <> pg_backend_pid()`)
	if err != nil {
		t.Fatal(err)
	}
	if n, _ := res.RowsAffected(); n < 1 {
		t.Fatalf("terminated %d listening connections", n)
	}
	// Reconnection is retried with backoff; give it a generous deadline,
	// then a publication must arrive by notification alone.
	deadline := time.Now().Add(30 * time.Second)
	for {
		var n int
		if err := a.DB().QueryRowContext(ctx, `SELECT COUNT(*) FROM pg_stat_activity WHERE query LIKE 'LISTEN %'`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n >= 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("only %d listeners came back", n)
		}
		time.Sleep(20 * time.Millisecond)
	}
	publishAndWait(t, a, feed, ws, hash, "after", time.Second)
}
