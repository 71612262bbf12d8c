// Command ladder takes a microservice stack up the environment ladder:
// build once, snapshot, deploy, observe, promote, roll back.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/ladderhq/ladder/internal/cli"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := cli.New(cli.IO{In: os.Stdin, Out: os.Stdout, Err: os.Stderr}).ExecuteContext(ctx)
	stop()
	if err != nil {
		cli.Report(os.Stderr, err)
	}
	os.Exit(cli.Code(err))
}
