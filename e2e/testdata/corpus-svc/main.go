// Command svc is the corpus stacks' small Go service: an HTTP server whose
// /healthz passes when the dependencies it is given answer, optionally a
// reverse proxy in front of another service, or a one-shot job.
//
//	PORT         where to listen (8080)
//	CHECK_TCP    host:port,... that must accept a connection for /healthz
//	CHECK_HTTP   URL,... that must answer 2xx for /healthz
//	UPSTREAM     a URL: / is proxied there
//	MESSAGE      what / answers without UPSTREAM
//
// -healthcheck asks the running server's /healthz (a FROM-scratch image
// has no shell); -once checks the dependencies and exits 0 or 1.
package main

import (
	"context"
	"flag"
	"fmt"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"
)

func main() {
	healthcheck := flag.Bool("healthcheck", false, "ask the running server's /healthz")
	once := flag.Bool("once", false, "check the dependencies once and exit")
	flag.Parse()
	port := os.Getenv("PORT")
	if port == "" {
		port = "8080"
	}
	if *healthcheck {
		c := &http.Client{Timeout: 3 * time.Second}
		resp, err := c.Get("http://127.0.0.1:" + port + "/healthz")
		if err != nil || resp.StatusCode != 200 {
			os.Exit(1)
		}
		os.Exit(0)
	}
	if *once {
		if err := check(); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		fmt.Println("dependencies answer")
		return
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, r *http.Request) {
		if err := check(); err != nil {
			http.Error(w, err.Error(), http.StatusServiceUnavailable)
			return
		}
		fmt.Fprintln(w, "ok")
	})
	if up := os.Getenv("UPSTREAM"); up != "" {
		u, err := url.Parse(up)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(2)
		}
		mux.Handle("/", httputil.NewSingleHostReverseProxy(u))
	} else {
		msg := os.Getenv("MESSAGE")
		mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) { fmt.Fprintln(w, msg) })
	}
	srv := &http.Server{Addr: ":" + port, Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	go func() {
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
	}()
	fmt.Println("listening on", srv.Addr)
	if err := srv.ListenAndServe(); err != nil && err != http.ErrServerClosed {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

func check() error {
	for _, a := range list("CHECK_TCP") {
		c, err := net.DialTimeout("tcp", a, 2*time.Second)
		if err != nil {
			return err
		}
		c.Close()
	}
	cl := &http.Client{Timeout: 2 * time.Second}
	for _, u := range list("CHECK_HTTP") {
		resp, err := cl.Get(u)
		if err != nil {
			return err
		}
		resp.Body.Close()
		if resp.StatusCode/100 != 2 {
			return fmt.Errorf("%s: HTTP %d", u, resp.StatusCode)
		}
	}
	return nil
}

func list(name string) []string {
	var out []string
	for _, s := range strings.Split(os.Getenv(name), ",") {
		if s = strings.TrimSpace(s); s != "" {
			out = append(out, s)
		}
	}
	return out
}
