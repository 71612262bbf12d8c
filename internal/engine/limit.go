package engine

import (
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Defaults of the bound on bad credentials over TCP.
const (
	defaultCredentialFailures = 20
	failureWindow             = time.Minute
	// maxFailureClients bounds the addresses remembered at once.
	maxFailureClients = 4096
)

// failureLimit bounds how many requests with a missing or wrong credential
// one address may send over TCP in a window: beyond that it gets 429, with
// Retry-After, until the window ends, whatever it sends. A token is 32
// random bytes, so guessing one is hopeless anyway; the bound keeps a
// client that tries from costing a store lookup per attempt, and makes it
// visible in the log.
type failureLimit struct {
	mu      sync.Mutex
	max     int
	window  time.Duration
	now     func() time.Time
	clients map[string]*failures
}

type failures struct {
	n     int
	since time.Time
}

func newFailureLimit(max int) *failureLimit {
	if max <= 0 {
		max = defaultCredentialFailures
	}
	return &failureLimit{max: max, window: failureWindow, now: time.Now, clients: map[string]*failures{}}
}

// maxForwardedHops bounds how many X-Forwarded-For addresses are read.
const maxForwardedHops = 16

// clientAddr is the address a request came from, without its port. When
// the peer is a trusted proxy (the TLS terminator in front of ladder
// serve), it is the nearest address of X-Forwarded-For that is not itself
// a trusted proxy, so one client's bad credentials do not lock out every
// client behind the proxy. From any other peer the header is ignored: a
// client cannot choose the address it is counted under.
func clientAddr(r *http.Request, trusted []netip.Prefix) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	if len(trusted) == 0 {
		return host
	}
	peer, err := netip.ParseAddr(host)
	if err != nil || !isTrusted(peer, trusted) {
		return host
	}
	var hops []string
	for _, h := range r.Header.Values("X-Forwarded-For") {
		for a := range strings.SplitSeq(h, ",") {
			hops = append(hops, strings.TrimSpace(a))
		}
	}
	// The right-most hops were added by the proxies nearest to ladder;
	// anything left of the first untrusted one is the client's to write.
	for i := len(hops) - 1; i >= 0 && i >= len(hops)-maxForwardedHops; i-- {
		a, err := parseHop(hops[i])
		if err != nil {
			return host // a malformed hop: count the proxy itself
		}
		if !isTrusted(a, trusted) {
			return a.Unmap().String()
		}
	}
	return host
}

// parseHop reads an address of X-Forwarded-For, with or without a port.
func parseHop(s string) (netip.Addr, error) {
	if ap, err := netip.ParseAddrPort(s); err == nil {
		return ap.Addr(), nil
	}
	return netip.ParseAddr(s)
}

func isTrusted(a netip.Addr, trusted []netip.Prefix) bool {
	a = a.Unmap()
	for _, p := range trusted {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// blocked reports whether addr used up its failures, and for how long.
func (l *failureLimit) blocked(addr string) (time.Duration, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	f, ok := l.clients[addr]
	if !ok {
		return 0, false
	}
	left := f.since.Add(l.window).Sub(l.now())
	if left <= 0 {
		delete(l.clients, addr)
		return 0, false
	}
	return left, f.n >= l.max
}

// failed counts a bad credential from addr.
func (l *failureLimit) failed(addr string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	f, ok := l.clients[addr]
	if !ok || now.Sub(f.since) >= l.window {
		if !ok && len(l.clients) >= maxFailureClients {
			l.forgetExpired(now)
		}
		f = &failures{since: now}
		l.clients[addr] = f
	}
	f.n++
}

// forgetExpired drops the addresses whose window ended; if the map is
// still full, those past half their window go too, then others, until a
// quarter of it is free.
func (l *failureLimit) forgetExpired(now time.Time) {
	for addr, f := range l.clients {
		if now.Sub(f.since) >= l.window {
			delete(l.clients, addr)
		}
	}
	if len(l.clients) < maxFailureClients {
		return
	}
	// A quarter of the room at least, so that a flood of addresses costs
	// one scan per thousand of them, not one each.
	cut, room := now.Add(-l.window/2), maxFailureClients*3/4
	for addr, f := range l.clients {
		if f.since.Before(cut) || len(l.clients) > room {
			delete(l.clients, addr)
		}
	}
}

// retryAfter is a Retry-After value: whole seconds, at least 1.
func retryAfter(d time.Duration) string {
	return strconv.Itoa(max(1, int((d+time.Second-1)/time.Second)))
}
