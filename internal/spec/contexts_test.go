package spec

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestBuildContextsOutsideNeedTheOptIn(t *testing.T) {
	base := t.TempDir()
	shared := filepath.Join(base, "shared", "lib")
	compose := "services:\n  rel:\n    build: ../shared/lib\n  abs:\n    build: " + shared + "\n"
	writeFiles(t, base, map[string]string{
		"shared/lib/main.go": "package main\n",
		"proj/compose.yaml":  compose,
		"proj/ladder.yaml":   "environments:\n  local: {}\n",
	})
	proj := filepath.Join(base, "proj")
	ds := loadDiags(t, proj, LoadOptions{})
	if len(ds) != 2 || !strings.Contains(ds[0].Message, "is outside the project") || !strings.Contains(ds[1].Message, "is an absolute path") {
		t.Fatalf("without build.outside: %s", ds.Error())
	}

	writeFiles(t, proj, map[string]string{"ladder.yaml": "build:\n  outside: [../shared]\nenvironments:\n  local: {}\n"})
	p := mustLoad(t, proj, LoadOptions{})
	if got := p.Stack.Compose.Services["rel"].Build.Context; got != shared {
		t.Errorf("context %s, want %s", got, shared)
	}

	// A symbolic link inside the project that leads out of it is outside.
	writeFiles(t, proj, map[string]string{"ladder.yaml": "environments:\n  local: {}\n", "compose.yaml": "services:\n  linked:\n    build: ./lib\n"})
	if err := symlink(shared, filepath.Join(proj, "lib")); err != nil {
		t.Fatal(err)
	}
	if ds := loadDiags(t, proj, LoadOptions{}); len(ds) != 1 || !strings.Contains(ds[0].String(), "services.linked.build: build context ./lib is outside the project") {
		t.Errorf("symlink out of the project: %s", ds.Error())
	}

	writeFiles(t, proj, map[string]string{"ladder.yaml": "build:\n  outside: [../nowhere]\nenvironments:\n  local: {}\n"})
	if ds := loadDiags(t, proj, LoadOptions{}); len(ds) != 2 || ds[1].String() != "ladder.yaml:2:13: build.outside[0]: ../nowhere: no such directory" {
		t.Errorf("missing build.outside directory: %s", ds.Error())
	}
}

func TestQuote(t *testing.T) {
	tests := []struct{ in, want string }{
		{"web", "web"},
		{"services.web.ports[0]", "services.web.ports[0]"},
		{"dir with space/compose.yaml", "dir with space/compose.yaml"},
		{"café", "café"},
		{"", `""`},
		{"evil\u202etxt.yaml", `"evil\u202etxt.yaml"`},
		{"a\x1b[31mred", `"a\x1b[31mred"`},
		{"two\nlines", `"two\nlines"`},
		{"zero\u200bwidth", `"zero\u200bwidth"`},
		{"bad\xffutf8", `"bad\xffutf8"`},
	}
	for _, tt := range tests {
		if got := Quote(tt.in); got != tt.want {
			t.Errorf("Quote(%q) = %s, want %s", tt.in, got, tt.want)
		}
	}
}

// Names a user wrote reach diagnostics quoted when they hold control or
// format characters, in the path and in the message.
func TestDiagnosticsQuoteHostileNames(t *testing.T) {
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{
		"compose.yaml": "services:\n  web:\n    build: \"./gnp.\u202eexe\"\n  \"api\u202e\":\n    image: nginx\n",
		"ladder.yaml":  "environments:\n  local: {}\n  dev:\n    from: \"loc\u202eal\"\n",
	})
	out := loadDiags(t, dir, LoadOptions{}).Error()
	for _, want := range []string{
		`compose.yaml:4:3: "services.api\u202e": additional property "api\u202e" is not allowed`,
		`ladder.yaml:4:11: environments.dev.from: environment dev promotes from "loc\u202eal", which is not defined`,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("diagnostics do not contain %s:\n%s", want, out)
		}
	}
	if strings.ContainsRune(out, '\u202e') {
		t.Errorf("a raw U+202E reached the diagnostics:\n%q", out)
	}
}

func symlink(target, link string) error { return os.Symlink(target, link) }

func TestContextNamesAreQuoted(t *testing.T) {
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{"compose.yaml": "services:\n  web:\n    build: \"./gnp.\u202eexe\"\n"})
	ds := loadDiags(t, dir, LoadOptions{RequireContexts: true})
	if want := `compose.yaml:3:12: services.web.build: build context "./gnp.\u202eexe": no such directory`; len(ds) != 1 || ds[0].String() != want {
		t.Errorf("got  %s\nwant %s", ds.Error(), want)
	}
}

func TestEscape(t *testing.T) {
	tests := []struct{ in, want string }{
		{"plain text", "plain text"},
		{"two\nlines\tand a tab", "two\nlines\tand a tab"},
		{"stack file evil\u202elmay.yaml", `stack file evil\u202elmay.yaml`},
		{"red \x1b[31malert", `red \x1b[31malert`},
		{"bad \xff byte", `bad \xff byte`},
		{"zero\u200bwidth café", `zero\u200bwidth café`},
	}
	for _, tt := range tests {
		if got := Escape(tt.in); got != tt.want {
			t.Errorf("Escape(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}
