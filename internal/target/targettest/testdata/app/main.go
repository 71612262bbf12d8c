// Command app is the service the target conformance suite deploys. Its
// behaviour is set by its environment so one artifact plays every part.
//
//	PORT           where to listen
//	VERSION        what GET / answers
//	UPSTREAM       URL that GET /upstream fetches and returns
//	FAIL_HEALTH=1  /healthz answers 503
//	CRASH=start    print a line and exit 1 at once
//	CRASH=after:D  exit 1 after duration D
//	JOB=1          print "job done" and exit 0 without serving
package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"
)

func main() {
	if len(os.Args) > 1 && os.Args[1] == "-healthcheck" {
		resp, err := http.Get("http://127.0.0.1:" + os.Getenv("PORT") + "/healthz")
		if err != nil || resp.StatusCode != 200 {
			os.Exit(1)
		}
		os.Exit(0)
	}
	if os.Getenv("JOB") == "1" {
		fmt.Println("job done")
		return
	}
	crash := os.Getenv("CRASH")
	if crash == "start" {
		fmt.Println("fixture: crashing at start as asked")
		os.Exit(1)
	}
	if d, ok := strings.CutPrefix(crash, "after:"); ok {
		after, err := time.ParseDuration(d)
		if err != nil {
			fmt.Println("bad CRASH:", err)
			os.Exit(2)
		}
		time.AfterFunc(after, func() {
			fmt.Println("fixture: crashing after", after)
			os.Exit(1)
		})
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		if os.Getenv("FAIL_HEALTH") == "1" {
			http.Error(w, "failing as asked", http.StatusServiceUnavailable)
			return
		}
		fmt.Fprintln(w, "ok")
	})
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, _ *http.Request) {
		fmt.Fprintf(w, "%s %s\n", os.Getenv("VERSION"), os.Getenv("LADDER_SNAPSHOT"))
	})
	mux.HandleFunc("GET /upstream", func(w http.ResponseWriter, r *http.Request) {
		resp, err := http.Get(os.Getenv("UPSTREAM"))
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		defer resp.Body.Close()
		_, _ = io.Copy(w, resp.Body)
	})
	srv := &http.Server{Addr: ":" + os.Getenv("PORT"), Handler: mux}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	go func() {
		<-ctx.Done()
		shut, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		_ = srv.Shutdown(shut)
	}()
	fmt.Println("fixture: listening on", srv.Addr, "version", os.Getenv("VERSION"))
	if err := srv.ListenAndServe(); err != nil && err != http.ErrServerClosed {
		fmt.Println("fixture:", err)
		os.Exit(1)
	}
}
