package process

import (
	"reflect"
	"slices"
	"testing"

	"github.com/ladderhq/ladder/internal/render"
)

// A service other services reach by name gets a loopback port for each
// port they name and each port it exposes; its published ports come
// first and stay as they are.
func TestWithInternalPorts(t *testing.T) {
	lo := func(port int) render.Port { return render.Port{Target: port, Protocol: "tcp", HostIP: "127.0.0.1"} }
	pub := render.Port{Target: 8080, Published: 9000, Protocol: "tcp"}
	for _, tc := range []struct {
		name     string
		services []render.Service
		want     map[string][]render.Port
	}{
		{
			name: "named in a URL and an address",
			services: []render.Service{
				{Name: "edge", Ports: []render.Port{pub}, Environment: map[string]string{"UPSTREAM": "http://api:8080", "CHECK": "http://api:8080/healthz,store:9001"}},
				{Name: "api"},
				{Name: "store"},
			},
			want: map[string][]render.Port{"edge": {pub}, "api": {lo(8080)}, "store": {lo(9001)}},
		},
		{
			name: "a port already published is not added",
			services: []render.Service{
				{Name: "web", Environment: map[string]string{"API": "http://api:8080"}},
				{Name: "api", Ports: []render.Port{pub}},
			},
			want: map[string][]render.Port{"web": nil, "api": {pub}},
		},
		{
			name: "named by an alias",
			services: []render.Service{
				{Name: "web", Environment: map[string]string{"DB": "postgres://u@database:5432/x", "CACHE": "redis-box:6379"}},
				{Name: "db", Runtime: &render.Runtime{Aliases: map[string][]string{"default": {"database"}}}},
				{Name: "cache", Runtime: &render.Runtime{Aliases: map[string][]string{"back": {"redis-box"}}}},
			},
			want: map[string][]render.Port{"web": nil, "db": {lo(5432)}, "cache": {lo(6379)}},
		},
		{
			name: "expose and unknown names",
			services: []render.Service{
				{Name: "web", Runtime: &render.Runtime{Expose: []string{"7000/tcp", "7000"}}, Environment: map[string]string{"X": "example.com:443", "SELF": "web:7001"}},
			},
			want: map[string][]render.Port{"web": {lo(7000)}},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := &render.Desired{Services: tc.services}
			var before [][]render.Port
			for _, svc := range d.Services {
				before = append(before, slices.Clone(svc.Ports))
			}
			got := withInternalPorts(d)
			for _, svc := range got.Services {
				if !reflect.DeepEqual(svc.Ports, tc.want[svc.Name]) {
					t.Errorf("%s: ports %+v, want %+v", svc.Name, svc.Ports, tc.want[svc.Name])
				}
			}
			for i, svc := range d.Services {
				if !reflect.DeepEqual(svc.Ports, before[i]) {
					t.Errorf("%s: the desired state given was changed", svc.Name)
				}
			}
		})
	}
}
