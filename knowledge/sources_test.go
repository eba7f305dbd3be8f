package knowledge

import (
	"context"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"atoll/store"
	"atoll/web"
)

func testFetcher() *web.Fetcher {
	return &web.Fetcher{UserAgent: web.UserAgent("test"), Delay: time.Millisecond, Timeout: 20 * time.Second}
}

func docPaths(t *testing.T, st *store.Store, kb string) []string {
	t.Helper()
	k, err := st.KB(kb)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, d := range k.Docs() {
		if d.Status == store.StatusOK {
			out = append(out, d.Path)
		}
	}
	sort.Strings(out)
	return out
}

func equal(a, b []string) bool {
	return strings.Join(a, "\n") == strings.Join(b, "\n")
}

// A sitemap index pointing to a gzipped sitemap: exactly the allowed pages
// are stored (robots.txt's disallowed path never requested, a 404 left out,
// a redirect followed on the same site); a refresh with nothing changed
// makes only conditional requests, all answered 304, and embeds nothing; a
// changed page is replaced and a vanished one removed.
func TestSyncSitemapRefreshChangeAndVanish(t *testing.T) {
	site := newTestSite(t)
	base := site.URL
	site.set("/robots.txt", "text/plain", []byte("User-agent: *\nDisallow: /private/\n"))
	site.set("/sitemap_index.xml", "application/xml", []byte(`<?xml version="1.0"?><sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9"><sitemap><loc>`+base+`/sitemap-pages.xml.gz</loc></sitemap></sitemapindex>`))
	other := newTestSite(t)
	pages := string(urlset(base, "/", "/cakes", "/hours", "/private/staff", "/old-faq", "/missing", "/seasonal"))
	pages = strings.Replace(pages, "</urlset>", "<url><loc>"+other.URL+"/elsewhere</loc></url></urlset>", 1)
	site.set("/sitemap-pages.xml.gz", "application/gzip", gz([]byte(pages)))
	site.page("/", "Home", article("our shop"))
	site.page("/cakes", "Cakes", article("chocolate cakes"))
	site.page("/hours", "Opening hours", article("opening hours"))
	site.page("/private/staff", "Staff", article("staff rota"))
	site.redirect("/old-faq", "/faq")
	site.page("/faq", "FAQ", article("frequent questions"))
	site.page("/seasonal", "Seasonal", article("pumpkin pies"))

	st, err := store.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	emb := &batchCounter{}
	in := New(st, emb)
	ctx := context.Background()
	res, err := in.SyncWeb(ctx, "kb", "emb", base+"/sitemap_index.xml", WebOptions{}, testFetcher(), nil)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{base + "/", base + "/cakes", base + "/hours", base + "/old-faq", base + "/seasonal"}
	if got := docPaths(t, st, "kb"); !equal(got, want) {
		t.Fatalf("stored %v, want %v (errors %v)", got, want, res.Errors)
	}
	if res.Source.Kind != SourceSitemap || res.OK != 5 {
		t.Fatalf("kind %q, %d stored; want sitemap, 5", res.Source.Kind, res.OK)
	}
	if len(res.Errors) != 1 || !strings.Contains(res.Errors[0].Reason, "lists 1 page on "+strings.TrimPrefix(other.URL, "http://")+", a site you did not name") {
		t.Fatalf("a page on another site listed by the sitemap: %+v", res.Errors)
	}
	if n := len(other.take()); n != 0 {
		t.Fatalf("the sitemap's page on another site was requested (%d requests)", n)
	}
	first := site.take()
	for _, r := range first {
		if strings.HasPrefix(r.Path, "/private/") {
			t.Fatalf("robots.txt disallows %s, and it was requested", r.Path)
		}
		if !strings.HasPrefix(r.UserAgent, "Atoll/test (+") {
			t.Fatalf("User-Agent %q", r.UserAgent)
		}
	}
	if emb.take() == 0 {
		t.Fatal("nothing was embedded")
	}
	// The readable part only: the article, not the menu or the footer.
	kb, _ := st.KB("kb")
	d, _ := kb.Doc(base + "/cakes")
	for _, c := range d.Chunks {
		if strings.Contains(c.Text, "Menu item") || strings.Contains(c.Text, "Footer boilerplate") {
			t.Fatalf("navigation or footer stored: %q", c.Text)
		}
	}
	hits, err := (&Searcher{Store: st}).Search(ctx, []string{"kb"}, "chocolate cakes", 1, nil)
	if err != nil || len(hits) == 0 {
		t.Fatalf("%v %v", hits, err)
	}
	if hits[0].Source != base+"/cakes" || len(hits[0].Headings) == 0 || hits[0].Headings[len(hits[0].Headings)-1] != "About chocolate cakes" {
		t.Fatalf("top hit cites %s %q", hits[0].Source, hits[0].Headings)
	}

	// Nothing changed: every request conditional, every answer a 304.
	res, err = in.SyncWeb(ctx, "kb", "emb", base+"/sitemap_index.xml", WebOptions{}, testFetcher(), nil)
	if err != nil {
		t.Fatal(err)
	}
	again := site.take()
	for _, r := range again {
		if !r.Conditional && r.Path != "/missing" {
			t.Errorf("refresh made an unconditional request for %s", r.Path)
		}
		if strings.HasPrefix(r.Path, "/private/") {
			t.Errorf("refresh requested %s", r.Path)
		}
	}
	if res.OK != 0 || res.Removed != 0 || res.Skipped != 5 || res.NotModified != 5+2 {
		t.Fatalf("refresh: %d changed, %d removed, %d unchanged, %d not modified; want 0, 0, 5, 7 (5 pages, 2 sitemaps)", res.OK, res.Removed, res.Skipped, res.NotModified)
	}
	if n := emb.take(); n != 0 {
		t.Fatalf("a refresh with nothing changed embedded %d texts", n)
	}

	// A changed page is replaced; a vanished page is removed.
	site.page("/cakes", "Cakes", article("lemon tarts"))
	site.remove("/seasonal")
	res, err = in.SyncWeb(ctx, "kb", "emb", base+"/sitemap_index.xml", WebOptions{}, testFetcher(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if res.OK != 1 || res.Removed != 1 {
		t.Fatalf("%d changed, %d removed; want 1, 1 (%v)", res.OK, res.Removed, res.Errors)
	}
	if got := docPaths(t, st, "kb"); equal(got, want) || len(got) != 4 {
		t.Fatalf("after the change: %v", got)
	}
	if n := emb.take(); n == 0 || n > 4 {
		t.Fatalf("the changed page embedded %d texts, want its few new passages", n)
	}
	hits, _ = (&Searcher{Store: st}).Search(ctx, []string{"kb"}, "lemon tarts", 1, nil)
	if len(hits) == 0 || hits[0].Source != base+"/cakes" {
		t.Fatalf("the new text is not found: %v", hits)
	}
	hits, _ = (&Searcher{Store: st}).Search(ctx, []string{"kb"}, "chocolate", 3, nil)
	if len(hits) != 0 {
		t.Fatalf("the old text is still found: %v", hits[0].Text)
	}
	srcs, err := Sources(st, "kb")
	if err != nil || len(srcs) != 1 || srcs[0].Docs != 4 || srcs[0].LastSync.IsZero() || srcs[0].Kind != SourceSitemap {
		t.Fatalf("sources %+v %v", srcs, err)
	}
}

// A crawl follows links on the same site only, to the depth asked, stops
// at the page limit, skips what robots.txt disallows, and never reaches
// another site (nor another port of the same loopback address).
func TestCrawlStaysOnTheNamedSite(t *testing.T) {
	site, other := newTestSite(t), newTestSite(t)
	other.page("/", "Elsewhere", article("another site"))
	site.set("/robots.txt", "text/plain", []byte("User-agent: Atoll\nDisallow: /admin\n"))
	site.page("/", "Home", article("home"), "/a", "/admin/panel", other.URL+"/", "mailto:x@y.z")
	site.page("/a", "A", article("page a"), "/", "/b")
	site.page("/b", "B", article("page b"), "/c")
	site.page("/c", "C", article("page c"))
	site.page("/admin/panel", "Admin", article("admin"))
	site.redirect("/jump", other.URL+"/")

	st, _ := store.Open(t.TempDir())
	defer st.Close()
	in := New(st, nil)
	f := testFetcher()
	f.Delay = 20 * time.Millisecond
	res, err := in.SyncWeb(context.Background(), "kb", "", site.URL+"/", WebOptions{Depth: 2}, f, nil)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{site.URL + "/", site.URL + "/a", site.URL + "/b"}
	if got := docPaths(t, st, "kb"); !equal(got, want) {
		t.Fatalf("crawl stored %v, want %v (%v)", got, want, res.Errors)
	}
	log := site.take()
	for i, r := range log {
		if strings.HasPrefix(r.Path, "/admin") || r.Path == "/c" {
			t.Fatalf("requested %s", r.Path)
		}
		if i > 0 && r.At.Sub(log[i-1].At) < f.Delay {
			t.Fatalf("two requests %v apart, under the %v delay", r.At.Sub(log[i-1].At), f.Delay)
		}
	}
	if n := len(other.take()); n != 0 {
		t.Fatalf("the crawl reached another site (%d requests)", n)
	}

	// The page limit.
	st2, _ := store.Open(t.TempDir())
	defer st2.Close()
	if _, err := New(st2, nil).SyncWeb(context.Background(), "kb", "", site.URL+"/", WebOptions{Depth: 5, MaxPages: 2}, testFetcher(), nil); err != nil {
		t.Fatal(err)
	}
	if got := docPaths(t, st2, "kb"); len(got) != 2 {
		t.Fatalf("--max-pages 2 stored %v", got)
	}

	// A redirect to another port of the typed loopback address is refused
	// before a byte reaches it.
	res, err = New(st2, nil).SyncWeb(context.Background(), "kb2", "", site.URL+"/jump", WebOptions{}, testFetcher(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Errors) != 1 || !strings.Contains(res.Errors[0].Reason, "a site you did not name") {
		t.Fatalf("redirect to %s: %+v", other.URL, res.Errors)
	}
	if n := len(other.take()); n != 0 {
		t.Fatalf("the redirect reached the other port (%d requests)", n)
	}
}

// Private and loopback addresses are dialled only when typed; a content
// type Atoll does not read is refused with a sentence.
func TestFetcherAddressesAndTypes(t *testing.T) {
	site := newTestSite(t)
	site.set("/logo.png", "image/png", []byte("\x89PNG..."))
	f := testFetcher()
	u, err := f.Name(site.URL + "/logo.png")
	if err != nil {
		t.Fatal(err)
	}
	_, err = f.Get(context.Background(), u.String(), web.Validators{})
	if err == nil || !strings.Contains(err.Error(), "is image (image/png), not a page or document Atoll reads") {
		t.Fatalf("an image: %v", err)
	}
	// Another loopback port, not typed: refused by the dialler too, even
	// if a redirect check were bypassed.
	other := newTestSite(t)
	ou, _ := url.Parse(other.URL)
	if f.Allowed(ou) {
		t.Fatalf("%s allowed without being typed", other.URL)
	}
	_, err = f.Get(context.Background(), other.URL+"/", web.Validators{})
	if err == nil || !strings.Contains(err.Error(), "did not name") {
		t.Fatalf("an untyped loopback port: %v", err)
	}
	if _, err := f.Name("ftp://example.com/x"); err == nil {
		t.Fatal("ftp accepted")
	}
}

// Folder and file sources are recorded by an ingest, counted from the
// knowledge base, scheduled, and removing one removes its documents only.
func TestFolderSourcesCountedAndRemoved(t *testing.T) {
	docs := makeDocs(t, 3)
	other := t.TempDir()
	one := filepath.Join(other, "one.md")
	if err := os.WriteFile(one, []byte("# One\n\nA single file named on its own.\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	st, _ := store.Open(t.TempDir())
	defer st.Close()
	in := New(st, nil)
	sum, err := in.Run(context.Background(), "j", "kb", "", []string{docs, one}, nil)
	if err != nil || sum.OK != 4 {
		t.Fatalf("%+v %v", sum, err)
	}
	if err := RecordPaths(st, "kb", []string{docs, one}, sum); err != nil {
		t.Fatal(err)
	}
	srcs, err := Sources(st, "kb")
	if err != nil || len(srcs) != 2 {
		t.Fatalf("%+v %v", srcs, err)
	}
	byKind := map[string]Source{}
	for _, s := range srcs {
		byKind[s.Kind] = s
	}
	if byKind[SourceFolder].Docs != 3 || byKind[SourceFile].Docs != 1 || byKind[SourceFolder].LastSync.IsZero() || !byKind[SourceFolder].NextSync.IsZero() {
		t.Fatalf("sources %+v", srcs)
	}
	n, err := RemoveSource(st, "kb", docs)
	if err != nil || n != 3 {
		t.Fatalf("removed %d, %v", n, err)
	}
	if got := docPaths(t, st, "kb"); len(got) != 1 || got[0] != one {
		t.Fatalf("left %v", got)
	}
	if _, err := RemoveSource(st, "kb", docs); err == nil {
		t.Fatal("removing a source twice did not say it is not one")
	}
}
