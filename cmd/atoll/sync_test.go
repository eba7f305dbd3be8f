package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
)

// ingest URL, kb sources, sync and --remove on a local site: the second
// sync is all 304s, and removing the source removes its pages.
func TestIngestURLSyncAndSources(t *testing.T) {
	var mu sync.Mutex
	var log []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		log = append(log, fmt.Sprintf("%s %v", r.URL.Path, r.Header.Get("If-None-Match") != ""))
		mu.Unlock()
		if r.URL.Path != "/" {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("ETag", `"v1"`)
		if r.Header.Get("If-None-Match") == `"v1"` {
			w.WriteHeader(http.StatusNotModified)
			return
		}
		w.Header().Set("Content-Type", "text/html")
		fmt.Fprint(w, `<html><head><title>Bakery</title></head><body><h1>Bakery</h1><h2>Prices</h2><p>A 20 cm chocolate cake costs 38 euros. Birthday cakes need two days of notice, and we deliver within the city on Saturdays.</p></body></html>`)
	}))
	defer srv.Close()
	data := t.TempDir()
	base := []string{"--data", data, "--ollama", "http://127.0.0.1:9"}
	r := atoll(t, append(base, "ingest", "--kb", "site", "--delay", "1ms", srv.URL+"/")...)
	if r.code != 0 || !strings.Contains(r.stderr, "1 new or changed") {
		t.Fatalf("ingest: exit %d\n%s", r.code, r.stderr)
	}
	r = atoll(t, append(base, "search", "--kb", "site", "--json", "chocolate cake")...)
	if r.code != 0 || !strings.Contains(r.stdout, srv.URL+"/") || !strings.Contains(r.stdout, "Prices") {
		t.Fatalf("search: %d %s %s", r.code, r.stdout, r.stderr)
	}
	mu.Lock()
	log = nil
	mu.Unlock()
	r = atoll(t, append(base, "sync", "--delay", "1ms")...)
	if r.code != 0 || !strings.Contains(r.stderr, "0 new or changed, 1 unchanged") {
		t.Fatalf("sync: exit %d\n%s", r.code, r.stderr)
	}
	mu.Lock()
	for _, l := range log {
		if strings.HasSuffix(l, "false") && !strings.HasPrefix(l, "/robots.txt") {
			t.Errorf("sync made an unconditional request: %s", l)
		}
	}
	mu.Unlock()
	r = atoll(t, append(base, "kb", "sources", "site", "--json")...)
	var rows []struct {
		ID, Kind  string
		Docs      int
		NotMod    int `json:"notModified"`
		Unchanged int
	}
	if err := json.Unmarshal([]byte(r.stdout), &rows); err != nil || len(rows) != 1 || rows[0].Kind != "page" || rows[0].Docs != 1 || rows[0].Unchanged != 1 {
		t.Fatalf("kb sources: %v %s", err, r.stdout)
	}
	r = atoll(t, append(base, "kb", "sources", "site", "--remove", srv.URL+"/")...)
	if r.code != 0 {
		t.Fatalf("remove: %d %s", r.code, r.stderr)
	}
	r = atoll(t, append(base, "kb", "docs", "site", "--json")...)
	if strings.Contains(r.stdout, srv.URL) {
		t.Fatalf("the source's page is still there: %s", r.stdout)
	}
}
