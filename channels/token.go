package channels

import (
	"context"
	"sync"
	"time"
)

// TokenCache holds one platform access token (WeChat, WeCom, Feishu):
// fetched on first use, reused, and fetched again before it expires or
// when the platform says it is no longer valid.
type TokenCache struct {
	// Fetch gets a new token and how long the platform says it lives.
	Fetch func(ctx context.Context) (token string, ttl time.Duration, err error)
	Now   func() time.Time

	mu      sync.Mutex
	token   string
	expires time.Time // as the platform said
	refresh time.Time // when it is replaced
	fetches int
}

// margin is how long before expiry a token is replaced: a token that
// expires while a send is in flight costs the platform's error and a retry.
func margin(ttl time.Duration) time.Duration {
	return min(5*time.Minute, ttl/5)
}

// Get returns a valid token, fetching one if needed. Concurrent callers
// share one fetch.
func (t *TokenCache) Get(ctx context.Context) (string, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	now := t.now()
	if t.token != "" && now.Before(t.refresh) {
		return t.token, nil
	}
	tok, ttl, err := t.Fetch(ctx)
	if err != nil {
		return "", err
	}
	if ttl <= 0 {
		ttl = time.Hour
	}
	t.fetches++
	t.token, t.expires, t.refresh = tok, now.Add(ttl), now.Add(ttl-margin(ttl))
	return tok, nil
}

// Invalidate drops tok if it is still the cached one (the platform
// rejected it); the next Get fetches a new one.
func (t *TokenCache) Invalidate(tok string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.token == tok {
		t.token = ""
	}
}

// Expiry is when the cached token expires (zero: none yet); it is
// replaced a little before.
func (t *TokenCache) Expiry() time.Time {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.token == "" {
		return time.Time{}
	}
	return t.expires
}

// Fetches counts successful fetches.
func (t *TokenCache) Fetches() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.fetches
}

func (t *TokenCache) now() time.Time {
	if t.Now != nil {
		return t.Now()
	}
	return time.Now()
}

// WithToken runs call with a token, and once more with a fresh token if
// call reports (with expired) that the platform rejected it.
func (t *TokenCache) WithToken(ctx context.Context, call func(token string) (expired bool, err error)) error {
	for attempt := 0; ; attempt++ {
		tok, err := t.Get(ctx)
		if err != nil {
			return err
		}
		expired, err := call(tok)
		if !expired || attempt == 1 {
			return err
		}
		t.Invalidate(tok)
	}
}
