package channels

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"path"
	"strings"
	"syscall"
	"time"
)

// A channel added through the hub's API belongs to a tenant, and its
// api_base makes the hub send requests where the tenant says. So a
// tenant's api_base must be one the hub's operator listed (AllowedBase),
// and a tenant's channel connects only to public addresses, except the
// listed host it names, checked after name resolution so that a name
// resolving (or re-resolving) to the hub's own network goes nowhere.
// Every channel follows redirects only within the origin it called.

// officialBases are other API origins of a platform itself, which any
// channel of that kind may name.
var officialBases = map[Kind][]string{
	Feishu: {"https://open.larksuite.com"}, // Lark, Feishu's international edition
}

// CheckBase validates an operator's allowed API base (the hub's
// --channel-api-base) and returns it without a trailing slash.
func CheckBase(s string) (string, error) {
	u, err := parseBase(s)
	if err != nil {
		return "", err
	}
	if u.User != nil {
		return "", fmt.Errorf("%q must not hold a user or password: list the host, and let the channel's api_base carry them", s)
	}
	return strings.TrimRight(u.String(), "/"), nil
}

// parseBase accepts an absolute http(s) URL with a host and a clean path,
// and nothing after the path.
func parseBase(s string) (*url.URL, error) {
	u, err := url.Parse(strings.TrimSpace(s))
	if err != nil || u.Scheme != "http" && u.Scheme != "https" || u.Hostname() == "" || u.Opaque != "" {
		return nil, fmt.Errorf("%q is not an http:// or https:// address with a host", s)
	}
	if u.RawQuery != "" || u.ForceQuery || u.Fragment != "" || u.RawPath != "" {
		return nil, fmt.Errorf("%q must end at its path, without a query, fragment or escapes", s)
	}
	if p := strings.TrimRight(u.Path, "/"); p != "" && path.Clean(p) != p {
		return nil, fmt.Errorf("%q has a path with dots or doubled slashes", s)
	}
	return u, nil
}

// origin is a URL's scheme://host:port with the default port spelled out.
func origin(u *url.URL) string {
	port := u.Port()
	if port == "" {
		port = map[string]string{"http": "80", "https": "443"}[u.Scheme]
	}
	return u.Scheme + "://" + net.JoinHostPort(strings.ToLower(strings.TrimSuffix(u.Hostname(), ".")), port)
}

// hostPort is a URL's host:port as a dialer is asked for it.
func hostPort(u *url.URL) string {
	_, hp, _ := strings.Cut(origin(u), "://")
	return hp
}

// AllowedBase reports whether a tenant's channel of kind may use apiBase:
// it has the scheme, host and port of one of allowed (or of the
// platform's own other origins) and lies under its path.
func AllowedBase(allowed []string, kind Kind, apiBase string) bool {
	u, err := parseBase(apiBase)
	if err != nil {
		return false
	}
	p := strings.TrimRight(u.Path, "/") + "/"
	for _, a := range append(append([]string(nil), allowed...), officialBases[kind]...) {
		au, err := parseBase(a)
		if err != nil {
			continue
		}
		if origin(au) == origin(u) && strings.HasPrefix(p, strings.TrimRight(au.Path, "/")+"/") {
			return true
		}
	}
	return false
}

// BaseNotAllowedError is a tenant's api_base the operator did not list.
type BaseNotAllowedError struct{ APIBase string }

func (e *BaseNotAllowedError) Error() string {
	return fmt.Sprintf("api_base %s is not one this hub's operator allows; ask the hub's operator to start the hub with --channel-api-base %s, or leave api_base empty to use the platform's own API",
		redactBase(e.APIBase), redactBase(e.APIBase))
}

func redactBase(s string) string {
	u, err := url.Parse(s)
	if err != nil || u.User == nil {
		return s
	}
	u.User = nil
	return u.String()
}

// BlockedAddressError is a connection a tenant's channel may not make.
type BlockedAddressError struct{ Addr netip.Addr }

func (e *BlockedAddressError) Error() string {
	return fmt.Sprintf("%s is a private or local address, which a channel added through the hub's API may not reach", e.Addr)
}

// RedirectError is a redirect to another origin, which no channel follows.
type RedirectError struct{ From, To string }

func (e *RedirectError) Error() string {
	return fmt.Sprintf("%s redirected to %s, another host, and the hub does not follow such redirects", e.From, e.To)
}

// Client returns the HTTP client a channel with cfg uses, built on base
// (its timeout and transport): redirects stay on the origin called, and a
// tenant's channel must name an allowed api_base and reaches no private
// address but that base's own host. A tenant's channel does not use the
// environment's HTTP proxy, which would reach the addresses refused here.
func Client(base *http.Client, cfg Config, allowed []string) (*http.Client, error) {
	c := *base
	c.CheckRedirect = sameOrigin
	if !cfg.Tenant {
		return &c, nil
	}
	exempt := ""
	if cfg.APIBase != "" {
		if !AllowedBase(allowed, cfg.Kind, cfg.APIBase) {
			return nil, &BaseNotAllowedError{cfg.APIBase}
		}
		u, _ := url.Parse(cfg.APIBase)
		exempt = hostPort(u)
	}
	var tr *http.Transport
	switch t := base.Transport.(type) {
	case nil:
		tr = http.DefaultTransport.(*http.Transport).Clone()
	case *http.Transport:
		tr = t.Clone()
	default:
		return nil, errors.New("a tenant's channel needs an *http.Transport to guard")
	}
	tr.Proxy = nil
	tr.DialTLSContext = nil
	guarded := &net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second, Control: refusePrivate}
	plain := &net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second}
	tr.DialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
		if exempt != "" && strings.EqualFold(addr, exempt) {
			return plain.DialContext(ctx, network, addr)
		}
		return guarded.DialContext(ctx, network, addr)
	}
	c.Transport = tr
	return &c, nil
}

func sameOrigin(req *http.Request, via []*http.Request) error {
	if len(via) >= 10 {
		return fmt.Errorf("%s redirected more than 10 times", via[0].URL.Host)
	}
	if origin(req.URL) != origin(via[0].URL) {
		return &RedirectError{From: via[0].URL.Host, To: req.URL.Host}
	}
	return nil
}

// refusePrivate runs for each connection after name resolution.
func refusePrivate(network, address string, _ syscall.RawConn) error {
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return fmt.Errorf("cannot check the address %q", address)
	}
	if !isPublic(ap.Addr()) {
		return &BlockedAddressError{ap.Addr().Unmap()}
	}
	return nil
}

var notPublic = []netip.Prefix{
	netip.MustParsePrefix("0.0.0.0/8"),
	netip.MustParsePrefix("100.64.0.0/10"), // carrier-grade NAT; Alibaba Cloud's metadata is 100.100.100.200
	netip.MustParsePrefix("192.0.0.0/24"),
	netip.MustParsePrefix("198.18.0.0/15"),
	netip.MustParsePrefix("240.0.0.0/4"),
	netip.MustParsePrefix("64:ff9b::/96"), // NAT64: an IPv4 address behind a gateway
	netip.MustParsePrefix("64:ff9b:1::/48"),
}

func isPublic(a netip.Addr) bool {
	a = a.Unmap()
	if !a.IsGlobalUnicast() || a.IsPrivate() || a.IsLoopback() || a.IsLinkLocalUnicast() {
		return false
	}
	for _, p := range notPublic {
		if p.Contains(a) {
			return false
		}
	}
	return true
}
