// Command failoverbench measures failover between `ladder serve` replicas
// that share one PostgreSQL store: how long after the replica that owns
// the engine is killed (SIGKILL) the standby owns it, and how long until
// that new owner has every environment running its last good snapshot
// again; and the same for a graceful handover (SIGTERM of the owner).
//
// Run it from the repository:
//
//	go run ./bench/failoverbench              # -n 5 rounds of each: SIGKILL, SIGTERM
//	go run ./bench/failoverbench -n 3         # quicker
//	go run ./bench/failoverbench -out - -keep # no results file; keep the temp dir (replica logs)
//	go run ./bench/failoverbench -ladder BIN  # measure a prebuilt ladder binary
//
// It needs Go and PostgreSQL's server binaries (Debian's postgresql
// package: /usr/lib/postgresql/N/bin, or LADDER_PG_BINDIR). It builds the
// ladder binary once into a temp dir (or copies -ladder BIN there), starts
// a PostgreSQL server of its own there (internal/store/postgres/pgtest:
// initdb, a free port on 127.0.0.1, fsync off) with one database, the
// store of every replica (LADDER_STORE), and copies the trading demo the
// way the e2e tests do: go.mod and go.sum at the top, the stack under
// examples/trading, no .ladder; without its database (the process target
// runs no image, as in demotest.WithoutDatabase), web's published port made
// ephemeral, and e2e's two rungs, local and dev from local, both on the
// process target with `dashboard: 127.0.0.1:0`. No fixed port is used
// anywhere. Every command runs with LADDER_TARGET=process, LADDER_STORE
// and LADDER_TOKEN (an admin token made first with `ladder token create`).
//
// Setup (untimed): replica 1 (`ladder -C DIR serve --listen 127.0.0.1:PORT`)
// until STATE/engine.json names its PID; `ladder up -d` builds S1 and runs
// it on local through that engine, `ladder promote S1 --to dev`, then one
// more environment value on trades makes S2 (nothing built) and `ladder up
// -d` runs it on local: local runs S2, dev S1. Replica 2 starts and must
// say "standby: the engine of this store runs as pid P" naming the owner.
//
// Then 2N rounds alternate SIGKILL and SIGTERM of the owner. From the
// signal, one loop polls every 10 ms until every figure is in: the
// store's leases (the engine lease and each environment's agent lease,
// with the holder's PID and expiry), each rung's newest release,
// STATE/engine.json, and /proc for the instances that ran before the
// signal. The moment the standby took a lease is the expiry it wrote
// minus the lease TTL, and a rung runs again at the moment its resumed
// release finished (started and finished as ladder records them): these
// are ladder's own clock, to the millisecond, and do not depend on the
// poll. The process target's instances end with the engine that
// supervised them (killed or stopped), and the new owner resumes each
// rung from the store as a new release. Once engine.json names the
// standby, each rung's `GET /v1/envs/ENV/status` is also asked on the
// standby's --listen address with the token, every 100 ms (an answer
// costs the new owner work while it resumes), until it shows the site
// running its snapshot again (local S2, dev S1) with every service of
// the demo healthy on instances of that snapshot, none of which ran
// before the signal. The loop's longest period and how long the status
// answers took are reported. Then a fresh replica starts as the
// standby, untimed.
//
// Each round checks that it did the work it is timed for, or the program
// exits 1: the old owner exited (killed by SIGKILL; status 0 after
// SIGTERM) and so did its instances, the standby holds the engine lease
// and engine.json names it, the status API shows every environment
// running again as above, each environment's newest release is a new one
// of its snapshot by the engine's resume actor (ladder-engine) and
// succeeded, exactly eight service instances run under the copy (four
// services on two rungs: nothing runs twice), and the fresh replica says
// it is the standby of the new owner. For reference, the setup's first
// `ladder up` and its promotion to dev each start the four services on an
// empty site: their deploy.duration is printed beside the resume's.
//
// It prints Markdown (medians, min, max, N, every round, the lease
// timing, load averages, the exact commands) and writes the same to
// bench/results/failover-DATE.md. The goals (the standby owns the engine
// within the lease TTL after a SIGKILL, and within one renew interval
// after a SIGTERM) are reported, never asserted. Every wait has a time
// limit. At the end, also on failure or Ctrl-C: `ladder down --env local`
// and `--env dev` through the running engine, every replica stopped
// (standbys first, SIGTERM, then SIGKILL after a minute), PostgreSQL
// stopped and its directory removed, then a scan of /proc for any process
// whose executable lies under the temp dir (replicas, service instances),
// killed and reported.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/ladderhq/ladder/bench/internal/harness"
	"github.com/ladderhq/ladder/internal/demotest"
	"github.com/ladderhq/ladder/internal/store/postgres"
	"github.com/ladderhq/ladder/internal/store/postgres/pgtest"
)

func main() { os.Exit(realMain()) }

// bench is one run of the benchmark: its settings, the PostgreSQL server,
// the demo copy and the replicas it started.
type bench struct {
	*harness.Run
	n int

	pg    *pgtest.Server
	dsn   string
	st    *postgres.Store // the bench's own connection, to read leases and releases
	root  string          // the copy's module root
	dir   string          // the stack directory (ladder -C dir)
	env   []string        // added to every ladder command and replica
	token string

	s1, s2 string // dev runs s1, local s2

	mu       sync.Mutex
	replicas []*replica // every replica started, in order
}

// envs are the rungs, and the snapshot each runs is set up to run.
var envs = []string{"local", "dev"}

// services are the demo's services without its database.
var services = []string{"notifications", "trades", "users", "web"}

func realMain() int {
	b := &bench{}
	flag.IntVar(&b.n, "n", 5, "rounds of each: SIGKILL of the owner, SIGTERM of the owner (alternating)")
	bin := flag.String("ladder", "", "measure this ladder binary instead of building ./cmd/ladder")
	out := flag.String("out", "", "results file (default bench/results/failover-DATE.md in the module; \"-\" for none)")
	keep := flag.Bool("keep", false, "keep the temp dir (copy, replica logs) for inspection")
	flag.Parse()
	if b.n < 1 || flag.NArg() > 0 {
		fmt.Fprintln(os.Stderr, "usage: go run ./bench/failoverbench [-n 5] [-ladder BIN] [-out FILE] [-keep]")
		return 2
	}
	ctx, stop := harness.SignalContext()
	defer stop()

	r, err := harness.New("failoverbench", *keep)
	if err != nil {
		fmt.Fprintln(os.Stderr, "failoverbench:", err)
		return 1
	}
	b.Run = r
	res, runErr := b.run(ctx, *bin)
	cleanErr := r.Cleanup(5*time.Minute, harness.Hooks{After: b.stopAll})
	if !r.Outcome(ctx, runErr, cleanErr) {
		return 1
	}
	md := res.markdown(b)
	fmt.Print(md)
	if err := r.WriteResults(*out, "failover", md); err != nil {
		r.Logf("%v", err)
		return 1
	}
	return 0
}

// run takes every measurement; any failed check ends it with an error.
func (b *bench) run(ctx context.Context, bin string) (*results, error) {
	res := newResults()
	res.env = environ{Env: b.Environment()}
	if bin == "" {
		b.Logf("building ladder into %s", b.Bin)
	}
	// Bounded, so that a stuck build fails the run instead of hanging it.
	bctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	err := b.InstallLadder(bctx, bin)
	cancel()
	if err != nil {
		return nil, err
	}
	if err := b.setup(ctx, res); err != nil {
		return nil, err
	}
	for i := range 2 * b.n {
		k := kill
		if i%2 == 1 {
			k = term
		}
		if err := b.round(ctx, res, i+1, k); err != nil {
			return nil, err
		}
	}
	res.env.LoadAfter = harness.LoadAvg()
	return res, nil
}

// setup starts PostgreSQL, writes the copy, makes the token, starts the
// first replica, runs S1 on both rungs and S2 on local, and starts the
// standby.
func (b *bench) setup(ctx context.Context, res *results) error {
	b.Logf("setup: PostgreSQL, the demo copy, a token, the owner, S1 on local and dev, S2 on local, the standby")
	if err := b.startPostgres(ctx, res); err != nil {
		return err
	}
	d, err := harness.CopyDemo(b.Repo, filepath.Join(b.Tmp, "demo"))
	if err != nil {
		return err
	}
	b.root, b.dir = d.Root, d.Dir
	compose := filepath.Join(b.dir, "compose.yaml")
	data, err := os.ReadFile(compose)
	if err != nil {
		return err
	}
	stack, err := demotest.WithoutDatabase(string(data))
	if err == nil {
		stack, err = replace(stack, `"${WEB_PORT:-3000}:8080"`, `"8080"`)
	}
	if err != nil {
		return fmt.Errorf("%s: %w: update failoverbench", compose, err)
	}
	if err := harness.WriteTree(b.dir, map[string]string{"compose.yaml": stack, "ladder.yaml": ladderFile}); err != nil {
		return err
	}
	b.env = []string{"LADDER_TARGET=process", "LADDER_STORE=" + b.dsn, "LADDER_SIGNING_PASSWORD=failoverbench"}

	// token create starts nothing; what runs later is taken down with
	// the token, through the engine.
	r, err := b.ladderOK(ctx, "token", "create", "failoverbench", "--role", "admin", "-o", "json")
	if err != nil {
		return err
	}
	var tok struct {
		Token string `json:"token"`
	}
	if err := json.Unmarshal(r.Stdout, &tok); err != nil || !strings.HasPrefix(tok.Token, "ldr_") {
		return fmt.Errorf("ladder token create: no token in %q (%v)", r.Stdout, err)
	}
	b.token = tok.Token
	b.env = append(b.env, "LADDER_TOKEN="+b.token)
	var downs [][]string
	for _, env := range envs {
		downs = append(downs, []string{"down", "--env", env})
	}
	b.Track(b.dir, b.env, downs...)
	if b.st, err = postgres.Open(ctx, b.dsn); err != nil {
		return err
	}

	first, err := b.startReplica()
	if err != nil {
		return err
	}
	if err := b.waitOwner(ctx, first); err != nil {
		return err
	}

	// S1 on local, then dev: each starts the four services on an empty
	// site, as a resume does.
	up, err := b.up(ctx, services...)
	if err != nil {
		return err
	}
	b.s1 = up.Snapshot.ID
	res.Add("ref.up", up.Deploy.Duration)
	r, err = b.ladderOK(ctx, "promote", b.s1, "--to", "dev", "-o", "json")
	if err != nil {
		return err
	}
	var pr struct {
		Deploy *struct {
			Snapshot string        `json:"snapshot"`
			Release  int64         `json:"release"`
			Error    string        `json:"error"`
			Duration time.Duration `json:"duration"`
		} `json:"deploy"`
	}
	if err := json.Unmarshal(r.Stdout, &pr); err != nil || pr.Deploy == nil || pr.Deploy.Snapshot != b.s1 || pr.Deploy.Release == 0 || pr.Deploy.Error != "" {
		return fmt.Errorf("ladder promote %s --to dev: no release of it in the answer (%v):\n%s", short(b.s1), err, harness.Tail(r.Stdout))
	}
	res.Add("ref.promote", pr.Deploy.Duration)
	// S2: the same artifacts, one more environment value on trades.
	if stack, err = replace(stack, "      NOTIFICATIONS_URL: http://notifications:8080\n",
		"      NOTIFICATIONS_URL: http://notifications:8080\n      FAILOVERBENCH_VARIANT: \"2\"\n"); err != nil {
		return fmt.Errorf("compose.yaml: %w: update failoverbench", err)
	}
	if err := harness.WriteTree(b.dir, map[string]string{"compose.yaml": stack}); err != nil {
		return err
	}
	if up, err = b.up(ctx, "trades"); err != nil {
		return err
	}
	b.s2 = up.Snapshot.ID
	if b.s2 == b.s1 {
		return fmt.Errorf("the changed compose.yaml made the same snapshot %s", short(b.s1))
	}
	res.s1, res.s2 = b.s1, b.s2

	// Both rungs run what they should before the first round.
	for _, env := range envs {
		st, err := getStatus(ctx, first, b.token, env)
		if err != nil {
			return err
		}
		if why := notRunning(st, b.want(env), nil); why != "" {
			return fmt.Errorf("after setup, %s: %s", env, why)
		}
	}
	second, err := b.startReplica()
	if err != nil {
		return err
	}
	return b.waitStandby(ctx, second, first)
}

// ladderFile is e2e's twoRungs (local, and dev promoted from local, on
// the process target) with an ephemeral dashboard port on both: a served
// engine starts every rung, and local's default dashboard is 7700.
const ladderFile = `stack: compose.yaml
environments:
  local:
    target: process
    dashboard: 127.0.0.1:0
    telemetry: {interval: 1s}
  dev:
    from: local
    target: process
    dashboard: 127.0.0.1:0
    telemetry: {interval: 1s}
`

// want is the snapshot env runs once set up.
func (b *bench) want(env string) string {
	if env == "local" {
		return b.s2
	}
	return b.s1
}

// startPostgres starts the store's PostgreSQL server inside the run's
// temp dir and creates the database the replicas share.
func (b *bench) startPostgres(ctx context.Context, res *results) error {
	// pgtest makes its directory under TMPDIR; the server runs as the
	// postgres user when this runs as root, and must reach it.
	if err := os.Chmod(b.Tmp, 0o711); err != nil {
		return err
	}
	saved, had := os.LookupEnv("TMPDIR")
	os.Setenv("TMPDIR", b.Tmp)
	sctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	pg, err := pgtest.Start(sctx, pgtest.Options{})
	cancel()
	if had {
		os.Setenv("TMPDIR", saved)
	} else {
		os.Unsetenv("TMPDIR")
	}
	if err != nil {
		return fmt.Errorf("starting PostgreSQL: %w", err)
	}
	b.mu.Lock()
	b.pg = pg
	b.mu.Unlock()
	if b.dsn, err = pg.CreateDB(ctx, "failoverbench"); err != nil {
		return err
	}
	if bin, err := pgtest.BinDir(); err == nil {
		if out, err := exec.Command(filepath.Join(bin, "postgres"), "--version").Output(); err == nil {
			res.env.Postgres = strings.TrimSpace(string(out))
		}
	}
	return nil
}

// ladder runs the ladder binary in the copy with the run's environment.
func (b *bench) ladder(ctx context.Context, args ...string) (harness.Result, error) {
	return b.Ladder(ctx, b.dir, b.env, args...)
}

// ladderOK is ladder that fails unless the command exits 0.
func (b *bench) ladderOK(ctx context.Context, args ...string) (harness.Result, error) {
	r, err := b.ladder(ctx, args...)
	if err == nil && r.Code != 0 {
		err = fmt.Errorf("ladder %s: exit %d\n%s%s", strings.Join(args, " "), r.Code, harness.Tail(r.Stdout), harness.Tail(r.Stderr))
	}
	return r, err
}

// up runs `ladder up -d` on local through the served engine; its release
// must have changed exactly changed.
func (b *bench) up(ctx context.Context, changed ...string) (*harness.Up, error) {
	args := harness.UpArgs(true)
	r, err := b.ladder(ctx, args...)
	if err != nil {
		return nil, err
	}
	up, err := harness.ParseUp(r, args, "process")
	if err != nil {
		return nil, err
	}
	if _, err := up.Instances(services...); err != nil {
		return nil, fmt.Errorf("ladder up: %w", err)
	}
	if up.Deploy.Release == 0 || !harness.SameSet(up.Deploy.Changed, changed...) {
		return nil, fmt.Errorf("ladder up: release %d changed %v, want a release changing %v", up.Deploy.Release, up.Deploy.Changed, changed)
	}
	return up, nil
}

// replace replaces the first old in s by new, and fails if there is none.
func replace(s, old, new string) (string, error) {
	if !strings.Contains(s, old) {
		return "", fmt.Errorf("no %q", old)
	}
	return strings.Replace(s, old, new, 1), nil
}

// replica is a `ladder serve` the bench started.
type replica struct {
	num    int    // 1 for the first replica started
	pid    int    // its PID: the holder PID of its leases and engine.json
	listen string // its API over TCP, http://127.0.0.1:PORT
	cmd    *exec.Cmd
	logf   *os.File
	done   chan struct{} // closed once it exited
	exited time.Time     // when Wait returned
	err    error         // what Wait returned
	out    harness.Output
}

func (r *replica) output() string { return r.out.String() }

// running reports whether the replica has not exited.
func (r *replica) running() bool {
	select {
	case <-r.done:
		return false
	default:
		return true
	}
}

// startReplica starts `ladder -C DIR serve --listen 127.0.0.1:PORT`, its
// output in TMP/replica-N.log. It runs in a process group of its own, so
// that a Ctrl-C reaches only the bench (whose cleanup stops replicas in
// order), and is killed if the bench dies first.
func (b *bench) startReplica() (*replica, error) {
	port, err := harness.FreePort()
	if err != nil {
		return nil, err
	}
	b.mu.Lock()
	num := len(b.replicas) + 1
	b.mu.Unlock()
	logf, err := os.Create(filepath.Join(b.Tmp, fmt.Sprintf("replica-%d.log", num)))
	if err != nil {
		return nil, err
	}
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	r := &replica{num: num, listen: "http://" + addr, logf: logf, done: make(chan struct{})}
	r.cmd = exec.Command(b.Bin, "-C", b.dir, "serve", "--listen", addr)
	r.cmd.Env = append(os.Environ(), b.env...)
	w := io.MultiWriter(logf, &r.out)
	r.cmd.Stdout, r.cmd.Stderr = w, w
	r.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := r.cmd.Start(); err != nil {
		logf.Close()
		return nil, err
	}
	r.pid = r.cmd.Process.Pid
	b.mu.Lock()
	b.replicas = append(b.replicas, r)
	b.mu.Unlock()
	go func() {
		r.err = r.cmd.Wait()
		r.exited = time.Now()
		logf.Close()
		close(r.done)
	}()
	b.Logf("  replica %d started: pid %d, API on %s", num, r.pid, r.listen)
	return r, nil
}

// Limits of the untimed waits.
const (
	ownerLimit   = 30 * time.Second // a first replica owns the engine
	standbyLimit = 30 * time.Second // a new replica says it is the standby
	stopLimit    = time.Minute      // a replica exits after SIGTERM
)

// waitOwner waits until engine.json names r.
func (b *bench) waitOwner(ctx context.Context, r *replica) error {
	return b.waitFor(ctx, ownerLimit, r, "own the engine", func() bool { return b.enginePID() == r.pid })
}

// waitStandby waits until r says it is the standby of owner.
func (b *bench) waitStandby(ctx context.Context, r, owner *replica) error {
	line := fmt.Sprintf("standby: the engine of this store runs as pid %d ", owner.pid)
	if err := b.waitFor(ctx, standbyLimit, r, "say it is the standby of pid "+fmt.Sprint(owner.pid), func() bool {
		return strings.Contains(r.output(), line)
	}); err != nil {
		return err
	}
	if pid := b.enginePID(); pid != owner.pid {
		return fmt.Errorf("replica %d is a standby, but engine.json names pid %d, not the owner %d", r.num, pid, owner.pid)
	}
	return nil
}

// waitFor polls cond every 20 ms for at most limit, failing early if r
// exits.
func (b *bench) waitFor(ctx context.Context, limit time.Duration, r *replica, what string, cond func() bool) error {
	deadline := time.Now().Add(limit)
	for !cond() {
		if !r.running() {
			return fmt.Errorf("replica %d (pid %d) exited (%v) before it did %s:\n%s", r.num, r.pid, r.err, what, harness.Tail([]byte(r.output())))
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("replica %d (pid %d) did not %s within %s:\n%s", r.num, r.pid, what, limit, harness.Tail([]byte(r.output())))
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
	return nil
}

// enginePID is the PID STATE/engine.json names, 0 when there is none.
func (b *bench) enginePID() int {
	data, err := os.ReadFile(filepath.Join(b.dir, ".ladder", "engine.json"))
	if err != nil {
		return 0
	}
	var info struct {
		PID int `json:"pid"`
	}
	_ = json.Unmarshal(data, &info)
	return info.PID
}

// stop signals r and waits up to limit for it to exit, then kills it.
func stop(r *replica, sig syscall.Signal, limit time.Duration) error {
	if !r.running() {
		return nil
	}
	_ = r.cmd.Process.Signal(sig)
	select {
	case <-r.done:
		return nil
	case <-time.After(limit):
		_ = r.cmd.Process.Kill()
		<-r.done
		return fmt.Errorf("replica %d (pid %d) did not exit within %s of %s: killed", r.num, r.pid, limit, sig)
	}
}

// stopAll is the cleanup's After hook: once `ladder down` took both rungs
// down through the engine, every replica still running is stopped,
// standbys first (so that none takes over from the owner on its way
// out), then PostgreSQL.
func (b *bench) stopAll(ctx context.Context) error {
	b.mu.Lock()
	replicas := append([]*replica(nil), b.replicas...)
	pg := b.pg
	b.mu.Unlock()
	var errs []error
	owner := b.enginePID()
	for _, standby := range []bool{true, false} {
		for _, r := range replicas {
			if (r.pid != owner) == standby {
				errs = append(errs, stop(r, syscall.SIGTERM, stopLimit))
			}
		}
	}
	if b.st != nil {
		b.st.Close()
	}
	if pg != nil {
		if b.Keep {
			if log, err := os.ReadFile(filepath.Join(pg.Dir, "postgres.log")); err == nil {
				_ = os.WriteFile(filepath.Join(b.Tmp, "postgres.log"), log, 0o644)
			}
		}
		if err := pg.Stop(); err != nil {
			errs = append(errs, fmt.Errorf("stopping PostgreSQL: %w", err))
		}
	}
	return errors.Join(errs...)
}

// short is a snapshot ID's first 12 characters, as ladder prints them.
func short(id string) string {
	if len(id) > 12 {
		return id[:12]
	}
	return id
}
