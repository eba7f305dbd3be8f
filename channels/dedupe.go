package channels

import (
	"container/list"
	"context"
	"sync"
	"time"
)

// Deduper remembers which platform messages were already taken, so a
// platform's retry of a message yields no second answer. The hub can back it
// with its database; MemoryDeduper is the default.
type Deduper interface {
	// Claim records key and reports whether it was new. A key claimed
	// within ttl is not new.
	Claim(ctx context.Context, key string, ttl time.Duration) (bool, error)
	// Release forgets key, so the platform's next retry is taken (used when
	// a message could not be queued).
	Release(ctx context.Context, key string) error
}

// MemoryDeduper is a bounded, expiring Deduper: at most Max keys, the
// oldest dropped first.
type MemoryDeduper struct {
	mu   sync.Mutex
	max  int
	now  func() time.Time
	keys map[string]*list.Element
	ord  *list.List // front = oldest
}

type dedupeEntry struct {
	key     string
	expires time.Time
}

// NewMemoryDeduper keeps at most max keys (0: 100 000); now may be nil.
func NewMemoryDeduper(max int, now func() time.Time) *MemoryDeduper {
	if max <= 0 {
		max = 100_000
	}
	if now == nil {
		now = time.Now
	}
	return &MemoryDeduper{max: max, now: now, keys: map[string]*list.Element{}, ord: list.New()}
}

// Claim implements Deduper.
func (m *MemoryDeduper) Claim(_ context.Context, key string, ttl time.Duration) (bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	now := m.now()
	// Entries are appended in claim order with one ttl per store in
	// practice, so expired ones gather at the front.
	for e := m.ord.Front(); e != nil; e = m.ord.Front() {
		en := e.Value.(*dedupeEntry)
		if now.Before(en.expires) {
			break
		}
		m.ord.Remove(e)
		delete(m.keys, en.key)
	}
	if e, ok := m.keys[key]; ok {
		if now.Before(e.Value.(*dedupeEntry).expires) {
			return false, nil
		}
		m.ord.Remove(e)
		delete(m.keys, key)
	}
	for m.ord.Len() >= m.max {
		e := m.ord.Front()
		m.ord.Remove(e)
		delete(m.keys, e.Value.(*dedupeEntry).key)
	}
	m.keys[key] = m.ord.PushBack(&dedupeEntry{key: key, expires: now.Add(ttl)})
	return true, nil
}

// Release implements Deduper.
func (m *MemoryDeduper) Release(_ context.Context, key string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if e, ok := m.keys[key]; ok {
		m.ord.Remove(e)
		delete(m.keys, key)
	}
	return nil
}

// Len is the number of keys held.
func (m *MemoryDeduper) Len() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.ord.Len()
}
