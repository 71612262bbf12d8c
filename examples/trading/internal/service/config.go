package service

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/ladderhq/ladder/examples/trading/internal/seed"
)

// DefaultPort is the port served when PORT is unset.
const DefaultPort = 8080

// Config is everything a service reads from its environment at start-up.
type Config struct {
	Service     string // service name, e.g. "users"
	Port        int
	Snapshot    string // LADDER_SNAPSHOT
	Environment string // LADDER_ENVIRONMENT
	Site        string // LADDER_SITE
	Seed        uint64
	Faults      Faults

	getenv func(string) string // for service-specific settings, see Service.Env
}

// LoadConfig reads the configuration of service from getenv (os.Getenv in
// production). Every invalid value is reported, not just the first, so an
// operator can fix a deployment in one go.
func LoadConfig(service string, getenv func(string) string) (Config, error) {
	c := Config{
		Service:     service,
		Snapshot:    getenv("LADDER_SNAPSHOT"),
		Environment: getenv("LADDER_ENVIRONMENT"),
		Site:        getenv("LADDER_SITE"),
		getenv:      getenv,
	}
	var errs []error
	var err error
	if c.Port, err = parsePort(getenv("PORT"), true); err != nil {
		errs = append(errs, err)
	}
	if c.Seed, err = parseSeed(getenv("SEED")); err != nil {
		errs = append(errs, err)
	}
	if c.Faults, err = ParseFaults(getenv); err != nil {
		errs = append(errs, err)
	}
	return c, errors.Join(errs...)
}

// parsePort parses PORT; 0 (any free port) is allowed only when serving,
// since a health check cannot dial it.
func parsePort(v string, allowZero bool) (int, error) {
	v = strings.TrimSpace(v)
	if v == "" {
		return DefaultPort, nil
	}
	p, err := strconv.Atoi(v)
	if err != nil || p < 0 || p > 65535 || (p == 0 && !allowZero) {
		return 0, fmt.Errorf("PORT=%q: must be a TCP port number 1..65535", v)
	}
	return p, nil
}

func parseSeed(v string) (uint64, error) {
	v = strings.TrimSpace(v)
	if v == "" {
		return seed.Default, nil
	}
	s, err := strconv.ParseUint(v, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("SEED=%q: must be an unsigned integer", v)
	}
	return s, nil
}

// EnvMap returns a getenv function backed by m, for tests and tools that
// run a service in-process.
func EnvMap(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}
