package hybrid

import (
	"reflect"
	"testing"

	"github.com/ladderhq/ladder/internal/render"
	"github.com/ladderhq/ladder/internal/target"
)

func TestEnginePortsAndExtraHosts(t *testing.T) {
	d := &render.Desired{Services: []render.Service{
		{Name: "api", Environment: map[string]string{
			"DATABASE_URL": "postgres://u@db:5432/x",
			"CACHE":        "cache:6379,cache:6380",
			"SELF":         "http://api:8080",
		}},
		{Name: "db", Ports: []render.Port{{Target: 5432, Published: 15432}}},
		{Name: "cache", Runtime: &render.Runtime{Expose: []string{"6379/tcp"}}},
		{Name: "edge", Networks: []string{"front", "back"}, Runtime: &render.Runtime{ExtraHosts: []string{"x.local:10.0.0.1"}}},
		{Name: "hostnet", Runtime: &render.Runtime{NetworkMode: "host"}},
	}}
	sides := map[string]target.Side{"api": target.SideNative, "db": target.SideEngine, "cache": target.SideEngine, "edge": target.SideEngine, "hostnet": target.SideEngine}
	got := enginePorts(d, sides)
	want := map[string][]int{"db": {5432}, "cache": {6379, 6380}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("enginePorts = %v, want %v", got, want)
	}

	orig := d.Services[3].Runtime
	ExtraHosts(d, []string{"api"}, map[string]string{"default": "172.30.0.1", "front": "172.31.0.1", "back": "172.32.0.1"})
	for _, tc := range []struct {
		service string
		want    []string
	}{
		{"db", []string{"api:172.30.0.1"}},
		{"edge", []string{"api:172.31.0.1", "x.local:10.0.0.1"}},
		{"hostnet", nil},
	} {
		svc, _ := d.Service(tc.service)
		var have []string
		if svc.Runtime != nil {
			have = svc.Runtime.ExtraHosts
		}
		if !reflect.DeepEqual(have, tc.want) {
			t.Errorf("%s extra_hosts = %v, want %v", tc.service, have, tc.want)
		}
	}
	if !reflect.DeepEqual(orig.ExtraHosts, []string{"x.local:10.0.0.1"}) {
		t.Errorf("the stack's own runtime was changed: %v", orig.ExtraHosts)
	}
}
