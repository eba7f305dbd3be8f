package app

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
	"time"

	"atoll/internal/ollamafake"
)

func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(30 * time.Millisecond)
	}
}

// The window's sources: a website added as a job, listed with its counts;
// a folder added, kept in sync (a new file shows up without another add),
// and removed with its documents.
func TestSourcesFromTheWindow(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/" {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "text/html")
		fmt.Fprint(w, `<html><head><title>Shop</title></head><body><h1>Shop</h1><h2>Delivery</h2><p>We deliver cakes within five kilometres on Saturdays, free above fifty euros, and otherwise for five euros.</p></body></html>`)
	}))
	defer srv.Close()
	fake := ollamafake.New(t)
	a, err := New(Config{DataDir: t.TempDir(), OllamaURL: fake.URL}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	if _, err := a.AddWebsite("shop", "file:///etc/passwd", 0, 0, ""); err == nil {
		t.Fatal("a file: address was accepted as a website")
	}
	if _, err := a.AddWebsite("shop", srv.URL+"/", 0, 0, "daily"); err != nil {
		t.Fatal(err)
	}
	var web SourceInfo
	waitUntil(t, "the website source", func() bool {
		list, _ := a.ListSources("shop")
		for _, s := range list {
			if s.Kind == "page" && s.Docs == 1 {
				web = s
				return true
			}
		}
		return false
	})
	if web.Schedule != "daily" || web.NextSync == nil || web.LastSync == nil || web.NextSync.Sub(*web.LastSync) != 24*time.Hour {
		t.Fatalf("website source %+v", web)
	}

	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "a.md"), []byte("# Hours\n\nOpen at eight.\n"), 0o644)
	if _, err := a.Ingest("shop", []string{dir}); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, "the folder source", func() bool {
		list, _ := a.ListSources("shop")
		return len(list) == 2
	})
	if err := a.SetSourceWatch("shop", dir, true); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(dir, "b.md"), []byte("# Cakes\n\nChocolate, 38 euros.\n"), 0o644)
	waitUntil(t, "the watched folder's new file", func() bool {
		docs, _ := a.ListDocuments("shop")
		return len(docs) == 3
	})
	os.WriteFile(filepath.Join(dir, "c.md"), []byte("# Delivery\n\nSaturdays only.\n"), 0o644)
	waitUntil(t, "a file written while the folder is watched", func() bool {
		docs, _ := a.ListDocuments("shop")
		return len(docs) == 4
	})
	n, err := a.RemoveSource("shop", dir)
	if err != nil || n != 3 {
		t.Fatalf("removed %d, %v", n, err)
	}
	docs, _ := a.ListDocuments("shop")
	if len(docs) != 1 {
		t.Fatalf("left %d documents, want the web page only", len(docs))
	}
}
