package server

import (
	"net"
	"net/url"
	"strconv"
)

// Addresses are the addresses a person can open to reach a server
// listening on ln: Local for this computer, Others for other computers
// (empty for a loopback server). A wildcard listener (0.0.0.0, ::) is
// listed as 127.0.0.1 plus the computer's own addresses, since a browser
// cannot open "http://[::]:7860/". ifaces is the computer's addresses
// (net.InterfaceAddrs), given so tests can choose them.
type Addresses struct {
	Local  string
	Others []string
	// Every is set when the server listens on every address of this
	// computer, including any that Others could not list.
	Every bool
}

// OpenableAddresses builds the addresses for a server configured with
// --addr addr, listening on ln, with an optional access token.
func OpenableAddresses(addr string, ln net.Addr, token string, ifaces []net.Addr) Addresses {
	tcp, _ := ln.(*net.TCPAddr)
	if tcp == nil {
		return Addresses{Local: link(ln.String(), token)}
	}
	port := strconv.Itoa(tcp.Port)
	switch {
	case tcp.IP.IsUnspecified():
		a := Addresses{Local: link(net.JoinHostPort("127.0.0.1", port), token), Every: true}
		v4only := tcp.IP.To4() != nil
		for _, ia := range ifaces {
			ipn, ok := ia.(*net.IPNet)
			if !ok || ipn.IP.IsLoopback() || !ipn.IP.IsGlobalUnicast() {
				continue // link-local addresses need a zone a browser cannot take
			}
			if v4only && ipn.IP.To4() == nil {
				continue
			}
			a.Others = append(a.Others, link(net.JoinHostPort(ipn.IP.String(), port), token))
		}
		return a
	case tcp.IP.IsLoopback():
		return Addresses{Local: link(net.JoinHostPort(tcp.IP.String(), port), token)}
	}
	// One address of this computer: the name the user gave, if a name,
	// since that is what they will type; else the address itself.
	host := tcp.IP.String()
	if h, _, err := net.SplitHostPort(addr); err == nil && h != "" && net.ParseIP(h) == nil {
		host = h
	}
	u := link(net.JoinHostPort(host, port), token)
	return Addresses{Local: u, Others: []string{u}}
}

func link(hostport, token string) string {
	u := url.URL{Scheme: "http", Host: hostport, Path: "/"}
	if token != "" {
		u.RawQuery = url.Values{"token": {token}}.Encode()
	}
	return u.String()
}
