package postgres_test

import (
	"context"
	"testing"

	"atoll/hubstore"
	"atoll/hubstore/conformance"
	"atoll/hubstore/postgres"
	"atoll/internal/pgtest"
)

func TestConformance(t *testing.T) {
	pg := pgtest.Start(t, pgtest.Options{})
	conformance.RunTests(t, func(t *testing.T) conformance.Opener {
		dsn := pg.NewDatabase(t)
		return func() (hubstore.Storage, error) { return postgres.Open(context.Background(), dsn, postgres.Options{}) }
	})
}

// BenchmarkAnswerWrites: database time per answer (turn + usage + rate
// counter) on PostgreSQL over loopback, fsync on.
func BenchmarkAnswerWrites(b *testing.B) {
	pg := pgtest.Start(b, pgtest.Options{Durable: true})
	s, err := postgres.Open(context.Background(), pg.NewDatabase(b), postgres.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	conformance.BenchAnswerWrites(b, s)
}

// BenchmarkRecordAnswer: the same answer with turn and usage in one
// transaction (RecordAnswer) and the rate counter, fsync on.
func BenchmarkRecordAnswer(b *testing.B) {
	pg := pgtest.Start(b, pgtest.Options{Durable: true})
	s, err := postgres.Open(context.Background(), pg.NewDatabase(b), postgres.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	conformance.BenchRecordAnswer(b, s)
}
