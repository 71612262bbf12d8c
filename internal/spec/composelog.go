package spec

import (
	"io"
	"regexp"
	"strings"
	"sync"

	"github.com/sirupsen/logrus"
	"gopkg.in/yaml.v3"
)

// compose-go reports warnings (an obsolete `version`, an unset variable,
// "yes" for a boolean) through logrus's standard logger. ladder turns them
// into positioned warnings instead of letting raw log lines reach the
// user's terminal; logMu serialises loads while the logger is borrowed.
var logMu sync.Mutex

type logHook struct {
	mu      sync.Mutex
	entries []string
}

func (h *logHook) Levels() []logrus.Level { return logrus.AllLevels }

func (h *logHook) Fire(e *logrus.Entry) error {
	if e.Level > logrus.WarnLevel {
		return nil
	}
	h.mu.Lock()
	h.entries = append(h.entries, e.Message)
	h.mu.Unlock()
	return nil
}

func (h *logHook) count() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.entries)
}

func (h *logHook) since(n int) []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]string(nil), h.entries[n:]...)
}

// withComposeLogs runs fn with compose-go's log output captured in h.
func withComposeLogs(fn func(h *logHook)) {
	logMu.Lock()
	defer logMu.Unlock()
	l := logrus.StandardLogger()
	h := &logHook{}
	out := l.Out
	l.SetOutput(io.Discard)
	hooks := l.ReplaceHooks(logrus.LevelHooks{})
	l.AddHook(h)
	defer func() {
		l.ReplaceHooks(hooks)
		l.SetOutput(out)
	}()
	fn(h)
}

var (
	obsoleteVersionRe = regexp.MustCompile("the attribute `version` is obsolete")
	yamlBoolRe        = regexp.MustCompile(`^"([^"]+)" for boolean is not supported by YAML 1\.2, please use ` + "`(true|false)`")
)

// logWarnings positions compose-go's warnings: at the field they concern
// where the message says, else at the top of the file. seen holds messages
// already reported at a precise place (an unset variable is reported
// where it is used, during interpolation).
func logWarnings(file, absDir string, root *yaml.Node, msgs []string, seen map[string]bool) Diagnostics {
	var ds Diagnostics
	for _, msg := range msgs {
		if seen[msg] {
			continue
		}
		seen[msg] = true
		msg = strings.ReplaceAll(msg, absDir+"/", "")
		d := Diagnostic{File: file, Line: 1, Col: 1, Severity: SeverityWarning, Message: msg}
		switch {
		case obsoleteVersionRe.MatchString(msg):
			loc := locate(root, "version")
			d = at(file, loc.keyNode(), loc.Path, "the attribute `version` is obsolete and ignored; remove it")
		case yamlBoolRe.MatchString(msg):
			m := yamlBoolRe.FindStringSubmatch(msg)
			if segs := findScalar(root, nil, m[1]); segs != nil {
				loc := locate(root, segs...)
				d = at(file, loc.Value, loc.Path, "\""+m[1]+"\" is not a boolean in YAML 1.2; write "+m[2])
			}
		}
		d.Severity = SeverityWarning
		ds = append(ds, d)
	}
	return ds
}
