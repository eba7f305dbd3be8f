package hub

import (
	"net/http"
	"testing"
	"time"
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
	// One a minute after a burst of 10: nothing refills while the test runs,
	// however busy the machine.
	th := newTestHub(t, 1, nil)
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
	th := newTestHub(t, 1, nil) // burst 10, then one a minute
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
	th := newTestHub(t, 1, nil) // public: burst 10, one a minute
	rate, burst := adminLimits(1)
	if rate != 10 || burst != 100 {
		t.Fatalf("publisher limit at public rate 1: %d a minute after %d, want 10 after 100", rate, burst)
	}
	// Calls until the first 429: the burst, plus what refilled meanwhile
	// (one every 6 s), so a slow machine does not fail a correct limit.
	start := time.Now()
	ok := 0
	for ; ok <= burst+50; ok++ {
		req, _ := http.NewRequest("GET", th.srv.URL+"/api/agents/baker/keys", nil)
		req.Header.Set("Authorization", "Bearer "+th.tok)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode == http.StatusTooManyRequests {
			break
		}
		if res.StatusCode != 200 {
			t.Fatalf("call %d: %d", ok+1, res.StatusCode)
		}
	}
	refilled := int(time.Since(start).Minutes() * float64(rate))
	if ok < burst || ok > burst+refilled+1 {
		t.Fatalf("a publisher token got %d calls before a 429 in %v; want its burst of %d (+%d refilled)", ok, time.Since(start), burst, refilled)
	}
}
