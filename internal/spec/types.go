package spec

import (
	"time"

	"github.com/compose-spec/compose-go/v2/types"
	"gopkg.in/yaml.v3"
)

// Default file names, looked up in this order in the project directory.
var (
	LadderFileNames = []string{"ladder.yaml", "ladder.yml"}
	StackFileNames  = []string{"compose.yaml", "compose.yml", "docker-compose.yaml", "docker-compose.yml"}
)

// Project is everything ladder reads from a project directory.
type Project struct {
	// Dir is the absolute project directory (where ladder.yaml lives, or
	// the stack file's directory when there is no ladder.yaml).
	Dir string
	// LadderFile is the absolute path of ladder.yaml, or empty when the
	// defaults were used.
	LadderFile string
	Ladder     *Ladder
	Stack      *Stack

	// ladderSrc is ladder.yaml as parsed, for positioning later checks
	// (see LadderPos); zero when the defaults were used.
	ladderSrc source
}

// Stack is the loaded, interpolated and validated Compose model plus
// ladder's per-service extension (the `x-ladder` key of a service).
type Stack struct {
	// File is the absolute path of the stack file.
	File string
	// Name is the Compose project name.
	Name string
	// Compose is the model as compose-go loaded it.
	Compose *types.Project
	// Ext holds each service's x-ladder settings, with defaults applied.
	Ext map[string]ServiceExt
	// Hash is the sha256 (hex) of the canonical stack definition: the same
	// definition hashes the same on every machine and checkout directory.
	Hash string

	// Inactive lists the services that do not run because none of their
	// profiles is active, with their profiles; nil when every service runs.
	// They are not in Compose.Services.
	Inactive map[string][]string
	// Warnings are what compose-go warned about while loading, positioned
	// (an obsolete version, an unset variable); see Project.Warnings for
	// these with the fields a target does not apply.
	Warnings Diagnostics

	// src is the stack file as parsed, for positioning later checks (see
	// Project.StackPos).
	src source
	// fieldUses are the fields written that some target only warns about.
	fieldUses []fieldUse
}

// ServiceExt is the `x-ladder` extension of a Compose service.
type ServiceExt struct {
	// Health is an HTTP health probe; when set it is preferred to the
	// Compose healthcheck command for targets that can probe directly.
	Health *HTTPProbe `yaml:"health" json:"health,omitempty"`
	// Metrics is where the service exposes Prometheus metrics; nil means
	// the service is not scraped.
	Metrics *MetricsEndpoint `yaml:"metrics" json:"metrics,omitempty"`
	// Tier is the lowest dependency tier the service runs in: "lite"
	// (default: always), "standard" or "full".
	Tier string `yaml:"tier" json:"tier,omitempty"`
	// Job marks a service that runs to completion on every release, the
	// same way on every rung: "migration" or "seed". ladder records which
	// snapshot each job ran with, per environment.
	Job string `yaml:"job" json:"job,omitempty"`
}

// HTTPProbe is a health check by HTTP GET: healthy on a 2xx answer.
type HTTPProbe struct {
	Path string `yaml:"path" json:"path"`
	// Port is the container port to probe; 0 means the service's first port.
	Port int `yaml:"port" json:"port,omitempty"`
}

// MetricsEndpoint is a Prometheus scrape endpoint.
type MetricsEndpoint struct {
	Path string `yaml:"path" json:"path"`
	// Port is the container port to scrape; 0 means the service's first port.
	Port int `yaml:"port" json:"port,omitempty"`
}

// Ladder is the decoded ladder.yaml.
type Ladder struct {
	// Stack is the stack file, relative to ladder.yaml (default: the first
	// of StackFileNames that exists).
	Stack string `yaml:"stack" json:"stack,omitempty"`
	// State is the directory where ladder keeps its store, artifacts and
	// logs, relative to ladder.yaml (default ".ladder").
	State string `yaml:"state" json:"state,omitempty"`
	// Build sets what builds may read.
	Build BuildPolicy `yaml:"build" json:"build,omitempty"`
	// Environments are the rungs, in the order they are written.
	Environments []Environment `yaml:"environments" json:"environments"`
	// Retention says how long the store keeps telemetry, events and the
	// audit trail (see RetentionPolicy).
	Retention RetentionPolicy `yaml:"retention" json:"retention"`
}

// BuildPolicy sets what builds may read.
type BuildPolicy struct {
	// Outside lists directories outside the project (relative to
	// ladder.yaml, or absolute) that build contexts may lie in. Without
	// it a build context must be inside the project, so that a stack file
	// cannot send, say, /etc or a home directory to a builder.
	Outside []string `yaml:"outside" json:"outside,omitempty"`
}

// Environment is one rung of the ladder.
type Environment struct {
	// Name is the environment's key in the environments mapping.
	Name string `yaml:",key" json:"name"`
	// Target is the runtime kind for the environment's sites: "process",
	// "compose", or "auto" (compose when a Docker engine answers, else
	// process). Default "auto".
	Target string `yaml:"target" json:"target"`
	// Sites are the places the environment runs; default one site named
	// "default".
	Sites []Site `yaml:"sites" json:"sites"`
	// Dashboard is the address ladder serves the dashboard and API on while
	// it runs this environment (default 127.0.0.1:7700; port 0 picks one).
	Dashboard string `yaml:"dashboard" json:"dashboard,omitempty"`
	// DashboardAllowRemote lets Dashboard be an address other machines
	// reach (not loopback): the dashboard and its API have no
	// authentication, so this must be meant.
	DashboardAllowRemote bool `yaml:"dashboard_allow_remote" json:"dashboardAllowRemote,omitempty"`
	// Health bounds how long a release may take to become healthy.
	Health HealthPolicy `yaml:"health" json:"health"`
	// Telemetry sets how often services are scraped.
	Telemetry TelemetryPolicy `yaml:"telemetry" json:"telemetry"`
	// Values overlay the stack for this environment.
	Values Values `yaml:"values" json:"values"`

	// From is the rung this environment promotes from; a snapshot must
	// have run there before it may be promoted here. It must name an
	// earlier environment that is not a template. Empty for the first
	// rung; leaving it out on a later one loads, but `ladder lint` reports
	// it (rule rung-order).
	From string `yaml:"from" json:"from,omitempty"`
	// Gates must pass before a snapshot is promoted here.
	Gates Gates `yaml:"gates" json:"gates"`
	// AutoPromote promotes a snapshot here as soon as its gates pass (for
	// early rungs); `ladder promote --auto` acts on it.
	AutoPromote bool `yaml:"autoPromote" json:"autoPromote,omitempty"`
	// Protected environments only run signed snapshots whose signature and
	// artifacts verify.
	Protected bool `yaml:"protected" json:"protected,omitempty"`
	// Data says what data the environment holds: "throwaway", "seeded",
	// "synthetic" or "real" (production). Real data is never copied into a
	// rung that is not itself "real". Default "seeded".
	Data string `yaml:"data" json:"data,omitempty"`
	// Template marks an environment that is not run itself but
	// instantiated per pull request (previews: pr-<n>).
	Template bool `yaml:"template" json:"template,omitempty"`
	// Secrets lists the secret names the environment must have.
	Secrets []string `yaml:"secrets" json:"secrets,omitempty"`
	// Registry, when set, is where a promotion to this rung pushes the
	// snapshot's images (by digest) and where its engine pulls them from.
	// Without it the rung's engine is given the images from ladder's
	// local artifact store, with no registry at all.
	Registry *Registry `yaml:"registry" json:"registry,omitempty"`
}

// Registry is an OCI registry a rung pulls its images from. It is written
// as a mapping, or as its address alone: `registry: 127.0.0.1:5000/team`.
// Credentials come from the user's Docker configuration (docker login).
type Registry struct {
	// Address is host[:port][/path]: no scheme, tag or digest.
	Address string `yaml:"address" json:"address"`
	// Insecure talks plain HTTP to the registry. Loopback and private
	// addresses (127.0.0.1, localhost, 10.x, 192.168.x) do so anyway, as
	// the Docker engine does.
	Insecure bool `yaml:"insecure" json:"insecure,omitempty"`
}

// fromScalar takes `registry: ADDRESS`.
func (r *Registry) fromScalar(n *yaml.Node) bool {
	r.Address = n.Value
	return true
}

// Gates are the checks a promotion to an environment must pass.
type Gates struct {
	// Soak is how long the snapshot must have run healthy on the
	// previous rung.
	Soak time.Duration `yaml:"soak" json:"soak,omitempty"`
	// Tests are commands run against the previous rung; each must exit 0.
	Tests []GateTest `yaml:"tests" json:"tests,omitempty"`
	// Approvals is how many distinct identities must approve.
	Approvals int `yaml:"approvals" json:"approvals,omitempty"`
	// Signed requires the snapshot's signature to verify.
	Signed bool `yaml:"signed" json:"signed,omitempty"`
	// MaxErrorRate is the highest fraction (0..1) of requests a service
	// may answer 5xx over the soak on the previous rung; nil means
	// DefaultMaxErrorRate. It applies where the service exports metrics.
	MaxErrorRate *float64 `yaml:"maxErrorRate" json:"maxErrorRate,omitempty"`
	// MaxP95 is the highest p95 latency a service may show over the soak
	// on the previous rung; 0 sets no limit.
	MaxP95 time.Duration `yaml:"maxP95" json:"maxP95,omitempty"`
}

// DefaultMaxErrorRate is the error-rate limit of a rung that sets none:
// a release answering more than one request in twenty with a server
// error is not one to promote or to roll back to.
const DefaultMaxErrorRate = 0.05

// ErrorRateLimit is MaxErrorRate, or DefaultMaxErrorRate when unset.
func (g Gates) ErrorRateLimit() float64 {
	if g.MaxErrorRate != nil {
		return *g.MaxErrorRate
	}
	return DefaultMaxErrorRate
}

// GateTest is a named test command (smoke, e2e) run against a rung. It
// gets LADDER_SNAPSHOT, LADDER_ENVIRONMENT and <SERVICE>_URL for each
// published service of the rung's first site in its environment, and
// otherwise only a minimal environment: see GateTestBaseVars.
type GateTest struct {
	Name    string        `yaml:"name" json:"name"`
	Command []string      `yaml:"command" json:"command"`
	Timeout time.Duration `yaml:"timeout" json:"timeout,omitempty"`
	// Env declares what else the test gets: "NAME" passes NAME on from
	// the promoter's environment, "NAME=value" sets it. ladder's own
	// secrets (IsLadderSecretVar) are never passed.
	Env []string `yaml:"env" json:"env,omitempty"`
}

// Site is one place an environment runs.
type Site struct {
	Name string `yaml:"name" json:"name"`
	// Target is the runtime the site runs on and how to reach it; a kind
	// left out is the environment's target.
	Target SiteTarget `yaml:"target" json:"target,omitzero"`
	// Values are what legitimately differs between the sites of one
	// environment: where it is, what it talks to, how much it takes.
	Values SiteValues `yaml:"values" json:"values,omitzero"`
}

// Site target kinds.
const (
	KindCompose    = "compose"
	KindProcess    = "process"
	KindHybrid     = "hybrid"
	KindKubernetes = "kubernetes"
)

// SiteKinds are the target kinds a site may name.
var SiteKinds = []string{KindCompose, KindProcess, KindHybrid}

// SiteTarget is the runtime behind a site. It is written as a mapping,
// or as its kind alone: `target: compose`.
type SiteTarget struct {
	// Kind is "compose", "process" or "hybrid"; empty means the
	// environment's target.
	Kind string `yaml:"kind" json:"kind,omitempty"`
	// Docker is the engine the site's containers run on (the compose
	// target, and the engine half of process and hybrid); nil means the
	// engine DOCKER_HOST names, or the local socket.
	Docker *DockerConn `yaml:"docker" json:"docker,omitempty"`
}

// fromScalar takes `target: KIND`.
func (t *SiteTarget) fromScalar(n *yaml.Node) bool {
	t.Kind = n.Value
	return true
}

// DockerConn says how to reach a Docker engine.
type DockerConn struct {
	// Host is the engine's address: unix:///path, tcp://host:port or
	// ssh://[user@]host[:port].
	Host string `yaml:"host" json:"host"`
	// TLS holds the files (relative to ladder.yaml, or absolute) of a
	// TLS connection to a tcp:// engine.
	TLS *DockerTLS `yaml:"tls" json:"tls,omitempty"`
	// Insecure talks TLS to the engine without verifying its
	// certificate (a client certificate may still be given).
	Insecure bool `yaml:"insecure" json:"insecure,omitempty"`
}

// DockerTLS is the TLS material of an engine connection.
type DockerTLS struct {
	CA   string `yaml:"ca" json:"ca,omitempty"`
	Cert string `yaml:"cert" json:"cert,omitempty"`
	Key  string `yaml:"key" json:"key,omitempty"`
}

// SiteValues are a site's own values.
type SiteValues struct {
	// Region names where the site runs, e.g. "eu-west-1".
	Region string `yaml:"region" json:"region,omitempty"`
	// Endpoints are the URLs of what the site talks to, by name
	// (databases, queues, third-party APIs of that region).
	Endpoints map[string]string `yaml:"endpoints" json:"endpoints,omitempty"`
	// Capacity is the site's share of the environment's traffic and
	// load, relative to its other sites; 0 means unset.
	Capacity int `yaml:"capacity" json:"capacity,omitempty"`
}

// KindOf is the target kind of site s of environment e: the site's own,
// else the environment's (which may be "auto").
func (e *Environment) KindOf(s Site) string {
	if s.Target.Kind != "" {
		return s.Target.Kind
	}
	return e.Target
}

// Site returns the site named name of e, or false.
func (e *Environment) Site(name string) (*Site, bool) {
	for i := range e.Sites {
		if e.Sites[i].Name == name {
			return &e.Sites[i], true
		}
	}
	return nil, false
}

// HealthPolicy bounds health waits.
type HealthPolicy struct {
	// Timeout is the longest a service may take to become healthy in a
	// release before the release fails (default 60s).
	Timeout time.Duration `yaml:"timeout" json:"timeout"`
}

// TelemetryPolicy configures scraping.
type TelemetryPolicy struct {
	// Interval between scrapes (default 2s).
	Interval time.Duration `yaml:"interval" json:"interval"`
}

// Values is an environment's overlay on the stack.
type Values struct {
	// Tier is the dependency tier the environment runs: "lite",
	// "standard" or "full" (default). A service marked with a higher tier
	// (x-ladder: {tier: full}) does not run on a lower one.
	Tier     string                   `yaml:"tier" json:"tier,omitempty"`
	Services map[string]ServiceValues `yaml:"services" json:"services,omitempty"`
}

// ServiceValues is what an environment may change about one service.
type ServiceValues struct {
	// Replicas overrides deploy.replicas; nil keeps the stack's value.
	Replicas *int `yaml:"replicas" json:"replicas,omitempty"`
	// Environment adds or replaces environment variables (endpoints,
	// feature flags).
	Environment map[string]string `yaml:"environment" json:"environment,omitempty"`
	// Secrets maps environment variables to secret names of the
	// environment, injected at deploy and never shown.
	Secrets map[string]string `yaml:"secrets" json:"secrets,omitempty"`
	// Resources sets CPU and memory limits (scale).
	Resources *Resources `yaml:"resources" json:"resources,omitempty"`
	// Ports publishes a container port (the key) on another host port
	// (the value; 0 picks a free one): an endpoint, so each rung may use
	// its own, which lets several rungs run on one machine.
	Ports map[string]int `yaml:"ports" json:"ports,omitempty"`

	// Forbidden holds fields an overlay may not change (image, build,
	// command, entrypoint, healthcheck, depends_on, ...), kept with their
	// positions so `ladder lint` can report each as a parity violation.
	Forbidden []ForbiddenField `yaml:"-" json:"-"`
}

// Resources are per-instance limits.
type Resources struct {
	CPUs   string `yaml:"cpus" json:"cpus,omitempty"`
	Memory string `yaml:"memory" json:"memory,omitempty"`
}

// ForbiddenField is a field set in a values overlay that must not differ
// between environments.
type ForbiddenField struct {
	Field     string `json:"field"`
	File      string `json:"file"`
	Line, Col int    `json:"-"`
	Path      string `json:"path"`
}

// Environment returns the environment named name, or false.
func (l *Ladder) Environment(name string) (*Environment, bool) {
	for i := range l.Environments {
		if l.Environments[i].Name == name {
			return &l.Environments[i], true
		}
	}
	return nil, false
}
