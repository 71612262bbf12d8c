// Command app is the api, worker and web services of the stackbench stack:
// it serves /healthz once it has reached DEP_ADDR (the database, or the
// api for web).
package main

import (
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"time"
)

func main() {
	check := flag.Bool("healthcheck", false, "GET /healthz on :8080 and exit 0 when it answers 200")
	flag.Parse()
	if *check {
		os.Exit(healthcheck("http://127.0.0.1:8080/healthz"))
	}
	if addr := os.Getenv("DEP_ADDR"); addr != "" {
		// Bounded: a dependency that never answers ends the process.
		for i := 0; ; i++ {
			c, err := net.DialTimeout("tcp", addr, time.Second)
			if err == nil {
				c.Close()
				break
			}
			if i == 100 {
				fmt.Fprintln(os.Stderr, "dependency unreachable:", err)
				os.Exit(1)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	http.HandleFunc("/healthz", func(w http.ResponseWriter, r *http.Request) { fmt.Fprintln(w, "ok") })
	if err := http.ListenAndServe(":8080", nil); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

func healthcheck(url string) int {
	c := http.Client{Timeout: 5 * time.Second}
	resp, err := c.Get(url)
	if err != nil {
		return 1
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return 1
	}
	return 0
}
