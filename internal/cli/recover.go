package cli

import (
	"context"

	"github.com/ladderhq/ladder/internal/deploy"
)

// openToChange opens the workspace for a command that changes what runs
// or what is recorded (promote, approve, rollback, up, down, agent), and
// first closes what a killed ladder process left behind: releases left
// "progressing" and instances nobody supervises. Without it, a rung whose
// agent was killed mid-deploy shows a release in progress forever, and a
// promotion or rollback decides on that stale record. What was recovered
// is said on stderr, so JSON output stays clean.
func (a *app) openToChange(ctx context.Context) (*workspace, error) {
	ws, err := a.open(ctx)
	if err != nil {
		return nil, err
	}
	rec := &deploy.Recorder{Store: ws.store, Logger: a.logger()}
	if err := a.recover(ctx, ws, rec, "", &printer{w: a.Err}); err != nil {
		ws.Close()
		return nil, err
	}
	return ws, nil
}
