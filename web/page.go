package web

import (
	"bytes"
	"compress/gzip"
	"encoding/xml"
	"errors"
	"io"
	"net/url"
	"strings"

	readability "codeberg.org/readeck/go-readability/v2"
	"golang.org/x/net/html"
	"golang.org/x/net/html/atom"
)

// Page is a web page's readable part.
type Page struct {
	Title string
	// HTML is the article alone, navigation, sidebars and footers left
	// out, headed by the title; ingestion reads its headings and
	// paragraphs as it reads any HTML file.
	HTML string
	// Links are the page's links (absolute, without fragments), found in
	// the whole page before readability drops the navigation.
	Links []string
}

// Readable extracts a page's article with readability. A page readability
// finds nothing in (too short, or all navigation) keeps its body.
func Readable(body []byte, pageURL string) (*Page, error) {
	base, err := url.Parse(pageURL)
	if err != nil {
		return nil, err
	}
	doc, err := html.Parse(bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	p := &Page{Links: links(doc, base)}
	// Readability takes the title from <title> or the first heading; the
	// article it returns may leave out the h1 the title came from.
	art, aerr := readability.FromDocument(doc, base)
	var sb strings.Builder
	if aerr == nil && art.Node != nil {
		p.Title = strings.TrimSpace(art.Title())
		if err := art.RenderHTML(&sb); err != nil {
			sb.Reset()
		}
	}
	content := sb.String()
	if strings.TrimSpace(content) == "" {
		content = string(body)
	}
	if p.Title != "" && !strings.Contains(content, "<h1") {
		content = "<h1>" + html.EscapeString(p.Title) + "</h1>\n" + content
	}
	p.HTML = "<!DOCTYPE html><html><body>" + content + "</body></html>"
	return p, nil
}

func links(doc *html.Node, base *url.URL) []string {
	if b := find(doc, atom.Base); b != nil {
		if u, err := base.Parse(attr(b, "href")); err == nil {
			base = u
		}
	}
	seen := map[string]bool{}
	var out []string
	var walk func(n *html.Node)
	walk = func(n *html.Node) {
		if n.Type == html.ElementNode && n.DataAtom == atom.A {
			if rel := attr(n, "rel"); !strings.Contains(rel, "nofollow") {
				if u, err := base.Parse(strings.TrimSpace(attr(n, "href"))); err == nil && (u.Scheme == "http" || u.Scheme == "https") {
					u.Fragment = ""
					if s := u.String(); !seen[s] {
						seen[s] = true
						out = append(out, s)
					}
				}
			}
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
	}
	walk(doc)
	return out
}

func find(n *html.Node, a atom.Atom) *html.Node {
	if n.Type == html.ElementNode && n.DataAtom == a {
		return n
	}
	for c := n.FirstChild; c != nil; c = c.NextSibling {
		if f := find(c, a); f != nil {
			return f
		}
	}
	return nil
}

func attr(n *html.Node, key string) string {
	for _, a := range n.Attr {
		if a.Key == key {
			return a.Val
		}
	}
	return ""
}

// Sitemap is one sitemap file: pages, or (an index) more sitemaps.
type Sitemap struct {
	Pages    []string
	Sitemaps []string
}

// maxSitemapBytes bounds a sitemap after gunzip (the protocol's limit is
// 50 MB and 50 000 URLs).
const maxSitemapBytes = 50 << 20

// ErrNotSitemap: the body is not a sitemap.
var ErrNotSitemap = errors.New("not a sitemap")

// ParseSitemap reads a sitemap or sitemap index, gzipped or not.
func ParseSitemap(body []byte) (*Sitemap, error) {
	if bytes.HasPrefix(body, []byte{0x1f, 0x8b}) {
		zr, err := gzip.NewReader(bytes.NewReader(body))
		if err != nil {
			return nil, err
		}
		unz, err := io.ReadAll(io.LimitReader(zr, maxSitemapBytes+1))
		if err != nil {
			return nil, err
		}
		if len(unz) > maxSitemapBytes {
			return nil, errors.New("the sitemap inflates beyond 50 MB")
		}
		body = unz
	}
	d := xml.NewDecoder(bytes.NewReader(body))
	sm := &Sitemap{}
	root, inLoc, inSitemap := "", false, false
	var loc strings.Builder
	for {
		tok, err := d.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			if root == "" {
				return nil, ErrNotSitemap
			}
			return sm, err
		}
		switch t := tok.(type) {
		case xml.StartElement:
			if root == "" {
				root = t.Name.Local
				if root != "urlset" && root != "sitemapindex" {
					return nil, ErrNotSitemap
				}
			}
			switch t.Name.Local {
			case "sitemap":
				inSitemap = true
			case "loc":
				inLoc = true
				loc.Reset()
			}
		case xml.CharData:
			if inLoc {
				loc.Write(t)
			}
		case xml.EndElement:
			switch t.Name.Local {
			case "sitemap":
				inSitemap = false
			case "loc":
				inLoc = false
				l := strings.TrimSpace(loc.String())
				switch {
				case l == "":
				case root == "sitemapindex" && inSitemap:
					sm.Sitemaps = append(sm.Sitemaps, l)
				case root == "urlset":
					sm.Pages = append(sm.Pages, l)
				}
			}
		}
	}
	if root == "" {
		return nil, ErrNotSitemap
	}
	return sm, nil
}

// LooksLikeSitemap tells a sitemap from a page by its first bytes.
func LooksLikeSitemap(body []byte) bool {
	if bytes.HasPrefix(body, []byte{0x1f, 0x8b}) {
		return true
	}
	head := string(body[:min(len(body), 1024)])
	return strings.Contains(head, "<urlset") || strings.Contains(head, "<sitemapindex")
}
