package hybrid

import (
	"context"
	"io"
	"net"
	"strconv"
	"sync"
	"time"
)

// relay forwards every connection to its listener to what dial returns.
type relay struct {
	ln   net.Listener
	port int
	dial func(ctx context.Context) (net.Conn, error)

	mu     sync.Mutex
	conns  map[net.Conn]struct{}
	closed bool
	wg     sync.WaitGroup
}

func listenRelay(host string, port int, dial func(ctx context.Context) (net.Conn, error)) (*relay, error) {
	ln, err := net.Listen("tcp", net.JoinHostPort(host, strconv.Itoa(port)))
	if err != nil {
		return nil, err
	}
	r := &relay{ln: ln, port: ln.Addr().(*net.TCPAddr).Port, dial: dial, conns: map[net.Conn]struct{}{}}
	r.wg.Add(1)
	go r.serve()
	return r, nil
}

func (r *relay) serve() {
	defer r.wg.Done()
	for {
		c, err := r.ln.Accept()
		if err != nil {
			return
		}
		if !r.track(c) {
			c.Close()
			return
		}
		r.wg.Add(1)
		go func() {
			defer r.wg.Done()
			defer r.untrack(c)
			r.pipe(c)
		}()
	}
}

func (r *relay) pipe(c net.Conn) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	b, err := r.dial(ctx)
	cancel()
	if err != nil {
		return
	}
	if !r.track(b) {
		b.Close()
		return
	}
	defer r.untrack(b)
	done := make(chan struct{})
	go func() {
		io.Copy(b, c)
		if tc, ok := b.(*net.TCPConn); ok {
			tc.CloseWrite()
		}
		close(done)
	}()
	io.Copy(c, b)
	if tc, ok := c.(*net.TCPConn); ok {
		tc.CloseWrite()
	}
	<-done
}

func (r *relay) track(c net.Conn) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return false
	}
	r.conns[c] = struct{}{}
	return true
}

func (r *relay) untrack(c net.Conn) {
	r.mu.Lock()
	delete(r.conns, c)
	r.mu.Unlock()
	c.Close()
}

// close stops listening, ends the connections in flight and waits for
// its goroutines.
func (r *relay) close() {
	r.mu.Lock()
	r.closed = true
	for c := range r.conns {
		c.Close()
	}
	r.mu.Unlock()
	r.ln.Close()
	r.wg.Wait()
}
