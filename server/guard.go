package server

import (
	"crypto/subtle"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
)

// guard decides, before any route runs, whether a request may reach the
// App at all. In order:
//
//  1. Host: the request must name this server (a loopback name or the
//     configured address, with the port it was received on). A web page
//     that rebinds its own DNS name to 127.0.0.1 reaches this port with its
//     own name in Host, so this is what stops DNS rebinding.
//  2. Without a token, only connections from this computer are served.
//  3. The token, when one is set.
//  4. Origin, when a browser sends one: exactly one of this server's own
//     http origins, so another site's page cannot drive the API.
func (s *Server) guard(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Content-Type-Options", "nosniff")
		w.Header().Set("Referrer-Policy", "no-referrer")
		w.Header().Set("Content-Security-Policy", "default-src 'self'; img-src 'self' data: blob:; style-src 'self' 'unsafe-inline'; script-src 'self'; worker-src 'self' blob:; connect-src 'self'; frame-ancestors 'none'")
		if !s.ownHost(r.Host, r) {
			writeError(w, http.StatusMisdirectedRequest, fmt.Errorf("this Atoll server answers only to its own address (such as %s), not to %q: open the address printed by `atoll serve`", s.example(r), r.Host))
			return
		}
		if s.Token == "" && !fromLoopback(r) {
			writeError(w, http.StatusForbidden, errors.New("this Atoll server has no access token, so it answers only this computer: restart it with --token, or without --addr"))
			return
		}
		if s.Token != "" && !s.authorised(r) {
			writeError(w, http.StatusUnauthorized, errors.New("this Atoll server needs its access token: open the address printed by `atoll serve`, which carries ?token="))
			return
		}
		if o, ok := r.Header["Origin"]; ok && (len(o) != 1 || !s.ownOrigin(o[0], r)) {
			writeError(w, http.StatusForbidden, errors.New("requests from other sites are refused: open Atoll at the address printed by `atoll serve`"))
			return
		}
		next.ServeHTTP(w, r)
	})
}

func (s *Server) authorised(r *http.Request) bool {
	got := strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")
	if got == "" {
		got = r.URL.Query().Get("token")
	}
	if got == "" {
		if c, err := r.Cookie("atoll_token"); err == nil {
			got = c.Value
		}
	}
	return subtle.ConstantTimeCompare([]byte(got), []byte(s.Token)) == 1
}

// localAddr is the address the request's connection arrived on.
func localAddr(r *http.Request) *net.TCPAddr {
	a, _ := r.Context().Value(http.LocalAddrContextKey).(*net.TCPAddr)
	return a
}

// servedPort is the port the request arrived on, else the configured one.
func (s *Server) servedPort(r *http.Request) string {
	if a := localAddr(r); a != nil {
		return strconv.Itoa(a.Port)
	}
	if _, p, err := net.SplitHostPort(s.Addr); err == nil {
		return p
	}
	return ""
}

// ownHost reports whether hostport (a Host header, or an Origin's host)
// names this server: localhost, 127.0.0.1 or ::1, the IP address the
// connection arrived on (an address literal cannot be rebound), or the
// host of the configured address — always with the port being served.
func (s *Server) ownHost(hostport string, r *http.Request) bool {
	host, port, ok := splitHost(hostport)
	if !ok || port != s.servedPort(r) || port == "" {
		return false
	}
	host = strings.ToLower(host)
	switch host {
	case "localhost", "127.0.0.1", "::1":
		return true
	}
	if ip := net.ParseIP(host); ip != nil {
		if a := localAddr(r); a != nil && a.IP.Equal(ip) && !ip.IsUnspecified() {
			return true
		}
	}
	if h, _, err := net.SplitHostPort(s.Addr); err == nil && h != "" {
		if ip := net.ParseIP(h); ip == nil || !ip.IsUnspecified() {
			return strings.EqualFold(h, host)
		}
	}
	return false
}

// splitHost splits a Host header; a missing port is http's 80.
func splitHost(hostport string) (host, port string, ok bool) {
	if hostport == "" {
		return "", "", false
	}
	if h, p, err := net.SplitHostPort(hostport); err == nil {
		if p == "" {
			return "", "", false
		}
		return h, p, h != ""
	}
	if strings.HasPrefix(hostport, "[") && strings.HasSuffix(hostport, "]") {
		return hostport[1 : len(hostport)-1], "80", true
	}
	if strings.Contains(hostport, ":") {
		return "", "", false
	}
	return hostport, "80", true
}

// ownOrigin reports whether a browser's Origin is one of this server's
// http origins. The scheme matters: this server speaks plain http, so an
// https (or any other) origin is another site, even with the same host.
func (s *Server) ownOrigin(origin string, r *http.Request) bool {
	u, err := url.Parse(origin)
	if err != nil || u.Scheme != "http" || u.User != nil || u.Opaque != "" ||
		u.Path != "" || u.RawQuery != "" || u.Fragment != "" || u.Host == "" {
		return false
	}
	return s.ownHost(u.Host, r)
}

// fromLoopback reports whether the client is on this computer.
func fromLoopback(r *http.Request) bool {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return false
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

func (s *Server) example(r *http.Request) string {
	return "http://127.0.0.1:" + s.servedPort(r)
}

// IsLoopback reports whether addr binds only the local machine.
func IsLoopback(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
