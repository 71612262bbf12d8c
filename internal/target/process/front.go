package process

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ladderhq/ladder/internal/plan"

	"github.com/ladderhq/ladder/internal/render"
)

// front is a service's stable address: a TCP listener forwarding each
// connection to one of the instances currently routed.
type front struct {
	service   string
	target    int // the service's own port
	published int // 0 when the port was picked freely
	ln        net.Listener
	port      int

	mu       sync.RWMutex
	backends []*instance
	next     atomic.Uint64

	wg     sync.WaitGroup
	closed chan struct{}
}

func listenFront(service string, target, published int) (*front, error) {
	ln, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", itoa(published)))
	if err != nil {
		return nil, err
	}
	f := &front{
		service: service, target: target, published: published,
		ln: ln, port: ln.Addr().(*net.TCPAddr).Port,
		closed: make(chan struct{}),
	}
	f.wg.Add(1)
	go f.serve()
	return f, nil
}

// listenFrontRange opens the front of a port, on the first free host
// port of its published range when it has one ("8000-8002:80").
func listenFrontRange(service string, p render.Port) (*front, error) {
	if p.PublishedEnd == 0 {
		return listenFront(service, p.Target, p.Published)
	}
	var err error
	for port := p.Published; port <= p.PublishedEnd; port++ {
		var f *front
		if f, err = listenFront(service, p.Target, port); err == nil {
			return f, nil
		}
	}
	return nil, fmt.Errorf("no free port in %d-%d: %w", p.Published, p.PublishedEnd, err)
}

// publishedOn reports whether a front on host port have serves p.
func publishedOn(p render.Port, have int) bool {
	switch {
	case p.Published == 0:
		return true
	case p.PublishedEnd != 0:
		return have >= p.Published && have <= p.PublishedEnd
	}
	return have == p.Published
}

func (f *front) route(backends []*instance) {
	f.mu.Lock()
	f.backends = backends
	f.mu.Unlock()
}

// pick prefers healthy instances, then any that runs, round robin.
func (f *front) pick() *instance {
	f.mu.RLock()
	defer f.mu.RUnlock()
	var ready, running []*instance
	for _, in := range f.backends {
		st, health := in.status()
		if st != plan.StateRunning {
			continue
		}
		running = append(running, in)
		if health == plan.HealthHealthy || health == plan.HealthNone {
			ready = append(ready, in)
		}
	}
	pool := ready
	if len(pool) == 0 {
		pool = running
	}
	if len(pool) == 0 {
		return nil
	}
	return pool[f.next.Add(1)%uint64(len(pool))]
}

func (f *front) serve() {
	defer f.wg.Done()
	for {
		conn, err := f.ln.Accept()
		if err != nil {
			select {
			case <-f.closed:
				return
			default:
			}
			if errors.Is(err, net.ErrClosed) {
				return
			}
			time.Sleep(10 * time.Millisecond)
			continue
		}
		f.wg.Add(1)
		go func() {
			defer f.wg.Done()
			f.forward(conn)
		}()
	}
}

func (f *front) forward(conn net.Conn) {
	defer conn.Close()
	in := f.pick()
	if in == nil {
		return
	}
	port := in.ports[f.target]
	up, err := net.DialTimeout("tcp", net.JoinHostPort("127.0.0.1", itoa(port)), 2*time.Second)
	if err != nil {
		return
	}
	defer up.Close()
	done := make(chan struct{}, 2)
	pipe := func(dst, src net.Conn) {
		_, _ = io.Copy(dst, src)
		if tc, ok := dst.(*net.TCPConn); ok {
			_ = tc.CloseWrite()
		}
		done <- struct{}{}
	}
	go pipe(up, conn)
	go pipe(conn, up)
	select {
	case <-done:
		<-done
	case <-f.closed:
	}
}

func (f *front) close(ctx context.Context) {
	select {
	case <-f.closed:
		return
	default:
	}
	close(f.closed)
	_ = f.ln.Close()
	waited := make(chan struct{})
	go func() { f.wg.Wait(); close(waited) }()
	select {
	case <-waited:
	case <-ctx.Done():
	}
}

// Instance ports are picked, then released for the service to bind, so
// another program may take one in between. They are drawn from below the
// kernel's ephemeral range (where outgoing connections and Docker's
// published ports land) to make that unlikely.
const (
	instancePortMin = 20000
	instancePortMax = 32767
)

// freePort returns an unused loopback port for an instance to listen on.
func freePort() (int, error) {
	for range 64 {
		port := instancePortMin + rand.IntN(instancePortMax-instancePortMin+1)
		ln, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", itoa(port)))
		if err != nil {
			continue
		}
		ln.Close()
		return port, nil
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}
