package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"time"

	"github.com/spf13/cobra"

	"github.com/ladderhq/ladder/internal/engine"
	"github.com/ladderhq/ladder/internal/render"
	"github.com/ladderhq/ladder/internal/target"
)

func newLogsCmd(a *app) *cobra.Command {
	var q logsQ
	cmd := &cobra.Command{
		Use:   "logs [SERVICE]",
		Short: "Show the output of the stack's services",
		Long: `logs prints what the services wrote to stdout and stderr, each line
prefixed with the service and the instance slot. With -f it keeps printing
new lines until Ctrl-C. The environment's secret values are masked.

With LADDER_SERVER (and LADDER_TOKEN), the ladder server reads the logs
where the site runs and streams them: name the environment with --env; a
token with the viewer role there is enough.`,
		Example: `  ladder logs
  ladder logs trades -f
  ladder logs web --tail 20
  LADDER_SERVER=https://ladder.internal ladder logs users --env prod --site eu-1 -f`,
		Args: cobra.MaximumNArgs(1),
		ValidArgsFunction: func(cmd *cobra.Command, args []string, _ string) ([]string, cobra.ShellCompDirective) {
			if len(args) > 0 {
				return nil, cobra.ShellCompDirectiveNoFileComp
			}
			p, err := a.load(cmd.Context())
			if err != nil {
				return nil, cobra.ShellCompDirectiveNoFileComp
			}
			return p.Stack.Compose.ServiceNames(), cobra.ShellCompDirectiveNoFileComp
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			if len(args) == 1 {
				q.Service = args[0]
			}
			if q.Tail < 0 {
				return exitf(ExitConfig, "--tail takes a number of 0 or more")
			}
			if os.Getenv(EnvServer) != "" {
				return a.remoteLogs(ctx, q)
			}
			ws, err := a.open(ctx)
			if err != nil {
				return err
			}
			defer ws.Close()
			err = a.logs(ctx, ws, q, a.Out)
			if err != nil && ctx.Err() != nil {
				return nil // Ctrl-C ends -f
			}
			return err
		},
	}
	f := cmd.Flags()
	f.StringVarP(&q.Env, "env", "e", "", "environment (default: the first rung)")
	f.StringVar(&q.Site, "site", "", "site (default: the environment's first)")
	f.BoolVarP(&q.Follow, "follow", "f", false, "keep printing new lines")
	f.IntVar(&q.Tail, "tail", 0, "only the last N lines of each service (0: all)")
	return cmd
}

// logsQ is what `ladder logs` asks for.
type logsQ struct {
	Env, Site, Service string
	Follow             bool
	Tail               int
}

// logs writes the output of q's service (every one when empty) on q's
// site to w, where the site's release ran, with the environment's secret
// values masked.
func (a *app) logs(ctx context.Context, ws *workspace, q logsQ, w io.Writer) error {
	e, err := ws.environment(q.Env)
	if err != nil {
		return err
	}
	if q.Service != "" {
		if _, ok := ws.project.Stack.Compose.Services[q.Service]; !ok {
			return &ExitError{Code: ExitNotRunning, Err: errorf("no service %q in the stack", q.Service), Hint: "ladder logs (all services)"}
		}
	}
	site := q.Site
	if site == "" {
		site = e.Sites[0].Name
	}
	if _, ok := e.Site(site); !ok {
		return exitf(ExitConfig, "no site %q in %s", site, e.Name)
	}
	tgt, err := a.siteTarget(ctx, ws, e.Name)
	if err != nil {
		return err
	}
	if !tgt.Can(site, target.CapLogs) {
		return exitf(ExitConfig, "%s/%s runs on the %s target, which keeps no logs ladder can show", e.Name, site, tgt.Locate(render.SiteRef{Env: e.Name, Site: site}).Kind)
	}
	// Hide the environment's secrets when this machine can read them; a
	// service printing one must not leak it here.
	if values, err := ws.secrets().Values(e.Name); err == nil {
		for _, v := range values {
			ws.redactor.Add(v)
		}
	}
	out := ws.redactor.WriteCloser(w)
	defer out.Close()
	err = tgt.Logs(ctx, render.SiteRef{Env: e.Name, Site: site}, q.Service, target.LogOptions{Follow: q.Follow, Tail: q.Tail}, out)
	if err != nil && ctx.Err() == nil {
		return &ExitError{Code: ExitNotRunning, Err: err}
	}
	return nil
}

// remoteLogs streams q's logs from the ladder server (LADDER_SERVER).
func (a *app) remoteLogs(ctx context.Context, q logsQ) error {
	if q.Env == "" {
		return exitf(ExitConfig, "with %s, name the environment: ladder logs --env ENV", EnvServer)
	}
	c, err := a.thinClient(ctx)
	if err != nil {
		return err
	}
	p := queryOf(map[string]string{"site": q.Site, "service": q.Service})
	if q.Tail > 0 {
		p.Set("tail", strconv.Itoa(q.Tail))
	}
	if q.Follow {
		p.Set("follow", "true")
	}
	body, err := c.Stream(ctx, "/v1/envs/"+url.PathEscape(q.Env)+"/logs?"+p.Encode(), 0)
	if err != nil {
		if ctx.Err() != nil {
			return nil
		}
		var se *engine.StatusError
		if errors.As(err, &se) && se.Status == http.StatusNotFound {
			return &ExitError{Code: ExitNotRunning, Err: errors.New(se.Msg)}
		}
		if errors.As(err, &se) && se.Status == http.StatusBadRequest {
			return &ExitError{Code: ExitConfig, Err: errors.New(se.Msg)}
		}
		return engineCallErr(err)
	}
	defer body.Close()
	if _, err := io.Copy(a.Out, body); err != nil && ctx.Err() == nil {
		return fmt.Errorf("the log stream from %s: %w", c.Server(), err)
	}
	return nil
}

// logsRoute streams an environment's logs to thin clients, as ladder logs
// prints them: GET /v1/envs/{env}/logs?site&service&tail&follow, plain
// text, for a viewer of the environment.
func (v *engineVerbs) logsRoute(mux engine.Mux) {
	mux.HandleFunc("GET /v1/envs/{env}/logs", func(w http.ResponseWriter, r *http.Request) {
		env := r.PathValue("env")
		vals := r.URL.Query()
		q := logsQ{Env: env, Site: vals.Get("site"), Service: vals.Get("service"), Follow: vals.Get("follow") == "true"}
		if s := vals.Get("tail"); s != "" {
			n, err := strconv.Atoi(s)
			if err != nil || n < 0 {
				writeVerbStatus(w, http.StatusBadRequest, fmt.Sprintf("tail: want a number of 0 or more, not %q", s))
				return
			}
			q.Tail = n
		}
		if !v.mayRead(w, r, env) {
			return
		}
		proj, err := v.a.load(r.Context())
		if err != nil {
			writeVerbStatus(w, http.StatusInternalServerError, err.Error())
			return
		}
		ws := *v.ws
		ws.project = proj
		// What the route writes is flushed as it comes, so -f follows.
		sw := &flushWriter{w: w, rc: http.NewResponseController(w)}
		_ = sw.rc.SetWriteDeadline(time.Time{})
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Header().Set("Cache-Control", "no-store")
		w.Header().Set("X-Accel-Buffering", "no")
		a := *v.a
		err = a.logs(r.Context(), &ws, q, sw)
		if err == nil || sw.wrote {
			return
		}
		status := http.StatusInternalServerError
		switch Code(err) {
		case ExitNotRunning:
			status = http.StatusNotFound
		case ExitConfig:
			status = http.StatusBadRequest
		}
		writeVerbStatus(w, status, err.Error())
	})
}

// flushWriter flushes after every write, and says whether anything was
// written (after which an error can no longer be an HTTP status).
type flushWriter struct {
	w     io.Writer
	rc    *http.ResponseController
	wrote bool
}

func (f *flushWriter) Write(p []byte) (int, error) {
	f.wrote = true
	n, err := f.w.Write(p)
	if err == nil {
		err = f.rc.Flush()
	}
	return n, err
}
