package knowledge

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

// testSite is a local web site for sync tests: pages with navigation and
// footers around an article, ETags honoured with 304s, and a log of every
// request.
type testSite struct {
	*httptest.Server
	mu    sync.Mutex
	files map[string]siteFile // path -> content
	log   []siteRequest
}

type siteFile struct {
	body        []byte
	contentType string
	redirect    string // a 302 to this URL
}

type siteRequest struct {
	Path, UserAgent string
	Conditional     bool
	At              time.Time
}

func newTestSite(t testing.TB) *testSite {
	s := &testSite{files: map[string]siteFile{}}
	s.Server = httptest.NewServer(http.HandlerFunc(s.serve))
	t.Cleanup(s.Close)
	return s
}

func (s *testSite) serve(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	s.log = append(s.log, siteRequest{Path: r.URL.RequestURI(), UserAgent: r.UserAgent(), At: time.Now(),
		Conditional: r.Header.Get("If-None-Match") != "" || r.Header.Get("If-Modified-Since") != ""})
	f, ok := s.files[r.URL.RequestURI()]
	s.mu.Unlock()
	switch {
	case !ok:
		http.NotFound(w, r)
		return
	case f.redirect != "":
		http.Redirect(w, r, f.redirect, http.StatusFound)
		return
	}
	sum := sha256.Sum256(f.body)
	etag := `"` + hex.EncodeToString(sum[:8]) + `"`
	w.Header().Set("ETag", etag)
	if r.Header.Get("If-None-Match") == etag {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	w.Header().Set("Content-Type", f.contentType)
	w.Write(f.body)
}

func (s *testSite) set(path, contentType string, body []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.files[path] = siteFile{body: body, contentType: contentType}
}

func (s *testSite) page(path, title, article string, links ...string) {
	var nav strings.Builder
	for _, l := range links {
		fmt.Fprintf(&nav, `<li><a href="%s">Menu item %s</a></li>`, l, l)
	}
	body := fmt.Sprintf(`<!DOCTYPE html><html><head><title>%s</title></head><body>
<header><nav><ul>%s</ul></nav></header>
<main><article><h1>%s</h1>%s</article></main>
<footer><p>Footer boilerplate: copyright and cookie notice</p></footer></body></html>`, title, nav.String(), title, article)
	s.set(path, "text/html; charset=utf-8", []byte(body))
}

func (s *testSite) redirect(path, to string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.files[path] = siteFile{redirect: to}
}

func (s *testSite) remove(path string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.files, path)
}

// take returns the requests logged since the last take.
func (s *testSite) take() []siteRequest {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := s.log
	s.log = nil
	return out
}

func gz(b []byte) []byte {
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	zw.Write(b)
	zw.Close()
	return buf.Bytes()
}

func urlset(base string, paths ...string) []byte {
	var sb strings.Builder
	sb.WriteString(`<?xml version="1.0" encoding="UTF-8"?><urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">`)
	for _, p := range paths {
		fmt.Fprintf(&sb, "<url><loc>%s%s</loc></url>", base, p)
	}
	sb.WriteString("</urlset>")
	return []byte(sb.String())
}

// article is a paragraph long enough for readability to take it for the
// page's content.
func article(topic string) string {
	return fmt.Sprintf(`<h2>About %[1]s</h2><p>This section explains %[1]s in detail. Our bakery has offered %[1]s since 1998, and customers often ask how %[1]s works, what it costs and when it is available. We answer every one of those questions here, in plain words, with the prices that apply this year and the notice we need before an order.</p><p>Orders for %[1]s are taken in the shop or by phone. Large orders need three days of notice; small ones can be picked up the next morning. Payment is by card or cash.</p>`, topic)
}

// batchCounter counts the texts embedded for storage (EmbedBatched), not
// queries.
type batchCounter struct {
	hashEmbedder
	mu    sync.Mutex
	texts int
}

func (c *batchCounter) EmbedBatched(ctx context.Context, model string, texts []string, batch, conc int, progress func(int)) ([][]float32, error) {
	c.mu.Lock()
	c.texts += len(texts)
	c.mu.Unlock()
	return c.hashEmbedder.EmbedBatched(ctx, model, texts, batch, conc, progress)
}

func (c *batchCounter) take() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := c.texts
	c.texts = 0
	return n
}
