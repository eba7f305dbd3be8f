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
