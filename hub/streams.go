package hub

import "sync"

// streamCounter counts the answers running on this replica per workspace,
// for /readyz and the shutdown log. (The MaxStreams quota is counted
// across replicas, with leases in the store.)
type streamCounter struct {
	mu   sync.Mutex
	byWS map[string]int
	all  int
}

func newStreamCounter() *streamCounter { return &streamCounter{byWS: map[string]int{}} }

// acquire takes a slot unless the workspace holds max already (0: no limit).
func (s *streamCounter) acquire(ws string, max int) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if max > 0 && s.byWS[ws] >= max {
		return false
	}
	s.byWS[ws]++
	s.all++
	return true
}

func (s *streamCounter) release(ws string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.all--
	if s.byWS[ws]--; s.byWS[ws] <= 0 {
		delete(s.byWS, ws)
	}
}

func (s *streamCounter) total() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.all
}
