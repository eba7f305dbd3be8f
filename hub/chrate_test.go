package hub

import (
	"net/http"
	"strings"
	"testing"
)

// A messaging platform delivers every customer's message from a handful of
// its own addresses: the per-address limit for browsers and API clients
// must not refuse them (each callback is checked by its signature, deduped
// and queued by the channel dispatcher instead). Other routes stay limited.
func TestChannelCallbacksAreNotRateLimitedPerAddress(t *testing.T) {
	th := newTestHub(t, 2, nil)
	for i := 0; i < 25; i++ { // beyond the burst of 10
		res, err := http.Post(th.srv.URL+"/ch/ch_unknown", "application/json", strings.NewReader(`{}`))
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode == http.StatusTooManyRequests {
			t.Fatalf("channel callback %d from one address was rate-limited", i+1)
		}
	}
	limited := false
	for i := 0; i < 25 && !limited; i++ {
		res, err := http.Get(th.srv.URL + "/a/nobody")
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		limited = res.StatusCode == http.StatusTooManyRequests
	}
	if !limited {
		t.Fatal("the public pages are no longer rate-limited per address")
	}
}
