package hub

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"sync"
	"time"
)

// ServeLimits bound what one client can hold of the hub. The hub faces the
// open internet, possibly with no proxy in front: a client that sends its
// headers or body a byte at a time, or opens hundreds of connections, must
// not exhaust file descriptors or goroutines for everyone else.
type ServeLimits struct {
	HeaderTimeout time.Duration // time to send the request line and headers
	IdleTimeout   time.Duration // a kept-alive connection with no request is closed after this
	// A request body must start within BodyGrace and then arrive at
	// MinBodyRate bytes a second on average (counted from the request's
	// start), or the connection is closed. Uploads of any size work on any
	// reasonable link; a trickle does not hold a connection.
	BodyGrace   time.Duration
	MinBodyRate int64
	ConnsPerIP  int // open connections per client address (trusted proxies are exempt)
	MaxConns    int // open connections in all; 0: derived from the process's file limit
}

// DefaultServeLimits are what `atoll hub` uses.
var DefaultServeLimits = ServeLimits{
	HeaderTimeout: 10 * time.Second,
	IdleTimeout:   60 * time.Second,
	BodyGrace:     10 * time.Second,
	MinBodyRate:   4 << 10,
	ConnsPerIP:    32,
}

// fdReserve is kept free below the process's file limit for the data
// folder, the model server and logs when MaxConns is derived.
const fdReserve = 64

func (l ServeLimits) withDefaults() ServeLimits {
	d := DefaultServeLimits
	if l.HeaderTimeout <= 0 {
		l.HeaderTimeout = d.HeaderTimeout
	}
	if l.IdleTimeout <= 0 {
		l.IdleTimeout = d.IdleTimeout
	}
	if l.BodyGrace <= 0 {
		l.BodyGrace = d.BodyGrace
	}
	if l.MinBodyRate <= 0 {
		l.MinBodyRate = d.MinBodyRate
	}
	if l.ConnsPerIP <= 0 {
		l.ConnsPerIP = d.ConnsPerIP
	}
	if l.MaxConns <= 0 {
		l.MaxConns = 4096
		if n := openFileLimit(); n > 0 {
			l.MaxConns = max(16, n-fdReserve)
		}
	}
	return l
}

// Serve runs the hub on ln until ctx ends: the HTTP server with its
// timeouts, the connection caps, and the hourly pruning of conversations.
// It is exactly what `atoll hub` runs.
func (h *Hub) Serve(ctx context.Context, ln net.Listener) error {
	lim := h.limits
	hs := &http.Server{
		Handler:           h.Handler(),
		ReadHeaderTimeout: lim.HeaderTimeout,
		IdleTimeout:       lim.IdleTimeout,
		MaxHeaderBytes:    64 << 10,
		// No ReadTimeout or WriteTimeout: a bundle upload may take long on a
		// good-faith link (the body's rate is checked instead) and answers
		// stream for as long as the model writes.
		ErrorLog: log.New(slogWriter{h.cfg.Log}, "", 0),
	}
	go h.Run(ctx)
	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		<-ctx.Done()
		// Draining: /readyz says 503 so the balancer sends no more, new
		// connections are refused, and running answers may finish within
		// the grace period; what still runs after it is cut.
		h.draining.Store(true)
		h.cfg.Log.Info("shutting down", "streams", h.streams.total(), "grace", h.cfg.ShutdownGrace.String())
		sctx, cancel := context.WithTimeout(context.Background(), h.cfg.ShutdownGrace)
		defer cancel()
		if err := hs.Shutdown(sctx); err != nil {
			h.cfg.Log.Warn("shutdown: answers still running were cut", "streams", h.streams.total())
			_ = hs.Close()
		}
	}()
	err := hs.Serve(newConnLimiter(ln, lim.ConnsPerIP, lim.MaxConns, h.trusted))
	if errors.Is(err, http.ErrServerClosed) {
		<-stopped
		return nil
	}
	return err
}

type slogWriter struct{ l *slog.Logger }

func (s slogWriter) Write(p []byte) (int, error) {
	s.l.Warn("http", "msg", strings.TrimSpace(string(p)))
	return len(p), nil
}

// errSlowBody is what a handler reads when a body trickles in below the
// minimum rate.
var errSlowBody = errors.New("the request body arrived too slowly")

// guardBody gives a request's body a deadline that moves with the bytes
// received: BodyGrace plus one second per MinBodyRate bytes, counted from
// the start. The deadline is on the connection, so it holds even when the
// handler never reads the body and the server drains it.
func guardBody(w http.ResponseWriter, r *http.Request, lim ServeLimits, start time.Time) {
	if r.Body == nil || r.Body == http.NoBody || r.ContentLength == 0 {
		return
	}
	ctl := http.NewResponseController(w)
	if ctl.SetReadDeadline(start.Add(lim.BodyGrace)) != nil {
		return // not a real connection (a test recorder)
	}
	r.Body = &rateBody{rc: r.Body, ctl: ctl, start: start, grace: lim.BodyGrace, rate: lim.MinBodyRate}
}

type rateBody struct {
	rc    io.ReadCloser
	ctl   *http.ResponseController
	start time.Time
	grace time.Duration
	rate  int64
	n     int64
	done  bool
}

func (b *rateBody) Read(p []byte) (int, error) {
	if !b.done {
		_ = b.ctl.SetReadDeadline(b.start.Add(b.grace + time.Duration(b.n*int64(time.Second)/b.rate)))
	}
	n, err := b.rc.Read(p)
	b.n += int64(n)
	if err == io.EOF && !b.done {
		// The server's background read for the next request (and for
		// noticing a client that goes away mid-answer) must not inherit
		// the body's deadline.
		b.done = true
		_ = b.ctl.SetReadDeadline(time.Time{})
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return n, fmt.Errorf("%w (%d bytes in %s)", errSlowBody, b.n, time.Since(b.start).Round(time.Second))
	}
	return n, err
}

func (b *rateBody) Close() error { return b.rc.Close() }

// connLimiter closes a new connection at once when its address already
// holds perIP connections, or when the hub holds max in all, so one client
// cannot take every file descriptor. Connections from trusted proxies carry
// many clients and are exempt from the per-address cap.
type connLimiter struct {
	net.Listener
	perIP, max int
	exempt     func(netip.Addr) bool

	mu    sync.Mutex
	byIP  map[netip.Addr]int
	total int
}

func newConnLimiter(ln net.Listener, perIP, max int, exempt func(netip.Addr) bool) *connLimiter {
	return &connLimiter{Listener: ln, perIP: perIP, max: max, exempt: exempt, byIP: map[netip.Addr]int{}}
}

func (l *connLimiter) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		ip := connAddr(c)
		l.mu.Lock()
		if l.total >= l.max || (!l.exempt(ip) && l.byIP[ip] >= l.perIP) {
			l.mu.Unlock()
			c.Close()
			continue
		}
		l.total++
		l.byIP[ip]++
		l.mu.Unlock()
		return &limitedConn{Conn: c, l: l, ip: ip}, nil
	}
}

func (l *connLimiter) release(ip netip.Addr) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.total--
	if l.byIP[ip]--; l.byIP[ip] <= 0 {
		delete(l.byIP, ip)
	}
}

type limitedConn struct {
	net.Conn
	l    *connLimiter
	ip   netip.Addr
	once sync.Once
}

func (c *limitedConn) Close() error {
	err := c.Conn.Close()
	c.once.Do(func() { c.l.release(c.ip) })
	return err
}

func connAddr(c net.Conn) netip.Addr {
	if ap, err := netip.ParseAddrPort(c.RemoteAddr().String()); err == nil {
		return ap.Addr().Unmap()
	}
	return netip.Addr{}
}

// LoopbackProxies is what --behind-proxy trusts: a proxy on the same machine.
var LoopbackProxies = []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix("::1/128")}

func (h *Hub) trusted(a netip.Addr) bool {
	for _, p := range h.cfg.TrustedProxies {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// clientIP is the connection's address. When the connection comes from a
// trusted proxy, X-Forwarded-For is read from the right: each trusted
// proxy appends the address it received from, so the rightmost address
// that is not a trusted proxy is the client. Everything left of it was
// written by the client and is ignored.
func (h *Hub) clientIP(r *http.Request) string {
	remote, err := netip.ParseAddrPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	cur := remote.Addr().Unmap()
	if !h.trusted(cur) {
		return cur.String()
	}
	hops := strings.Split(strings.Join(r.Header.Values("X-Forwarded-For"), ","), ",")
	for i := len(hops) - 1; i >= 0; i-- {
		s := strings.TrimSpace(hops[i])
		if s == "" {
			continue
		}
		a, err := netip.ParseAddr(s)
		if err != nil {
			ap, err2 := netip.ParseAddrPort(s)
			if err2 != nil {
				break // garbage from the client side: the last hop we trust is the answer
			}
			a = ap.Addr()
		}
		cur = a.Unmap().WithZone("")
		if !h.trusted(cur) {
			break
		}
	}
	return cur.String()
}

// ParseTrustedProxy reads a --trusted-proxy value: a CIDR range or a single
// address.
func ParseTrustedProxy(s string) (netip.Prefix, error) {
	if p, err := netip.ParsePrefix(s); err == nil {
		return p.Masked(), nil
	}
	if a, err := netip.ParseAddr(s); err == nil {
		return netip.PrefixFrom(a, a.BitLen()), nil
	}
	return netip.Prefix{}, fmt.Errorf("%q is not an address range: use CIDR notation such as 10.0.0.0/8 or a single address", s)
}
