package spec

import (
	"time"

	"github.com/compose-spec/compose-go/v2/types"
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
}

// ServiceExt is the `x-ladder` extension of a Compose service.
type ServiceExt struct {
	// Health is an HTTP health probe; when set it is preferred to the
	// Compose healthcheck command for targets that can probe directly.
	Health *HTTPProbe `yaml:"health" json:"health,omitempty"`
	// Metrics is where the service exposes Prometheus metrics; nil means
	// the service is not scraped.
	Metrics *MetricsEndpoint `yaml:"metrics" json:"metrics,omitempty"`
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
	// Environments are the rungs, in the order they are written.
	Environments []Environment `yaml:"environments" json:"environments"`
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
	// Health bounds how long a release may take to become healthy.
	Health HealthPolicy `yaml:"health" json:"health"`
	// Telemetry sets how often services are scraped.
	Telemetry TelemetryPolicy `yaml:"telemetry" json:"telemetry"`
	// Values overlay the stack for this environment.
	Values Values `yaml:"values" json:"values"`
}

// Site is one place an environment runs.
type Site struct {
	Name string `yaml:"name" json:"name"`
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
	Services map[string]ServiceValues `yaml:"services" json:"services,omitempty"`
}

// ServiceValues is what an environment may change about one service.
type ServiceValues struct {
	// Replicas overrides deploy.replicas; nil keeps the stack's value.
	Replicas *int `yaml:"replicas" json:"replicas,omitempty"`
	// Environment adds or replaces environment variables.
	Environment map[string]string `yaml:"environment" json:"environment,omitempty"`
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
