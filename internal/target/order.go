package target

import (
	"context"
	"errors"
	"sync"

	"github.com/ladderhq/ladder/internal/plan"
)

// StartInOrder runs start for every service of p that starts something,
// each as soon as the services it must come after (ServicePlan.After) are
// done, as many at once as the dependency graph allows. The first failure
// cancels the rest. The error returned is the one that caused the
// failure: a *DeployError is preferred to the cancellations it provoked.
func StartInOrder(ctx context.Context, p *plan.Plan, start func(ctx context.Context, sp plan.ServicePlan) error) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	ready := map[string]chan struct{}{}
	for _, sp := range p.Services {
		if len(sp.Start) > 0 {
			ready[sp.Service] = make(chan struct{})
		}
	}
	var (
		mu   sync.Mutex
		errs []error
		wg   sync.WaitGroup
	)
	for _, sp := range p.Services {
		if len(sp.Start) == 0 {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			for _, dep := range sp.After {
				select {
				case <-ready[dep]:
				case <-ctx.Done():
					return
				}
			}
			if err := start(ctx, sp); err != nil {
				mu.Lock()
				errs = append(errs, err)
				mu.Unlock()
				cancel()
				return
			}
			close(ready[sp.Service])
		}()
	}
	wg.Wait()
	for _, err := range errs {
		var de *DeployError
		if errors.As(err, &de) {
			return err
		}
	}
	return errors.Join(errs...)
}
