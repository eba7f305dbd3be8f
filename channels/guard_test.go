package channels

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// TestTenantClientRefusesPrivateAtDial: a tenant's channel cannot reach a
// loopback service through a name that resolves to it (here "localhost",
// as a platform's host could after DNS rebinding), nor an IPv4-mapped
// literal; the refusal is not retried. The listed base's own host is
// reached, and the operator's channels reach anything.
func TestTenantClientRefusesPrivateAtDial(t *testing.T) {
	var hits atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		w.Write([]byte(`{"ok":true}`))
	}))
	defer srv.Close()
	port := srv.URL[strings.LastIndexByte(srv.URL, ':')+1:]
	byName := "http://localhost:" + port
	base := &http.Client{Timeout: 10 * time.Second}
	ctx := context.Background()

	tenant, err := Client(base, Config{Kind: Telegram, Tenant: true}, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, u := range []string{byName + "/bot1/getMe", "http://[::ffff:127.0.0.1]:" + port + "/x", srv.URL + "/x"} {
		err := CallJSON(ctx, tenant, "GET", u, nil, nil, nil)
		var blocked *BlockedAddressError
		if !errors.As(err, &blocked) || IsRetryable(err) || !strings.Contains(err.Error(), "may not reach") {
			t.Errorf("%s from a tenant's channel: %v", u, err)
		}
	}
	if hits.Load() != 0 {
		t.Fatalf("a tenant's channel reached loopback %d times", hits.Load())
	}

	if _, err := Client(base, Config{Kind: Telegram, Tenant: true, APIBase: byName}, []string{srv.URL}); err == nil {
		t.Fatal("a tenant's api_base not on the list was accepted")
	}
	allowed, err := Client(base, Config{Kind: Telegram, Tenant: true, APIBase: byName}, []string{byName})
	if err != nil {
		t.Fatal(err)
	}
	if err := CallJSON(ctx, allowed, "GET", byName+"/x", nil, nil, nil); err != nil {
		t.Fatalf("the listed base: %v", err)
	}
	if err := CallJSON(ctx, allowed, "GET", srv.URL+"/x", nil, nil, nil); err == nil {
		t.Fatal("the listed base's exception let another name of the host through")
	}
	operator, err := Client(base, Config{Kind: Telegram, APIBase: byName}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := CallJSON(ctx, operator, "GET", byName+"/x", nil, nil, nil); err != nil {
		t.Fatalf("the operator's channel: %v", err)
	}
	if hits.Load() != 2 {
		t.Fatalf("%d requests arrived, want 2", hits.Load())
	}
}

func TestAllowedBase(t *testing.T) {
	list := []string{"http://127.0.0.1:8081", "https://proxy.corp.example/telegram/"}
	for base, want := range map[string]bool{
		"http://127.0.0.1:8081":                           true,
		"http://127.0.0.1:8081/":                          true,
		"http://127.0.0.1:8081/sub":                       true,
		"http://127.0.0.1:8082":                           false,
		"https://127.0.0.1:8081":                          false,
		"http://127.0.0.1":                                false,
		"http://localhost:8081":                           false,
		"https://proxy.corp.example/telegram":             true,
		"https://user:pw@PROXY.corp.example:443/telegram": true,
		"https://proxy.corp.example/telegramx":            false,
		"https://proxy.corp.example/telegram/../admin":    false,
		"https://proxy.corp.example/":                     false,
		"https://proxy.corp.example/telegram?x=1":         false,
		"https://proxy.corp.example.evil/telegram":        false,
		"ftp://127.0.0.1:8081":                            false,
		"":                                                false,
	} {
		if got := AllowedBase(list, Telegram, base); got != want {
			t.Errorf("AllowedBase(%q) = %v, want %v", base, got, want)
		}
	}
	if !AllowedBase(nil, Feishu, "https://open.larksuite.com") || AllowedBase(nil, Telegram, "https://open.larksuite.com") {
		t.Error("Lark is Feishu's own origin, and only Feishu's")
	}
	for _, bad := range []string{"127.0.0.1:8081", "http://", "http://u:p@h", "http://h/?q", "file:///etc"} {
		if _, err := CheckBase(bad); err == nil {
			t.Errorf("CheckBase(%q) accepted it", bad)
		}
	}
	if got, err := CheckBase("http://127.0.0.1:8081/"); err != nil || got != "http://127.0.0.1:8081" {
		t.Errorf("CheckBase: %q %v", got, err)
	}
}

// TestStoredOrigin: the operator's channels are recorded as such; a row
// that does not say (from before it was recorded) is a tenant's.
func TestStoredOrigin(t *testing.T) {
	s, err := NewSealer(make([]byte, 32))
	if err != nil {
		t.Fatal(err)
	}
	cfg := Config{ID: "c1", Kind: "test", Agent: "a", Settings: map[string]string{"secret": "s"}}
	for _, tenant := range []bool{false, true} {
		cfg.Tenant = tenant
		st, err := Seal(cfg, s)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := json.Marshal(st)
		var back Stored
		json.Unmarshal(b, &back)
		got, err := back.Open(s)
		if err != nil || got.Tenant != tenant {
			t.Errorf("tenant %v came back as %v (%v): %s", tenant, got.Tenant, err, b)
		}
	}
	var old Stored
	json.Unmarshal([]byte(`{"id":"c2","kind":"test","agent":"a","api_base":"http://127.0.0.1:1"}`), &old)
	if got, err := old.Open(s); err != nil || !got.Tenant {
		t.Errorf("a row without an origin opened as the operator's: %+v %v", got, err)
	}
}

func TestShortCleansPlatformText(t *testing.T) {
	for in, want := range map[string]string{
		"<!DOCTYPE html><html><body>x</body></html>":    "(an HTML page)",
		"  <HTML>\n<head></head></HTML>":                "(an HTML page)",
		"Bad\x1b[31m Request:\r\n chat\u202e not found": "Bad [31m Request: chat not found",
		"ok \xff text": "ok text",
	} {
		if got := short([]byte(in)); got != want {
			t.Errorf("short(%q) = %q, want %q", in, got, want)
		}
	}
	long := short([]byte(strings.Repeat("é", 1000)))
	if len(long) > maxEcho+len("…") || !strings.HasSuffix(long, "…") || !strings.HasPrefix(long, "éé") {
		t.Errorf("long text: %d bytes %q", len(long), long[:10])
	}
}
