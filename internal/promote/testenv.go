package promote

import (
	"slices"
	"strings"

	"github.com/ladderhq/ladder/internal/spec"
)

// testEnv is the whole environment of a gate test. A gate test is a
// command whoever edits ladder.yaml chooses, run with the promoter's
// rights: it gets the variables a command needs to run
// (spec.GateTestBaseVars, LC_*), the LADDER_* variables that are not
// secrets, what ladder provides (provided: LADDER_SNAPSHOT, the rung's
// service URLs...) and what the test declares, and nothing else from
// environ (the promoter's environment): no signing password, age keys or
// cloud credentials unless declared, and ladder's own secrets never.
func testEnv(environ, provided, declared []string) []string {
	from := map[string]string{}
	for _, kv := range environ {
		if k, v, ok := strings.Cut(kv, "="); ok {
			from[k] = v
		}
	}
	env := map[string]string{}
	for k, v := range from {
		if slices.Contains(spec.GateTestBaseVars, k) || strings.HasPrefix(k, "LC_") || strings.HasPrefix(k, "LADDER_") {
			env[k] = v
		}
	}
	for _, d := range declared {
		if k, v, ok := strings.Cut(d, "="); ok {
			env[k] = v
		} else if v, ok := from[k]; ok {
			env[k] = v
		}
	}
	for _, kv := range provided {
		if k, v, ok := strings.Cut(kv, "="); ok {
			env[k] = v
		}
	}
	out := make([]string, 0, len(env))
	for k, v := range env {
		if spec.IsLadderSecretVar(k) {
			continue
		}
		out = append(out, k+"="+v)
	}
	slices.Sort(out)
	return out
}
