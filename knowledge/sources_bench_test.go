package knowledge

import (
	"context"
	"fmt"
	"testing"

	"atoll/store"
)

// BenchmarkResyncUnchanged200 re-syncs a 200-page site (a sitemap on a
// local server) where nothing changed: every request is conditional and
// answered 304, nothing is extracted or embedded. The politeness delay is
// off here to measure Atoll's own cost; with the default 1 s delay a
// re-sync of 200 pages takes 200 s of waiting, whatever this measures.
func BenchmarkResyncUnchanged200(b *testing.B) {
	site := newTestSite(b)
	var paths []string
	for i := range 200 {
		p := fmt.Sprintf("/page-%03d", i)
		site.page(p, fmt.Sprintf("Page %d", i), article(fmt.Sprintf("topic %d", i)))
		paths = append(paths, p)
	}
	site.set("/robots.txt", "text/plain", []byte("User-agent: *\nAllow: /\n"))
	site.set("/sitemap.xml", "application/xml", urlset(site.URL, paths...))
	st, err := store.Open(b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	in := New(st, hashEmbedder{})
	f := testFetcher()
	f.Delay = -1
	res, err := in.SyncWeb(context.Background(), "kb", "emb", site.URL+"/sitemap.xml", WebOptions{}, f, nil)
	if err != nil || res.OK != 200 {
		b.Fatalf("first sync: %d stored, %v %v", res.OK, err, res.Errors)
	}
	requests := 0
	b.ResetTimer()
	for b.Loop() {
		f := testFetcher()
		f.Delay = -1
		res, err := in.SyncWeb(context.Background(), "kb", "emb", site.URL+"/sitemap.xml", WebOptions{}, f, nil)
		if err != nil || res.OK != 0 || res.NotModified != 201 {
			b.Fatalf("re-sync: %d changed, %d not modified, %v", res.OK, res.NotModified, err)
		}
		requests = res.Requests
	}
	b.ReportMetric(float64(requests), "requests/sync")
}
