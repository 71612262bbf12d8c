package cli

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"sync"

	"github.com/ladderhq/ladder/internal/agent"
	"github.com/ladderhq/ladder/internal/api"
	"github.com/ladderhq/ladder/internal/auth"
	"github.com/ladderhq/ladder/internal/deploy"
	"github.com/ladderhq/ladder/internal/engine"
	"github.com/ladderhq/ladder/internal/lease"
	"github.com/ladderhq/ladder/internal/promote"
	"github.com/ladderhq/ladder/internal/spec"
	"github.com/ladderhq/ladder/internal/store"
)

// The verbs a served engine runs for thin clients: the same code as the
// commands run in their own process, on the engine's store and project,
// acting as the credential the request carries.
//
//	POST /v1/promote   {"snapshot", "to", "why"}      -> verbAnswer{result: promote.Result}
//	POST /v1/rollback  {"env", "to", "why"}           -> verbAnswer{result: promote.RollbackResult}
//	POST /v1/approve   {"snapshot", "to", "comment"}  -> verbAnswer{result: store.Approval}
//	GET  /v1/envs/{env}/status                        -> api.Status (404: not running)
//	GET  /v1/envs/{env}/releases?limit&before         -> verbAnswer{result: historyPage}
//	GET  /v1/envs/{env}/drift                         -> verbAnswer{result: driftAnswer}
//	GET  /v1/audit?env&action&actor&snapshot&limit&before -> verbAnswer{result: auditPage}
//	GET  /v1/envs/{env}/events?site&service&kind&limit&before&after -> verbAnswer{result: eventsPage}
//	GET  /v1/envs/{env}/events/stream?site&service&kind&after -> text/event-stream of store.Event
//	GET  /v1/envs/{env}/logs?site&service&tail&follow -> text/plain, as ladder logs prints them
//	POST /v1/tokens    {"name", "roles", "expires"}   -> verbAnswer{result: tokenView, with its secret}
//	GET  /v1/tokens                                   -> verbAnswer{result: [tokenView]}
//	DELETE /v1/tokens/{name}                          -> verbAnswer{result: {"revoked": name}}
//	GET  /v1/trust                                    -> verbAnswer{result: [store.TrustedKey]}
//	GET  /v1/snapshots?limit                          -> verbAnswer{result: [snapshotRow]}
//	POST /v1/trust     {"pem"}                        -> verbAnswer{result: store.TrustedKey}
//	DELETE /v1/trust/{fingerprint}                    -> verbAnswer{result: {"revoked": fingerprint}}
//	POST /v1/down      {"env", "all", "volumes"}      -> verbAnswer{result: [downResult]}
//
// A verb that ran answers 200 with its outcome, a refusal included; its
// exit code travels in the answer, so the thin client exits as the
// command would have.

// verbAnswer is what a verb answers.
type verbAnswer struct {
	Result json.RawMessage `json:"result,omitempty"`
	// Said is what the command says on its standard error when it runs
	// the verb itself: what was recovered first (releases a killed
	// process left in progress), image pushes, warnings.
	Said string `json:"said,omitempty"`
	// Progress is what the command prints on its standard output before
	// its result (image pushes); not printed with -o json.
	Progress string     `json:"progress,omitempty"`
	Error    *verbError `json:"error,omitempty"`
}

// verbError is a verb's failure as the command reports it.
type verbError struct {
	Message  string `json:"message"`
	Hint     string `json:"hint,omitempty"`
	Exit     int    `json:"exit"`
	Reported bool   `json:"reported,omitempty"`
	// Deploy is the failed deploy's result, printed with -o json as the
	// command prints it.
	Deploy *api.DeployResult `json:"deploy,omitempty"`
}

func toVerbError(err error) *verbError {
	if err == nil {
		return nil
	}
	ve := &verbError{Message: err.Error(), Exit: Code(err), Deploy: failedDeploy(err)}
	var ee *ExitError
	if errors.As(err, &ee) {
		ve.Message, ve.Hint, ve.Reported = ee.Err.Error(), ee.Hint, ee.Reported
	}
	return ve
}

func (ve *verbError) err() error {
	if ve == nil {
		return nil
	}
	return &ExitError{Code: ve.Exit, Err: errors.New(ve.Message), Hint: ve.Hint, Reported: ve.Reported, deploy: ve.Deploy}
}

type promoteRequest struct {
	Snapshot string `json:"snapshot"`
	To       string `json:"to"`
	Why      string `json:"why,omitempty"`
}

type rollbackRequest struct {
	Env string `json:"env"`
	To  string `json:"to,omitempty"`
	Why string `json:"why,omitempty"`
}

type approveRequest struct {
	Snapshot string `json:"snapshot"`
	To       string `json:"to"`
	Comment  string `json:"comment,omitempty"`
}

// engineVerbs serves the verbs on an engine this process runs.
type engineVerbs struct {
	a  *app
	ws *workspace
	e  *engine.Engine
}

func (v *engineVerbs) routes(mux engine.Mux) {
	v.eventRoutes(mux)
	v.logsRoute(mux)
	v.tokenRoutes(mux)
	v.trustRoutes(mux)
	v.snapshotRoutes(mux)
	v.policyRoutes(mux)
	v.jobRoutes(mux)
	mux.HandleFunc("POST /v1/promote", func(w http.ResponseWriter, r *http.Request) {
		var req promoteRequest
		if !decodeVerb(w, r, &req) {
			return
		}
		v.run(w, r, func(ctx context.Context, a *app, ws *workspace) (any, error) {
			res, err := a.promoteIn(ctx, ws, req.Snapshot, req.To, req.Why)
			if res == nil {
				return nil, err
			}
			return res, err
		})
	})
	mux.HandleFunc("POST /v1/rollback", func(w http.ResponseWriter, r *http.Request) {
		var req rollbackRequest
		if !decodeVerb(w, r, &req) {
			return
		}
		v.run(w, r, func(ctx context.Context, a *app, ws *workspace) (any, error) {
			res, err := a.rollbackIn(ctx, ws, req.Env, req.To, req.Why)
			if res == nil {
				return nil, err
			}
			return res, err
		})
	})
	mux.HandleFunc("POST /v1/approve", func(w http.ResponseWriter, r *http.Request) {
		var req approveRequest
		if !decodeVerb(w, r, &req) {
			return
		}
		v.run(w, r, func(ctx context.Context, a *app, ws *workspace) (any, error) {
			if err := promote.CheckIfMatch(ctx, ws.store, req.To, ws.ifMatch); err != nil {
				return nil, err
			}
			ap, err := a.approveIn(ctx, ws, req.Snapshot, req.To, req.Comment)
			if ap == nil {
				return nil, err
			}
			return ap, err
		})
	})
	mux.HandleFunc("POST /v1/down", func(w http.ResponseWriter, r *http.Request) {
		var req downRequest
		if !decodeVerb(w, r, &req) {
			return
		}
		if req.Env == "" && !req.All {
			writeVerbStatus(w, http.StatusBadRequest, "name the environment (env) or ask for all")
			return
		}
		if req.All && r.Header.Get("If-Match") != "" {
			writeVerbStatus(w, http.StatusBadRequest, "If-Match names the state of one environment: send it with env, not all")
			return
		}
		v.run(w, r, func(ctx context.Context, a *app, ws *workspace) (any, error) {
			results, err := a.down(ctx, ws, req, &printer{w: a.Out})
			if results == nil {
				return nil, err
			}
			return results, err
		})
	})
	mux.HandleFunc("GET /v1/envs/{env}/releases", func(w http.ResponseWriter, r *http.Request) {
		env := r.PathValue("env")
		q, err := pageQuery(r)
		if err != nil {
			writeVerbStatus(w, http.StatusBadRequest, err.Error())
			return
		}
		v.read(w, r, env, func(ctx context.Context, a *app, ws *workspace) (any, error) {
			e, err := ws.environment(env)
			if err != nil {
				return nil, err
			}
			v.setETag(w, r, e.Name)
			return a.historyPage(ctx, ws, e.Name, q, !v.runs(e.Name))
		})
	})
	mux.HandleFunc("GET /v1/audit", func(w http.ResponseWriter, r *http.Request) {
		q, err := pageQuery(r)
		if err != nil {
			writeVerbStatus(w, http.StatusBadRequest, err.Error())
			return
		}
		vals := r.URL.Query()
		f := store.AuditFilter{Env: vals.Get("env"), Action: vals.Get("action"), Actor: vals.Get("actor"),
			Snapshot: vals.Get("snapshot"), Limit: q.Limit, BeforeID: q.Before}
		v.read(w, r, f.Env, func(ctx context.Context, a *app, ws *workspace) (any, error) {
			return auditPageOf(ctx, ws.store, f)
		})
	})
	mux.HandleFunc("GET /v1/envs/{env}/drift", func(w http.ResponseWriter, r *http.Request) {
		env := r.PathValue("env")
		v.read(w, r, env, func(ctx context.Context, a *app, ws *workspace) (any, error) {
			e, err := ws.environment(env)
			if err != nil {
				return nil, err
			}
			reports, err := a.driftReports(ctx, ws, e.Name)
			if err != nil {
				return nil, err
			}
			return driftAnswer{Env: e.Name, Reports: reports}, nil
		})
	})
	mux.HandleFunc("GET /v1/envs/{env}/status", func(w http.ResponseWriter, r *http.Request) {
		env := r.PathValue("env")
		if !v.mayRead(w, r, env) {
			return
		}
		v.setETag(w, r, env)
		st, err := v.status(r.Context(), env)
		if errors.Is(err, errNotRunning) {
			writeVerbStatus(w, http.StatusNotFound, env+" is not running")
			return
		}
		if err != nil {
			writeVerbStatus(w, http.StatusBadGateway, err.Error())
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(st)
	})
}

// errNotRunning: no agent runs the environment.
var errNotRunning = errors.New("not running")

// statusSource is an agent that answers its status in this process.
type statusSource interface {
	Status(ctx context.Context) (*api.Status, error)
}

// status is env's status: from its agent in this engine when the engine
// runs it (no HTTP round trip, no second encoding of a fleet's status),
// otherwise from the agent's API wherever it runs.
func (v *engineVerbs) status(ctx context.Context, env string) (*api.Status, error) {
	if r, ok := v.e.Runner(env); ok {
		if src, ok := r.(statusSource); ok {
			return src.Status(ctx)
		}
	}
	c, ok := agent.Find(ctx, v.ws.stateDir, env)
	if !ok {
		return nil, errNotRunning
	}
	return c.Status(ctx)
}

// setETag sends env's entity tag (promote.EnvTag) with a read: the
// If-Match a change decided on what was read sends back. It is read
// before the answer, so a change made meanwhile fails the If-Match
// rather than being hidden by a newer tag. A store that cannot say
// leaves the answer without one.
func (v *engineVerbs) setETag(w http.ResponseWriter, r *http.Request, env string) {
	if tag, err := promote.EnvTag(r.Context(), v.ws.store, env); err == nil {
		w.Header().Set("ETag", tag)
	}
}

// mayRead answers a request that may not read env (401 without a known
// credential, 403 without the viewer role there) and reports whether it
// may.
func (v *engineVerbs) mayRead(w http.ResponseWriter, r *http.Request, env string) bool {
	p, err := v.e.Authenticate(r)
	if err != nil {
		writeVerbStatus(w, http.StatusUnauthorized, err.Error())
		return false
	}
	if err := auth.Authorize(p, env, auth.ActionRead); err != nil {
		writeVerbStatus(w, http.StatusForbidden, err.Error())
		return false
	}
	return true
}

// runs reports whether the engine runs env.
func (v *engineVerbs) runs(env string) bool {
	return slices.ContainsFunc(v.e.Info().Envs, func(e engine.EnvInfo) bool { return e.Env == env })
}

func writeVerbStatus(w http.ResponseWriter, status int, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]string{"error": msg})
}

// decodeVerb reads a bounded, strict JSON body.
func decodeVerb(w http.ResponseWriter, r *http.Request, into any) bool {
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 64<<10))
	dec.DisallowUnknownFields()
	if err := dec.Decode(into); err != nil {
		writeVerbStatus(w, http.StatusBadRequest, "request body: "+err.Error())
		return false
	}
	return true
}

// run runs a verb as the request's credential on a fresh read of the
// project (ladder.yaml may have changed since the engine started). It
// goes on if the client goes away: the engine owns what it started.
func (v *engineVerbs) run(w http.ResponseWriter, r *http.Request, verb func(context.Context, *app, *workspace) (any, error)) {
	v.serve(w, r, false, "", verb)
}

// read runs a read of env (history, drift, audit) as run runs a verb, for
// a credential with at least the viewer role there; env "" is a read of
// every environment, for a viewer of all ("viewer:*"). It changes
// nothing, so it closes nothing a killed process left open either.
func (v *engineVerbs) read(w http.ResponseWriter, r *http.Request, env string, verb func(context.Context, *app, *workspace) (any, error)) {
	v.serve(w, r, true, env, verb)
}

func (v *engineVerbs) serve(w http.ResponseWriter, r *http.Request, read bool, readEnv string, verb func(context.Context, *app, *workspace) (any, error)) {
	cred := engine.Credential(r)
	ctx := auth.WithCredential(context.WithoutCancel(r.Context()), cred)
	var ans verbAnswer
	var said, progress syncBuffer
	result, err := func() (any, error) {
		p, err := v.e.Authenticate(r)
		if err != nil {
			return nil, &ExitError{Code: ExitUnauthorized, Err: err, Hint: credentialHint}
		}
		if read {
			if err := auth.Authorize(p, readEnv, auth.ActionRead); err != nil {
				return nil, &ExitError{Code: ExitUnauthorized, Err: err, Hint: credentialHint}
			}
		}
		proj, err := v.a.load(ctx)
		if err != nil {
			return nil, err
		}
		ws := *v.ws
		ws.project = proj
		ws.who = &p
		ws.ifMatch = r.Header.Get("If-Match")
		// What the command would say on its standard error (recovery,
		// image pushes, warnings) goes back to it.
		a := *v.a
		a.Err, a.Out = &said, &progress
		if read {
			return verb(ctx, &a, &ws)
		}
		err = a.recover(ctx, &ws, &deploy.Recorder{Store: ws.store, Logger: v.a.logger()}, "", &printer{w: &said})
		if err != nil {
			return nil, err
		}
		return verb(ctx, &a, &ws)
	}()
	if result == nil && promote.IsPrecondition(err) {
		writeVerbStatus(w, http.StatusPreconditionFailed, err.Error())
		return
	}
	if result != nil {
		b, merr := json.Marshal(result)
		if merr != nil {
			err = errors.Join(err, merr)
		}
		ans.Result = b
	}
	ans.Said, ans.Progress = said.String(), progress.String()
	ans.Error = toVerbError(err)
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(ans)
}

// requestHolder is a holder of its own for one request the engine serves:
// two promotions in one engine are two holders of the promotion lock.
func requestHolder() store.Holder {
	h := lease.Self()
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	h.Instance += "-" + hex.EncodeToString(b)
	return h
}

// thinClient is the engine the verbs go to: LADDER_SERVER (with
// LADDER_TOKEN), else this project's engine, a background one started
// when none runs. The command then does nothing itself: the engine owns
// the rungs.
func (a *app) thinClient(ctx context.Context) (*engine.Client, error) {
	if server := os.Getenv(EnvServer); server != "" {
		token := os.Getenv(auth.EnvToken)
		if token == "" {
			return nil, &ExitError{Code: ExitUnauthorized, Err: fmt.Errorf("%s names a ladder server: set %s to a token of yours there", EnvServer, auth.EnvToken)}
		}
		c, err := engine.Dial(server, token)
		if err != nil {
			return nil, exitf(ExitConfig, "%v", err)
		}
		return c, nil
	}
	_, stateDir, located := spec.LocateState(a.dir, a.loadOptions())
	if located {
		if c, ok := engine.Find(ctx, stateDir); ok {
			c.Token = auth.Credential(stateDir)
			return c, nil
		}
	}
	// No engine: load the project here first, so that a bad file is
	// reported as it always is (every problem, file:line:col, exit 2),
	// then start one.
	p, err := a.load(ctx)
	if err != nil {
		return nil, err
	}
	projectDir, stateDir := p.Dir, p.Ladder.State
	if !filepath.IsAbs(stateDir) {
		stateDir = filepath.Join(p.Dir, stateDir)
	}
	if err := makeStateDir(stateDir); err != nil {
		return nil, err
	}
	c, err := engine.Spawn(ctx, engine.SpawnOptions{Dir: projectDir, StateDir: stateDir, Args: a.engineArgs(), Env: engineEnv()})
	if err != nil {
		return nil, err
	}
	c.Token = auth.Credential(stateDir)
	return c, nil
}

// EnvServer names the ladder server thin clients send their verbs to.
const EnvServer = "LADDER_SERVER"

// callVerb sends a verb to the engine, prints what the engine recovered,
// and returns the answer's result and the command's error (with -o json,
// the caller prints a failed deploy's result after its own: printFailed).
func (a *app) callVerb(ctx context.Context, c *engine.Client, path string, req any, result any) (bool, error) {
	return a.call(ctx, c, http.MethodPost, path, req, result)
}

// callRead asks the engine for a read (history, drift) as callVerb sends
// a verb.
func (a *app) callRead(ctx context.Context, c *engine.Client, path string, result any) (bool, error) {
	return a.call(ctx, c, http.MethodGet, path, nil, result)
}

func (a *app) call(ctx context.Context, c *engine.Client, method, path string, req any, result any) (bool, error) {
	var ans verbAnswer
	if err := c.Do(ctx, method, path, req, &ans); err != nil {
		return false, engineCallErr(err)
	}
	if ans.Said != "" {
		fmt.Fprint(a.Err, ans.Said)
	}
	if ans.Progress != "" && !a.json() {
		fmt.Fprint(a.Out, ans.Progress)
	}
	got := false
	if len(ans.Result) > 0 && string(ans.Result) != "null" {
		if err := json.Unmarshal(ans.Result, result); err != nil {
			return false, err
		}
		got = true
	}
	return got, ans.Error.err()
}

// engineCallErr classifies an engine's error answer.
func engineCallErr(err error) error {
	var se *engine.StatusError
	if errors.As(err, &se) {
		switch se.Status {
		case http.StatusUnauthorized, http.StatusForbidden:
			return &ExitError{Code: ExitUnauthorized, Err: errors.New(se.Msg), Hint: credentialHint}
		case http.StatusNotFound:
			return &ExitError{Code: ExitNotRunning, Err: errors.New(se.Msg)}
		case http.StatusBadRequest:
			return &ExitError{Code: ExitConfig, Err: errors.New(se.Msg)}
		}
	}
	return err
}

// printFailed prints, with -o json, the result of the deploy err says
// failed, as a command always has after its own result.
func (a *app) printFailed(err error) {
	if dep := failedDeploy(err); dep != nil && a.json() {
		_ = a.printJSON(dep)
	}
}

// syncBuffer is a buffer a verb's goroutines may write to at once.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
