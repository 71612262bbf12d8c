package drift

import (
	"sort"
	"strings"
)

// secretWords are the parts of a variable name that mark it as holding a
// secret. A guess errs on the side of redacting: a report that hides a
// harmless value costs little, one that prints a password leaks it into
// logs, events and terminals.
var secretWords = []string{"SECRET", "PASSWORD", "PASSWD", "TOKEN", "API_KEY", "PRIVATE", "CREDENTIAL"}

// DefaultSecret reports whether the environment variable key holds a
// secret, judging by its name: it contains SECRET, PASSWORD, PASSWD, TOKEN,
// API_KEY, PRIVATE or CREDENTIAL, or ends with _KEY (case-insensitive).
func DefaultSecret(key string) bool {
	k := strings.ToUpper(key)
	for _, w := range secretWords {
		if strings.Contains(k, w) {
			return true
		}
	}
	return strings.HasSuffix(k, "_KEY")
}

// IgnoreKeys returns an Options.IgnoreEnv that ignores exactly keys, for a
// runtime that adds a known set of variables (e.g. PATH and HOSTNAME for a
// container).
func IgnoreKeys(keys ...string) func(key string) bool {
	set := make(map[string]bool, len(keys))
	for _, k := range keys {
		set[k] = true
	}
	return func(key string) bool { return set[key] }
}

// minScrubLen is the shortest secret value scrubbed out of other text:
// shorter ones ("1", "on") would garble every value they occur in while
// hiding next to nothing.
const minScrubLen = 4

// scrubber removes secret values from text that is not itself a secret
// variable's value: a password inside DATABASE_URL, a token passed on a
// command line. Names alone cannot catch those.
type scrubber struct {
	r *strings.Replacer
}

// newScrubber scrubs the values of secret variables found in any of envs.
func newScrubber(secret func(string) bool, envs ...map[string]string) scrubber {
	seen := map[string]bool{}
	var values []string
	for _, env := range envs {
		for k, v := range env {
			if len(v) >= minScrubLen && secret(k) && !seen[v] {
				seen[v] = true
				values = append(values, v)
			}
		}
	}
	if len(values) == 0 {
		return scrubber{}
	}
	// Longest first, so a secret containing another is removed whole.
	sort.Slice(values, func(i, j int) bool {
		if len(values[i]) != len(values[j]) {
			return len(values[i]) > len(values[j])
		}
		return values[i] < values[j]
	})
	pairs := make([]string, 0, 2*len(values))
	for _, v := range values {
		pairs = append(pairs, v, Redacted)
	}
	return scrubber{strings.NewReplacer(pairs...)}
}

func (s scrubber) scrub(v string) string {
	if s.r == nil {
		return v
	}
	return s.r.Replace(v)
}
