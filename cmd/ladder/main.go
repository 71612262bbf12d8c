// Command ladder takes a microservice stack up the environment ladder:
// build once, snapshot, deploy, observe, promote, roll back.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"runtime/pprof"
	"syscall"

	"github.com/ladderhq/ladder/internal/cli"
)

func main() {
	// LADDER_CPUPROFILE=FILE writes a CPU profile of the command, for
	// `go tool pprof`.
	if path := os.Getenv("LADDER_CPUPROFILE"); path != "" {
		f, err := os.Create(path)
		if err == nil {
			err = pprof.StartCPUProfile(f)
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, "LADDER_CPUPROFILE:", err)
			os.Exit(1)
		}
		code := run()
		pprof.StopCPUProfile()
		f.Close()
		os.Exit(code)
	}
	os.Exit(run())
}

func run() int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := cli.New(cli.IO{In: os.Stdin, Out: os.Stdout, Err: os.Stderr}).ExecuteContext(ctx)
	stop()
	if err != nil {
		cli.Report(os.Stderr, err)
	}
	return cli.Code(err)
}
