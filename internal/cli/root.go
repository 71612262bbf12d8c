package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/docker/docker/client"
	"github.com/spf13/cobra"

	"github.com/ladderhq/ladder/internal/agent"
	"github.com/ladderhq/ladder/internal/auth"
	"github.com/ladderhq/ladder/internal/build"
	"github.com/ladderhq/ladder/internal/secrets"
	"github.com/ladderhq/ladder/internal/spec"
	"github.com/ladderhq/ladder/internal/store"
	storeopen "github.com/ladderhq/ladder/internal/store/open"
	"github.com/ladderhq/ladder/internal/store/sqlite"
	"github.com/ladderhq/ladder/internal/target"
)

// IO is where commands read and write.
type IO struct {
	In       io.Reader
	Out, Err io.Writer
	// Kinds replace the built-in target kinds of the same name, or add
	// to them: a program that embeds ladder runs sites on a runtime of its
	// own (servebench's sites only record what they are given).
	Kinds []target.Kind
}

// app is what every command shares: streams and global flags.
type app struct {
	IO
	dir        string
	ladderFile string
	stackFile  string
	output     string
	verbose    bool
	// target overrides the environment's target kind (up, agent).
	target string
	// dashboardAllowRemote lets the dashboard listen on an address other
	// machines reach (up, agent, demo).
	dashboardAllowRemote bool
	// profiles are the Compose profiles to activate (--profile).
	profiles []string
	// inEngine starts an environment in the engine this process runs
	// (ladder serve), for agents that promote to a rung not running yet.
	inEngine func(ctx context.Context, env string) (*agent.Client, error)
	// resume makes agents bring back their last release (ladder serve).
	resume bool
	// projects, in an engine, keeps the loaded project while its files
	// are unchanged (nil: every load reads them).
	projects *spec.Cache
}

// New returns ladder's root command.
func New(streams IO) *cobra.Command {
	a := &app{IO: streams}
	root := &cobra.Command{
		Use:   "ladder",
		Short: "Take a microservice stack up the environment ladder",
		Long: `ladder builds every service of a stack once, records the result as an
immutable snapshot, deploys it, and ties every health signal, metric and
event to that snapshot's ID.

The stack is a Compose file (compose.yaml); the environments are in
ladder.yaml. Without a ladder.yaml, ladder uses one environment, "local".

` + exitCodesHelp,
		Example: `  # run the embedded demo stack end to end
  ladder demo

  # build what changed, snapshot and run the stack in this directory
  ladder up
  ladder up -d            # detached; the dashboard keeps running
  ladder status -o json   # what runs, healthy or not, for scripts
  ladder logs trades -f
  ladder down`,
		SilenceUsage:  true,
		SilenceErrors: true,
		Version:       version(),
	}
	root.SetIn(streams.In)
	root.SetOut(streams.Out)
	root.SetErr(streams.Err)
	pf := root.PersistentFlags()
	pf.StringVarP(&a.dir, "dir", "C", ".", "project directory (where ladder.yaml or compose.yaml is)")
	pf.StringVar(&a.ladderFile, "file", "", "ladder file (default: ladder.yaml in the project directory)")
	pf.StringVar(&a.stackFile, "stack", "", "stack file (default: the ladder file's stack, else compose.yaml)")
	pf.StringVarP(&a.output, "output", "o", "text", "output format: text or json")
	pf.BoolVarP(&a.verbose, "verbose", "v", false, "log what ladder does to stderr")
	pf.StringArrayVar(&a.profiles, "profile", nil, "Compose profile to activate (repeatable; default: COMPOSE_PROFILES)")
	_ = root.RegisterFlagCompletionFunc("output", cobra.FixedCompletions([]string{"text", "json"}, cobra.ShellCompDirectiveNoFileComp))
	root.PersistentPreRunE = func(cmd *cobra.Command, _ []string) error {
		if a.output != "text" && a.output != "json" {
			return exitf(ExitConfig, "--output must be text or json, not %q", a.output)
		}
		return nil
	}
	root.AddCommand(
		newUpCmd(a),
		newBuildCmd(a),
		newDownCmd(a),
		newStatusCmd(a),
		newLogsCmd(a),
		newValidateCmd(a),
		newLintCmd(a),
		newDiffCmd(a),
		newSnapshotsCmd(a),
		newSnapshotCmd(a),
		newDriftCmd(a),
		newPromoteCmd(a),
		newApproveCmd(a),
		newRollbackCmd(a),
		newHistoryCmd(a),
		newAuditCmd(a),
		newEventsCmd(a),
		newSecretCmd(a),
		newKeysCmd(a),
		newTrustCmd(a),
		newPolicyCmd(a),
		newCheckCmd(a),
		newJobsCmd(a),
		newSignCmd(a),
		newVerifyCmd(a),
		newSBOMCmd(a),
		newPushCmd(a),
		newPullCmd(a),
		newDemoCmd(a),
		newServeCmd(a),
		newTokenCmd(a),
		newWhoamiCmd(a),
		newDashboardCmd(a),
	)
	return root
}

func (a *app) json() bool { return a.output == "json" }

func (a *app) printJSON(v any) error {
	enc := json.NewEncoder(a.Out)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

func (a *app) logger() *slog.Logger {
	if !a.verbose {
		return slog.New(slog.DiscardHandler)
	}
	return slog.New(slog.NewTextHandler(a.Err, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

func (a *app) loadOptions() spec.LoadOptions {
	return spec.LoadOptions{LadderFile: a.ladderFile, StackFile: a.stackFile, Profiles: a.profiles, RequireContexts: true}
}

// load reads and validates the project's files.
func (a *app) load(ctx context.Context) (*spec.Project, error) {
	dir, err := filepath.Abs(a.dir)
	if err != nil {
		return nil, err
	}
	if a.projects != nil {
		return a.projects.Load(ctx, dir, a.loadOptions())
	}
	return spec.Load(ctx, dir, a.loadOptions())
}

// workspace is an opened project: its files, store and builder.
type workspace struct {
	project  *spec.Project
	stateDir string
	store    store.Store
	builder  *build.Builder
	// memo is shared by every builder of the workspace (see build.Memo).
	memo   *build.Memo
	docker *client.Client
	// logger is the command's (-v).
	logger *slog.Logger
	// innerLoop: the workspace rebuilds the same services on every save
	// (`up --watch`), so its builders learn and use recipes, and store
	// Go layers uncompressed.
	innerLoop bool
	// unpackAhead: Go images are unpacked for the process target as soon
	// as they are built (build.Options.Unpack).
	unpackAhead bool
	// redactor hides every secret value this process has loaded.
	redactor *secrets.Redactor
	// who is the command's authenticated principal, once known;
	// tokenErr is why the local admin token could not be made.
	who      *auth.Principal
	tokenErr error
	// ifMatch is the If-Match of the request an engine serves: the
	// rung it changes must still be in the state the client saw
	// (promote.EnvTag).
	ifMatch string
}

func (a *app) open(ctx context.Context) (*workspace, error) {
	p, err := a.load(ctx)
	if err != nil {
		return nil, err
	}
	return a.openProject(p)
}

func (a *app) openProject(p *spec.Project) (*workspace, error) {
	stateDir := p.Ladder.State
	if !filepath.IsAbs(stateDir) {
		stateDir = filepath.Join(p.Dir, stateDir)
	}
	if err := makeStateDir(stateDir); err != nil {
		return nil, err
	}
	st, err := openStore(stateDir)
	if err != nil {
		return nil, err
	}
	w := &workspace{project: p, stateDir: stateDir, store: st, memo: build.NewMemo(), redactor: secrets.NewRedactor(), logger: a.logger()}
	ctx, cancel := context.WithTimeout(context.Background(), storeOpenTimeout)
	defer cancel()
	// A store that cannot make the token is reported by what needs it
	// (or by the store's own checks): stopping what runs must still work.
	w.tokenErr = w.ensureLocalToken(ctx)
	// The client connects only when a Dockerfile service is built.
	if c, err := build.NewDockerClient(); err == nil {
		w.docker = c
	}
	w.builder = w.newBuilder(nil)
	return w, nil
}

// storeOpenTimeout bounds connecting to (and migrating) a shared store, so
// an unreachable database fails a command instead of hanging it.
const storeOpenTimeout = 30 * time.Second

// openStore opens ladder's record: the store LADDER_STORE names when it is
// set (a postgres:// URL for a team's shared database), else the project's
// own SQLite file in its state directory. Errors never show a DSN's
// password.
func openStore(stateDir string) (store.Store, error) {
	if loc := os.Getenv(storeopen.EnvVar); loc != "" {
		ctx, cancel := context.WithTimeout(context.Background(), storeOpenTimeout)
		defer cancel()
		return storeopen.Open(ctx, loc)
	}
	return sqlite.Open(filepath.Join(stateDir, "ladder.db"))
}

// newBuilder returns a builder on the workspace's artifact store that
// reports progress to progress.
func (w *workspace) newBuilder(progress func(build.Progress)) *build.Builder {
	opts := build.Options{Store: w.store, Dir: filepath.Join(w.stateDir, "artifacts"), StateDir: w.stateDir, Progress: progress,
		BuildKitHost: os.Getenv(EnvBuildKitHost), Memo: w.memo, Shared: build.DefaultShared(), Logger: w.logger,
		Recipes: w.innerLoop, PlainLayers: w.innerLoop, Unpack: w.unpackAhead}
	if w.docker != nil {
		opts.Docker = w.docker
	}
	return build.New(opts)
}

func (w *workspace) Close() error {
	if w.docker != nil {
		w.docker.Close()
	}
	return w.store.Close()
}

// environment resolves --env: the named environment, or the first rung.
func (w *workspace) environment(name string) (*spec.Environment, error) {
	if name == "" {
		return &w.project.Ladder.Environments[0], nil
	}
	env, ok := w.project.Ladder.Environment(name)
	if !ok {
		var names []string
		for _, e := range w.project.Ladder.Environments {
			names = append(names, e.Name)
		}
		return nil, &ExitError{Code: ExitConfig, Err: fmt.Errorf("no environment %q in the ladder", name), Hint: fmt.Sprintf("one of %v", names)}
	}
	return env, nil
}

// EnvBuildKitHost names the BuildKit that builds Dockerfiles, as an
// address (unix:///run/buildkit/buildkitd.sock, tcp://host:1234), or
// "classic" for the Docker engine's classic builder. Unset, Dockerfiles
// are built by the Docker engine's own BuildKit.
const EnvBuildKitHost = "LADDER_BUILDKIT_HOST"
