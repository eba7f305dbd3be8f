package hub

import (
	"net/http"
	"testing"
)

// TestPublisherNotLimitedLikeThePublic: the window's Publish, Review and
// Analytics screens make a burst of admin calls with the publisher token
// (agents, access, keys, usage, channels per agent…). They are not counted
// against the per-address limit meant for anonymous visitors, so a
// publisher clicking around is not told "too many requests"; requests
// without a valid token still are, and the anonymous routes keep their
// limit. (Seen failing in the two-process review e2e: a 429 on the
// analytics call after publishing twice from the window.)
func TestPublisherNotLimitedLikeThePublic(t *testing.T) {
	th := newTestHub(t, 20, nil) // burst 10, then 20 a minute
	get := func(path, tok string) int {
		t.Helper()
		req, _ := http.NewRequest("GET", th.srv.URL+path, nil)
		if tok != "" {
			req.Header.Set("Authorization", "Bearer "+tok)
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		return res.StatusCode
	}
	for i := range 40 {
		if code := get("/api/agents/baker/keys", th.tok); code != 200 {
			t.Fatalf("admin call %d with a valid token: %d, want 200", i+1, code)
		}
	}
	// The public budget of this address is untouched by them.
	codes := map[int]int{}
	for range 15 {
		codes[get("/api/agents", "")]++
	}
	if codes[200] != 10 || codes[429] != 5 {
		t.Fatalf("anonymous requests after the publisher's: %v, want 10×200 then 5×429", codes)
	}
	// A wrong token is an anonymous request: refused once the address's
	// budget is spent; the publisher, at the same address, still gets in.
	if code := get("/api/agents/baker/keys", "atl_wrong"); code != http.StatusTooManyRequests {
		t.Fatalf("a wrong token from an address over its limit: %d, want 429", code)
	}
	if code := get("/api/agents/baker/keys", th.tok); code != 200 {
		t.Fatalf("the publisher at an address whose anonymous budget is spent: %d, want 200", code)
	}
}

// TestWrongTokensLimited: guessing tokens costs the address its public
// budget: 401 while it lasts, then 429.
func TestWrongTokensLimited(t *testing.T) {
	th := newTestHub(t, 20, nil)
	codes := map[int]int{}
	for range 15 {
		req, _ := http.NewRequest("GET", th.srv.URL+"/api/agents/baker/keys", nil)
		req.Header.Set("Authorization", "Bearer atl_guess")
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		codes[res.StatusCode]++
	}
	if codes[401] != 10 || codes[429] != 5 {
		t.Fatalf("wrong tokens: %v, want 10×401 then 5×429", codes)
	}
}

// TestPublisherTokenHasItsOwnLimit: a valid token is limited too, per
// token and more generously (ten times the public rate), so a leaked or
// runaway script cannot flood the admin API.
func TestPublisherTokenHasItsOwnLimit(t *testing.T) {
	th := newTestHub(t, 2, nil) // public: burst 10, 2 a minute
	rate, burst := adminLimits(2)
	codes := map[int]int{}
	for range burst + 3 {
		req, _ := http.NewRequest("GET", th.srv.URL+"/api/agents/baker/keys", nil)
		req.Header.Set("Authorization", "Bearer "+th.tok)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		codes[res.StatusCode]++
	}
	if rate != 20 || codes[200] != burst || codes[429] != 3 {
		t.Fatalf("publisher token at public rate 2: rate %d, %v; want %d×200 then 3×429", rate, codes, burst)
	}
}
