package hub

import (
	"sync"
	"time"
)

// limiter is a token bucket per client IP: burst requests at once, then
// perMinute a minute.
type limiter struct {
	mu        sync.Mutex
	perMinute float64
	burst     float64
	buckets   map[string]*bucket
}

type bucket struct {
	tokens float64
	last   time.Time
}

func newLimiter(perMinute, burst int) *limiter {
	return &limiter{perMinute: float64(perMinute), burst: float64(burst), buckets: map[string]*bucket{}}
}

// adminLimits is the per-token limit of the admin API for a public rate of
// rate a minute per address: ten times it, with a burst that covers the
// window opening its Publish screen on a workspace of many agents.
func adminLimits(rate int) (perMinute, burst int) {
	if rate <= 0 {
		return 0, 0
	}
	return 10 * rate, max(100, 5*rate)
}

func (l *limiter) allow(ip string, now time.Time) bool {
	if l.perMinute <= 0 {
		return true
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.buckets) > 50000 { // forget idle clients rather than grow without bound
		for k, b := range l.buckets {
			if now.Sub(b.last) > 10*time.Minute {
				delete(l.buckets, k)
			}
		}
	}
	b, ok := l.buckets[ip]
	if !ok {
		b = &bucket{tokens: l.burst, last: now}
		l.buckets[ip] = b
	}
	b.tokens = min(l.burst, b.tokens+now.Sub(b.last).Minutes()*l.perMinute)
	b.last = now
	if b.tokens < 1 {
		return false
	}
	b.tokens--
	return true
}
