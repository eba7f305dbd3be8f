package conformance

import (
	"bytes"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"atoll/hubstore"
)

// BenchAnswerWrites measures the database time of one answer as the hub
// writes it: the conversation turn appended (with its idempotency key),
// the usage counted for the workspace and the key, and the client's rate
// counter incremented. One op is one answer.
func BenchAnswerWrites(b *testing.B, s hubstore.Storage) {
	w, err := s.CreateWorkspace(bg, "bench")
	if err != nil {
		b.Fatal(err)
	}
	bundle := []byte("bench bundle")
	h := hashOf(bundle)
	if err := s.PutBundle(bg, w.ID, h, int64(len(bundle)), bytes.NewReader(bundle)); err != nil {
		b.Fatal(err)
	}
	if _, err := s.Publish(bg, w.ID, "bench", json.RawMessage(`{}`), h); err != nil {
		b.Fatal(err)
	}
	key, err := s.CreateKey(bg, w.ID, "bench", "k", "bench-key")
	if err != nil {
		b.Fatal(err)
	}
	meta := json.RawMessage(`{"citations":[{"n":1,"source":"menu.pdf","page":2,"text":"Open every day from 7 to 19."}],"followups":["Do you deliver?"]}`)
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		now := time.Now()
		conv := fmt.Sprintf("c%d", i/8) // conversations of eight turns
		if _, _, err := s.AppendTurn(bg, w.ID, "bench", conv, hubstore.Turn{Key: fmt.Sprintf("r%d", i),
			Question: "When are you open on Sunday?", Answer: "We are open every day from 7 to 19 [1].", Meta: meta, At: now}); err != nil {
			b.Fatal(err)
		}
		if err := s.AddUsage(bg, w.ID, key.ID, now, hubstore.Usage{Requests: 1, TokensIn: 812, TokensOut: 64}); err != nil {
			b.Fatal(err)
		}
		if _, _, err := s.Incr(bg, w.ID, fmt.Sprintf("ip:10.0.0.%d", i%200), now, time.Minute); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchRecordAnswer is BenchAnswerWrites with the turn and its usage in one
// transaction (RecordAnswer), as the hub writes them: two commits an answer.
func BenchRecordAnswer(b *testing.B, s hubstore.Storage) {
	w, err := s.CreateWorkspace(bg, "bench")
	if err != nil {
		b.Fatal(err)
	}
	bundle := []byte("bench bundle")
	h := hashOf(bundle)
	if err := s.PutBundle(bg, w.ID, h, int64(len(bundle)), bytes.NewReader(bundle)); err != nil {
		b.Fatal(err)
	}
	if _, err := s.Publish(bg, w.ID, "bench", json.RawMessage(`{}`), h); err != nil {
		b.Fatal(err)
	}
	key, err := s.CreateKey(bg, w.ID, "bench", "k", "bench-key")
	if err != nil {
		b.Fatal(err)
	}
	meta := json.RawMessage(`{"citations":[{"n":1,"source":"menu.pdf","page":2,"text":"Open every day from 7 to 19."}],"followups":["Do you deliver?"]}`)
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		now := time.Now()
		conv := fmt.Sprintf("c%d", i/8)
		if _, _, err := s.RecordAnswer(bg, w.ID, "bench", conv, hubstore.Turn{Key: fmt.Sprintf("r%d", i),
			Question: "When are you open on Sunday?", Answer: "We are open every day from 7 to 19 [1].", Meta: meta, At: now},
			key.ID, hubstore.Usage{Requests: 1, TokensIn: 812, TokensOut: 64}); err != nil {
			b.Fatal(err)
		}
		if _, _, err := s.Incr(bg, w.ID, fmt.Sprintf("ip:10.0.0.%d", i%200), now, time.Minute); err != nil {
			b.Fatal(err)
		}
	}
}
