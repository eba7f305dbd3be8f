package embedded_test

import (
	"context"
	"testing"

	"atoll/hubstore"
	"atoll/hubstore/conformance"
	"atoll/hubstore/embedded"
)

func TestConformance(t *testing.T) {
	conformance.RunTests(t, func(t *testing.T) conformance.Opener {
		dir := t.TempDir()
		return func() (hubstore.Storage, error) { return embedded.Open(context.Background(), dir, embedded.Options{}) }
	})
}
