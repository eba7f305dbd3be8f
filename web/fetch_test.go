package web

import (
	"errors"
	"testing"
)

// The dialler's rule, after name resolution: an address that is not public
// is reached only when that very address and port (or localhost with that
// port) was typed, so a typed public name resolving to the local network,
// or a redirect there, connects nowhere.
func TestCheckAddress(t *testing.T) {
	f := &Fetcher{}
	for _, u := range []string{"http://127.0.0.1:8080/", "http://localhost:3000/", "https://example.com/"} {
		if _, err := f.Name(u); err != nil {
			t.Fatal(err)
		}
	}
	for addr, ok := range map[string]bool{
		"127.0.0.1:8080":      true,  // typed
		"127.0.0.1:8081":      false, // another port of a typed address
		"127.0.0.1:3000":      true,  // localhost:3000 was typed
		"[::1]:3000":          true,
		"10.0.0.7:443":        false, // example.com resolving to the LAN
		"192.168.1.1:80":      false,
		"169.254.169.254:80":  false, // cloud metadata
		"100.64.0.1:80":       false, // carrier-grade NAT
		"[fd00::1]:443":       false,
		"93.184.216.34:443":   true, // public
		"[2606:4700::1]:443":  true,
		"[::ffff:10.0.0.1]:1": false,
	} {
		err := f.checkAddress("tcp", addr, nil)
		if (err == nil) != ok || (err != nil && !errors.Is(err, errPrivate)) {
			t.Errorf("%s: %v, want allowed=%v", addr, err, ok)
		}
	}
}
