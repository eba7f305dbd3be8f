// Package web fetches what the user named on the web, politely and no
// further: robots.txt is obeyed, one request at a time per host with a
// delay between them, redirects stay on the hosts the user named, private
// and loopback addresses are reached only when the user typed one, and
// every answer is bounded in time and size. It turns pages into readable
// HTML (navigation and footers left out), reads sitemaps, and finds the
// links a crawl follows.
package web

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"mime"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/temoto/robotstxt"
)

// Defaults for a Fetcher's zero fields.
const (
	DefaultDelay        = time.Second
	DefaultTimeout      = 30 * time.Second
	DefaultMaxBytes     = 20 << 20
	DefaultMaxRedirects = 5
	// maxCrawlDelay caps a robots.txt Crawl-delay: a site asking for an
	// hour between pages would make a sync never end.
	maxCrawlDelay = 30 * time.Second
)

// UserAgent names Atoll to the sites it reads; AgentToken is the name
// robots.txt rules address.
func UserAgent(version string) string {
	return "Atoll/" + version + " (+https://github.com/atoll-app/atoll; a private knowledge base reading pages its user named)"
}

// AgentToken is how robots.txt groups name Atoll.
const AgentToken = "Atoll"

// Validators make a GET conditional.
type Validators struct {
	ETag         string `json:"etag,omitempty"`
	LastModified string `json:"lastModified,omitempty"`
}

// Response is one fetched resource.
type Response struct {
	URL         string // after redirects
	Status      int
	NotModified bool // a 304: Body is empty
	ContentType string
	Body        []byte
	Validators
}

// Error is a fetch that failed, with one sentence for the user.
type Error struct {
	URL    string
	Reason string
	Status int // the HTTP status when there was one
	Err    error
}

func (e *Error) Error() string { return e.URL + " " + e.Reason }
func (e *Error) Unwrap() error { return e.Err }

// Gone reports whether the page no longer exists (404 or 410): its
// document is removed from the knowledge base.
func (e *Error) Gone() bool { return e.Status == http.StatusNotFound || e.Status == http.StatusGone }

// RobotsFile is a host's robots.txt as last fetched, kept by the caller
// between syncs so a refresh asks for it conditionally.
type RobotsFile struct {
	Status int    `json:"status"`
	Body   string `json:"body,omitempty"`
	Validators
}

// Fetcher makes the requests. It is safe for concurrent use; requests to
// one host take turns.
type Fetcher struct {
	UserAgent    string
	Delay        time.Duration // between two requests to one host
	Timeout      time.Duration // per request, headers and body
	MaxBytes     int64         // per response body
	MaxRedirects int
	// Robots holds each host's robots.txt between syncs (keyed by
	// scheme://host:port); a Fetcher fills it. Nil: fetched every time.
	Robots map[string]*RobotsFile
	// OnRequest, when set, is told each request made (tests, counting).
	OnRequest func(method, url string, conditional bool)

	once    sync.Once
	client  *http.Client
	mu      sync.Mutex
	named   map[string]bool // hosts the user named: "host" or, for private addresses, "host:port"
	private map[string]bool // "ip:port" (or "localhost:port") the user typed
	hosts   map[string]*hostState
}

type hostState struct {
	mu     sync.Mutex
	last   time.Time
	robots *robotstxt.Group
	loaded bool
}

// Name adds a URL the user typed: its host may be fetched, and if it is a
// private or loopback address (or localhost), that address too. Only hosts
// named here are ever requested.
func (f *Fetcher) Name(raw string) (*url.URL, error) {
	u, err := url.Parse(strings.TrimSpace(raw))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Hostname() == "" {
		return nil, &Error{URL: raw, Reason: "is not a web address (it must start with http:// or https://)"}
	}
	u.Fragment = ""
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.named == nil {
		f.named, f.private = map[string]bool{}, map[string]bool{}
	}
	hp := hostPort(u)
	if isPrivateHost(u.Hostname()) {
		f.named[hp] = true
		f.private[hp] = true
	} else {
		f.named[strings.ToLower(u.Hostname())] = true
	}
	return u, nil
}

// Allowed reports whether u is on a host the user named.
func (f *Fetcher) Allowed(u *url.URL) bool {
	if u.Scheme != "http" && u.Scheme != "https" {
		return false
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if isPrivateHost(u.Hostname()) {
		return f.named[hostPort(u)]
	}
	return f.named[strings.ToLower(u.Hostname())]
}

func hostPort(u *url.URL) string {
	port := u.Port()
	if port == "" {
		port = map[string]string{"http": "80", "https": "443"}[u.Scheme]
	}
	return net.JoinHostPort(strings.ToLower(u.Hostname()), port)
}

// isPrivateHost: an address literal that is not public, or localhost.
func isPrivateHost(h string) bool {
	h = strings.ToLower(strings.TrimSuffix(h, "."))
	if h == "localhost" || strings.HasSuffix(h, ".localhost") {
		return true
	}
	a, err := netip.ParseAddr(h)
	return err == nil && !isPublic(a)
}

func isPublic(a netip.Addr) bool {
	a = a.Unmap()
	return a.IsGlobalUnicast() && !a.IsPrivate() && !a.IsLoopback() && !a.IsLinkLocalUnicast() &&
		!netip.MustParsePrefix("100.64.0.0/10").Contains(a) && !netip.MustParsePrefix("fc00::/7").Contains(a)
}

func (f *Fetcher) init() {
	f.once.Do(func() {
		if f.Delay == 0 {
			f.Delay = DefaultDelay
		}
		if f.Timeout <= 0 {
			f.Timeout = DefaultTimeout
		}
		if f.MaxBytes <= 0 {
			f.MaxBytes = DefaultMaxBytes
		}
		if f.MaxRedirects <= 0 {
			f.MaxRedirects = DefaultMaxRedirects
		}
		if f.UserAgent == "" {
			f.UserAgent = UserAgent("dev")
		}
		f.mu.Lock()
		if f.named == nil {
			f.named, f.private = map[string]bool{}, map[string]bool{}
		}
		f.hosts = map[string]*hostState{}
		f.mu.Unlock()
		dialer := &net.Dialer{Timeout: 10 * time.Second, Control: f.checkAddress}
		tr := &http.Transport{
			DialContext:           dialer.DialContext,
			TLSHandshakeTimeout:   10 * time.Second,
			ResponseHeaderTimeout: f.Timeout,
			MaxIdleConnsPerHost:   1,
			// The environment's proxy would see, and could answer for,
			// private addresses the rules below refuse.
			Proxy: nil,
		}
		f.client = &http.Client{
			Transport: tr,
			Timeout:   f.Timeout,
			CheckRedirect: func(req *http.Request, via []*http.Request) error {
				if len(via) > f.MaxRedirects {
					return &Error{URL: via[0].URL.String(), Reason: fmt.Sprintf("redirects more than %d times", f.MaxRedirects)}
				}
				if !f.Allowed(req.URL) {
					return &Error{URL: via[0].URL.String(), Reason: "redirects to " + req.URL.Host + ", a site you did not name; add that address itself if you want it"}
				}
				return nil
			},
		}
	})
}

// errPrivate is refused by the dialer.
var errPrivate = errors.New("private address not named by the user")

// checkAddress runs for each connection, after name resolution: an address
// that is not public is reached only when the user typed that very address
// (or localhost with that port), so a public name that resolves to the
// local network, or a redirect to it, goes nowhere.
func (f *Fetcher) checkAddress(network, address string, _ syscall.RawConn) error {
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return errPrivate
	}
	if isPublic(ap.Addr()) {
		return nil
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.private[address] {
		return nil
	}
	if ap.Addr().IsLoopback() && f.private[net.JoinHostPort("localhost", fmt.Sprint(ap.Port()))] {
		return nil
	}
	return errPrivate
}

func (f *Fetcher) host(u *url.URL) *hostState {
	key := u.Scheme + "://" + hostPort(u)
	f.mu.Lock()
	defer f.mu.Unlock()
	h, ok := f.hosts[key]
	if !ok {
		h = &hostState{}
		f.hosts[key] = h
	}
	return h
}

// RobotsAllowed reports whether robots.txt lets Atoll fetch u, fetching
// the host's robots.txt first if need be (conditionally when the Fetcher
// kept it from an earlier sync).
func (f *Fetcher) RobotsAllowed(ctx context.Context, u *url.URL) bool {
	f.init()
	h := f.host(u)
	h.mu.Lock()
	loaded := h.loaded
	h.mu.Unlock()
	if !loaded {
		f.loadRobots(ctx, u, h)
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	p := u.EscapedPath()
	if p == "" {
		p = "/"
	}
	if u.RawQuery != "" {
		p += "?" + u.RawQuery
	}
	return h.robots == nil || h.robots.Test(p)
}

func (f *Fetcher) loadRobots(ctx context.Context, u *url.URL, h *hostState) {
	key := u.Scheme + "://" + hostPort(u)
	ru := &url.URL{Scheme: u.Scheme, Host: u.Host, Path: "/robots.txt"}
	var kept *RobotsFile
	f.mu.Lock()
	if f.Robots != nil {
		kept = f.Robots[key]
	}
	f.mu.Unlock()
	var val Validators
	if kept != nil {
		val = kept.Validators
	}
	resp, err := f.get(ctx, ru.String(), val, false)
	file := kept
	var ferr *Error
	switch {
	case err == nil && resp.NotModified && kept != nil:
	case err == nil:
		file = &RobotsFile{Status: resp.Status, Body: string(resp.Body), Validators: resp.Validators}
	case errors.As(err, &ferr) && ferr.Status >= 400:
		file = &RobotsFile{Status: ferr.Status}
	case kept == nil:
		// Unreachable robots.txt: as a server error, crawl nothing
		// beyond what the user named.
		file = &RobotsFile{Status: 503}
	}
	data, perr := robotstxt.FromStatusAndString(file.Status, file.Body)
	h.mu.Lock()
	defer h.mu.Unlock()
	h.loaded = true
	if perr == nil {
		h.robots = data.FindGroup(AgentToken)
		if d := h.robots.CrawlDelay; d > f.Delay {
			h.robots.CrawlDelay = min(d, maxCrawlDelay)
		}
	}
	f.mu.Lock()
	if f.Robots != nil && file.Status < 500 {
		f.Robots[key] = file
	}
	f.mu.Unlock()
}

// Get fetches u, conditionally when val is set. Hosts the user did not
// name, robots.txt's refusals and unreadable content types are errors
// with a sentence.
func (f *Fetcher) Get(ctx context.Context, raw string, val Validators) (*Response, error) {
	f.init()
	u, err := url.Parse(raw)
	if err != nil {
		return nil, &Error{URL: raw, Reason: "is not a valid web address"}
	}
	if !f.Allowed(u) {
		return nil, &Error{URL: raw, Reason: "is on a site you did not name"}
	}
	if !f.RobotsAllowed(ctx, u) {
		return nil, &Error{URL: raw, Reason: "is disallowed for Atoll by the site's robots.txt", Status: -1}
	}
	return f.get(ctx, raw, val, true)
}

// get makes one request, waiting its turn on the host.
func (f *Fetcher) get(ctx context.Context, raw string, val Validators, checkType bool) (*Response, error) {
	u, _ := url.Parse(raw)
	h := f.host(u)
	h.mu.Lock()
	delay := f.Delay
	if h.robots != nil && h.robots.CrawlDelay > delay {
		delay = h.robots.CrawlDelay
	}
	if wait := time.Until(h.last.Add(delay)); wait > 0 && !h.last.IsZero() {
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			h.mu.Unlock()
			return nil, &Error{URL: raw, Reason: "was not fetched (cancelled)", Err: ctx.Err()}
		case <-t.C:
		}
	}
	defer func() {
		h.last = time.Now()
		h.mu.Unlock()
	}()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, raw, nil)
	if err != nil {
		return nil, &Error{URL: raw, Reason: "is not a valid web address", Err: err}
	}
	req.Header.Set("User-Agent", f.UserAgent)
	req.Header.Set("Accept", "text/html,application/xhtml+xml,application/xml;q=0.9,text/plain;q=0.8,*/*;q=0.5")
	conditional := val.ETag != "" || val.LastModified != ""
	if val.ETag != "" {
		req.Header.Set("If-None-Match", val.ETag)
	}
	if val.LastModified != "" {
		req.Header.Set("If-Modified-Since", val.LastModified)
	}
	if f.OnRequest != nil {
		f.OnRequest(http.MethodGet, raw, conditional)
	}
	resp, err := f.client.Do(req)
	if err != nil {
		return nil, explain(raw, err)
	}
	defer resp.Body.Close()
	out := &Response{URL: resp.Request.URL.String(), Status: resp.StatusCode, ContentType: resp.Header.Get("Content-Type"),
		Validators: Validators{ETag: resp.Header.Get("ETag"), LastModified: resp.Header.Get("Last-Modified")}}
	switch {
	case resp.StatusCode == http.StatusNotModified && conditional:
		out.NotModified = true
		if out.ETag == "" && out.LastModified == "" {
			out.Validators = val
		}
		return out, nil
	case resp.StatusCode == http.StatusNotFound || resp.StatusCode == http.StatusGone:
		return nil, &Error{URL: raw, Reason: "no longer exists (HTTP " + fmt.Sprint(resp.StatusCode) + ")", Status: resp.StatusCode}
	case resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode >= 500:
		return nil, &Error{URL: raw, Reason: fmt.Sprintf("could not be fetched now (HTTP %d from the site); the next sync tries again", resp.StatusCode), Status: resp.StatusCode}
	case resp.StatusCode != http.StatusOK:
		return nil, &Error{URL: raw, Reason: fmt.Sprintf("could not be fetched (HTTP %d)", resp.StatusCode), Status: resp.StatusCode}
	}
	if checkType {
		if reason := refuseType(out.ContentType); reason != "" {
			return nil, &Error{URL: raw, Reason: reason, Status: 415}
		}
	}
	if resp.ContentLength > f.MaxBytes {
		return nil, &Error{URL: raw, Reason: "is larger than the " + mb(f.MaxBytes) + " limit for one page", Status: 413}
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, f.MaxBytes+1))
	if err != nil {
		return nil, explain(raw, err)
	}
	if int64(len(body)) > f.MaxBytes {
		return nil, &Error{URL: raw, Reason: "is larger than the " + mb(f.MaxBytes) + " limit for one page", Status: 413}
	}
	out.Body = body
	return out, nil
}

func mb(n int64) string { return fmt.Sprintf("%d MB", n>>20) }

// explain turns a transport error into a sentence.
func explain(raw string, err error) *Error {
	var fe *Error
	if errors.As(err, &fe) {
		fe.URL = raw
		return fe
	}
	var ne net.Error
	var dns *net.DNSError
	switch {
	case errors.Is(err, errPrivate):
		return &Error{URL: raw, Reason: "leads to a private or local network address you did not type; type that address itself to read it", Err: err}
	case errors.Is(err, context.Canceled):
		return &Error{URL: raw, Reason: "was not fetched (cancelled)", Err: err}
	case errors.As(err, &dns):
		return &Error{URL: raw, Reason: "names a site that could not be found (" + dns.Name + "); check the address", Err: err}
	case errors.As(err, &ne) && ne.Timeout():
		return &Error{URL: raw, Reason: "did not answer in time; the next sync tries again", Err: err}
	case errors.Is(err, syscall.ECONNREFUSED):
		return &Error{URL: raw, Reason: "refused the connection (is the site up?)", Err: err}
	}
	return &Error{URL: raw, Reason: "could not be fetched (" + err.Error() + ")", Err: err}
}

// Readable content types, by their MIME type; the value is the extension
// ingestion knows the format by.
var readable = map[string]string{
	"text/html": ".html", "application/xhtml+xml": ".html", "text/plain": ".txt", "text/markdown": ".md",
	"text/csv": ".csv", "application/pdf": ".pdf",
	"application/vnd.openxmlformats-officedocument.wordprocessingml.document":   ".docx",
	"application/vnd.openxmlformats-officedocument.spreadsheetml.sheet":         ".xlsx",
	"application/vnd.openxmlformats-officedocument.presentationml.presentation": ".pptx",
	"application/vnd.oasis.opendocument.spreadsheet":                            ".ods",
	"application/xml": ".xml", "text/xml": ".xml", "application/gzip": ".gz", "application/x-gzip": ".gz",
}

// Ext is the file extension a response's content reads as ("" when it is
// not readable).
func Ext(contentType string) string {
	mt, _, err := mime.ParseMediaType(contentType)
	if err != nil {
		return ""
	}
	return readable[mt]
}

func refuseType(contentType string) string {
	mt0, _, _ := mime.ParseMediaType(contentType)
	if contentType == "" || mt0 == "application/octet-stream" {
		return "" // sniffed: servers send gzipped sitemaps and documents so
	}
	if Ext(contentType) != "" {
		return ""
	}
	mt, _, _ := mime.ParseMediaType(contentType)
	kind, _, _ := strings.Cut(mt, "/")
	switch kind {
	case "image", "video", "audio":
		return "is " + kind + " (" + mt + "), not a page or document Atoll reads"
	}
	return "is of type " + mt + ", which Atoll does not read (it reads web pages, PDF, Word, Excel, PowerPoint, text, CSV and sitemaps)"
}

// IsHTML reports whether a response is a web page.
func (r *Response) IsHTML() bool {
	if e := Ext(r.ContentType); e != "" {
		return e == ".html"
	}
	head := bytes.ToLower(bytes.TrimSpace(r.Body[:min(len(r.Body), 512)]))
	return bytes.HasPrefix(head, []byte("<!doctype html")) || bytes.HasPrefix(head, []byte("<html"))
}
