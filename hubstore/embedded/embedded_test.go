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

// BenchmarkAnswerWrites: database time per answer (turn + usage + rate
// counter) on the embedded engine, on this machine's disk.
func BenchmarkAnswerWrites(b *testing.B) {
	s, err := embedded.Open(context.Background(), b.TempDir(), embedded.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	conformance.BenchAnswerWrites(b, s)
}

// BenchmarkRecordAnswer: the same answer with turn and usage in one
// transaction (RecordAnswer) and the rate counter.
func BenchmarkRecordAnswer(b *testing.B) {
	s, err := embedded.Open(context.Background(), b.TempDir(), embedded.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	conformance.BenchRecordAnswer(b, s)
}
