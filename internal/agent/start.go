package agent

import (
	"context"
	"fmt"
	"time"
)

// Await returns a client for env's agent once it answers at url: an
// engine that just started it writes its file a moment later.
func Await(ctx context.Context, stateDir, env, url string) (*Client, error) {
	deadline := time.Now().Add(15 * time.Second)
	for {
		if c, ok := Find(ctx, stateDir, env); ok && c.URL == url {
			return c, nil
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("the agent for %s did not answer at %s within 15s", env, url)
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// Endpoints returns one SERVICE_URL variable per published service of the
// environment's first site, from its running agent.
func Endpoints(ctx context.Context, stateDir, env string) (map[string]string, error) {
	c, ok := Find(ctx, stateDir, env)
	if !ok {
		return nil, fmt.Errorf("%s is not running", env)
	}
	st, err := c.Status(ctx)
	if err != nil {
		return nil, err
	}
	out := map[string]string{}
	if len(st.Sites) == 0 {
		return out, nil
	}
	for _, svc := range st.Sites[0].Services {
		if len(svc.Endpoints) > 0 {
			out[envVarName(svc.Name)+"_URL"] = svc.Endpoints[0]
		}
	}
	return out, nil
}

func envVarName(service string) string {
	b := []byte(service)
	for i, c := range b {
		switch {
		case c >= 'a' && c <= 'z':
			b[i] = c - 'a' + 'A'
		case c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		default:
			b[i] = '_'
		}
	}
	return string(b)
}
