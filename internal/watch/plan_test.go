package watch

import (
	"strings"
	"testing"

	"github.com/compose-spec/compose-go/v2/types"
)

func TestPlan(t *testing.T) {
	web, err := FromDevelop("web", "/src", &types.DevelopConfig{Watch: []types.Trigger{
		{Path: "static", Action: "sync", Target: "/app/static", Ignore: []string{"*.bak"}},
		{Path: "conf", Action: "sync+restart", Target: "/etc/web", Include: []string{"*.conf"}},
		{Path: "package.json", Action: "rebuild"},
	}})
	if err != nil {
		t.Fatal(err)
	}
	api := GoRules("api", []string{"/src/api", "/src/lib"})
	rules := append(web, api...)
	tests := []struct {
		name  string
		paths []string
		want  string
	}{
		{"sync", []string{"/src/static/a.css", "/src/static/img/b.png"},
			"web: sync\n  /src/static/a.css -> /app/static/a.css\n  /src/static/img/b.png -> /app/static/img/b.png"},
		{"ignored", []string{"/src/static/a.bak", "/src/static/.a.css.swp", "/src/other/x"}, ""},
		{"sync+restart with include", []string{"/src/conf/web.conf", "/src/conf/README"},
			"web: sync\n  /src/conf/web.conf -> /etc/web/web.conf\nweb: restart"},
		{"rebuild wins", []string{"/src/static/a.css", "/src/package.json"}, "web: rebuild"},
		{"go package, not its subdirectories", []string{"/src/lib/x.go", "/src/api/sub/y.go"}, "api: rebuild"},
		{"go package subdirectory only", []string{"/src/api/sub/y.go"}, ""},
		{"two services", []string{"/src/api/main.go", "/src/static/a.css"},
			"api: rebuild\nweb: sync\n  /src/static/a.css -> /app/static/a.css"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []string
			for _, s := range Plan(rules, tt.paths) {
				got = append(got, s.String())
			}
			if g := strings.Join(got, "\n"); g != tt.want {
				t.Errorf("Plan:\n%s\nwant:\n%s", g, tt.want)
			}
		})
	}
}

func TestFromDevelopErrors(t *testing.T) {
	_, err := FromDevelop("web", "/src", &types.DevelopConfig{Watch: []types.Trigger{
		{Path: "a", Action: "sync"},
	}})
	if err == nil || !strings.Contains(err.Error(), "services.web.develop.watch[0].target: required for sync") {
		t.Errorf("err = %v", err)
	}
	_, err = FromDevelop("web", "/src", &types.DevelopConfig{Watch: []types.Trigger{{Path: "a", Action: "sync+exec", Target: "/x"}}})
	if err == nil || !strings.Contains(err.Error(), "sync+exec is not supported") {
		t.Errorf("err = %v", err)
	}
}
