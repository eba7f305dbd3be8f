package store

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/gofrs/flock"
)

// One writer at a time per knowledge base, across processes: every change
// (a document stored or removed, vectors added, the model switched, a torn
// tail repaired, the log compacted, the snapshot written, the knowledge base
// created or deleted) runs under an OS file lock on DATA/kb/<name>.lock,
// held only for that change. Before writing, the holder catches up with
// what other processes appended (refresh), so each record lands at the true
// end of the log and none is cut off as a "torn tail". Readers take no lock:
// they stop at the first incomplete record and never modify a file.
//
// The lock file sits beside the knowledge base's folder, not in it, so
// deleting (renaming) the folder never moves a lock someone holds.

// LockWait is how long a writer waits for another process before giving up.
const LockWait = 2 * time.Minute

// kbLock is one knowledge base's writer lock: mu orders this process's
// goroutines (an OS lock is not re-entrant), fl the processes.
type kbLock struct {
	mu   sync.Mutex
	fl   *flock.Flock
	name string
	s    *Store
}

func (s *Store) lockFor(name string) *kbLock {
	s.cfg.Lock()
	defer s.cfg.Unlock()
	if l, ok := s.locks[name]; ok {
		return l
	}
	l := &kbLock{fl: flock.New(filepath.Join(s.dir, "kb", name+".lock"), flock.SetPermissions(0o600)), name: name, s: s}
	s.locks[name] = l
	return l
}

// SetLockHolder names this process in the message another process shows
// while it waits ("the Atoll window", "atoll ingest").
func (s *Store) SetLockHolder(who string) {
	s.cfg.Lock()
	s.holder = who
	s.cfg.Unlock()
}

// OnLockWait is told, once per wait, a sentence saying which process this
// one waits for. The command line prints it; the window shows it.
func (s *Store) OnLockWait(fn func(msg string)) {
	s.cfg.Lock()
	s.onWait = fn
	s.cfg.Unlock()
}

// SetLockWait sets how long a write waits for another process (LockWait
// unless set).
func (s *Store) SetLockWait(d time.Duration) {
	s.cfg.Lock()
	s.lockWait = d
	s.cfg.Unlock()
}

// acquire takes the lock, waiting for another process at most s.lockWait.
// Writers take turns record by record, so a wait is usually a moment; one
// that lasts longer than quietWait is said, once.
func (l *kbLock) acquire() (release func(), err error) {
	l.mu.Lock()
	s := l.s
	s.cfg.Lock()
	onWait, wait, who := s.onWait, s.lockWait, s.holder
	s.cfg.Unlock()
	ok, err := l.wait(min(quietWait, wait))
	if err == nil && !ok && wait > quietWait {
		holder := l.holder()
		if onWait != nil {
			onWait(fmt.Sprintf("waiting for %s to finish writing to %s…", holder, l.name))
		}
		ok, err = l.wait(wait - quietWait)
	}
	if err == nil && !ok {
		l.mu.Unlock()
		return nil, fmt.Errorf("%s has been writing to knowledge base %q for over %s: try again when it has finished", l.holder(), l.name, wait.Round(time.Second))
	}
	if err != nil {
		l.mu.Unlock()
		return nil, fmt.Errorf("couldn't lock knowledge base %q for writing: %w", l.name, err)
	}
	if who == "" {
		who = "another Atoll process"
	}
	l.note(fmt.Sprintf("%s (pid %d)", who, os.Getpid()))
	return func() {
		_ = l.fl.Unlock()
		l.mu.Unlock()
	}, nil
}

// quietWait is how long a writer waits before saying so.
const quietWait = time.Second

func (l *kbLock) wait(d time.Duration) (bool, error) {
	if ok, err := l.fl.TryLock(); ok || err != nil {
		return ok, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	ok, err := l.fl.TryLockContext(ctx, 10*time.Millisecond)
	if errors.Is(err, context.DeadlineExceeded) {
		err = nil
	}
	return ok, err
}

// tryAcquire takes the lock only if it is free at once (for work that can
// be skipped: repairs and snapshots another writer will do).
func (l *kbLock) tryAcquire() (release func(), ok bool) {
	if !l.mu.TryLock() {
		return nil, false
	}
	got, err := l.fl.TryLock()
	if err != nil || !got {
		l.mu.Unlock()
		return nil, false
	}
	return func() {
		_ = l.fl.Unlock()
		l.mu.Unlock()
	}, true
}

// note records who holds the lock, for the message a waiting process shows
// (best effort). It overwrites a fixed-size record in place: truncating
// and rewriting a file makes ext4 flush it on close, which cost 2.4 ms a
// turn where the lock itself costs 0.05 ms.
func (l *kbLock) note(who string) {
	f, err := os.OpenFile(l.fl.Path()+".holder", os.O_WRONLY|os.O_CREATE, 0o600)
	if err != nil {
		return
	}
	defer f.Close()
	b := []byte(who)
	if len(b) > noteSize {
		b = b[:noteSize]
	}
	b = append(b, strings.Repeat(" ", noteSize-len(b))...)
	_, _ = f.WriteAt(b, 0)
}

const noteSize = 160

func (l *kbLock) holder() string {
	b, err := os.ReadFile(l.fl.Path() + ".holder")
	who := strings.TrimSpace(string(b))
	if err != nil || who == "" || len(b) > noteSize || !utf8.ValidString(who) {
		return "another Atoll process"
	}
	return who
}
