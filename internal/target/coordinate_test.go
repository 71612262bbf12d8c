package target

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/ladderhq/ladder/internal/plan"
	"github.com/ladderhq/ladder/internal/render"
)

// halvesText is a half-by-half text form of Split's result.
func halvesText(hs []Half) string {
	var b strings.Builder
	for _, h := range hs {
		var names []string
		for _, s := range h.Desired.Services {
			names = append(names, s.Name)
		}
		fmt.Fprintf(&b, "%s %v:", h.Side, names)
		for _, sp := range h.Plan.Services {
			var stop []string
			for _, in := range sp.Stop {
				stop = append(stop, in.Slot)
			}
			fmt.Fprintf(&b, " %s/%s start=%v after=%v stop=%v;", sp.Service, sp.Action, sp.Start, sp.After, stop)
		}
		b.WriteString("\n")
	}
	return b.String()
}

func TestSplit(t *testing.T) {
	dep := func(s string) []render.Dependency {
		return []render.Dependency{{Service: s, Condition: render.ConditionHealthy}}
	}
	app := render.Service{Name: "app", DependsOn: dep("db")}
	db := render.Service{Name: "db"}
	worker := render.Service{Name: "worker", DependsOn: dep("app")}
	probe := render.Service{Name: "probe", DependsOn: dep("app")}
	for _, tc := range []struct {
		name     string
		services []render.Service
		plan     []plan.ServicePlan
		sides    map[string]Side
		observed map[string]Side
		want     string
		wantErr  bool
	}{{
		name:     "native code after its containerized database",
		services: []render.Service{db, app},
		plan: []plan.ServicePlan{
			{Service: "db", Action: plan.ActionCreate, Start: []string{"1"}},
			{Service: "app", Action: plan.ActionCreate, Start: []string{"1"}, After: []string{"db"}},
		},
		sides: map[string]Side{"db": SideEngine, "app": SideNative},
		want:  "engine [db]: db/create start=[1] after=[] stop=[];\nnative [app]: app/create start=[1] after=[] stop=[];\n",
	}, {
		name:     "a container that checks a native service comes after it",
		services: []render.Service{app, probe},
		plan: []plan.ServicePlan{
			{Service: "app", Action: plan.ActionCreate, Start: []string{"1"}},
			{Service: "probe", Action: plan.ActionCreate, Start: []string{"1"}, After: []string{"app"}},
		},
		sides: map[string]Side{"app": SideNative, "probe": SideEngine},
		want:  "native [app]: app/create start=[1] after=[] stop=[];\nengine [probe]: probe/create start=[1] after=[] stop=[];\n",
	}, {
		name:     "order within one side is kept",
		services: []render.Service{db, app, worker},
		plan: []plan.ServicePlan{
			{Service: "db", Action: plan.ActionKeep, Keep: []string{"1"}},
			{Service: "app", Action: plan.ActionCreate, Start: []string{"1"}},
			{Service: "worker", Action: plan.ActionCreate, Start: []string{"1"}, After: []string{"app"}},
		},
		sides: map[string]Side{"db": SideEngine, "app": SideNative, "worker": SideNative},
		want:  "engine [db]: db/keep start=[] after=[] stop=[];\nnative [app worker]: app/create start=[1] after=[] stop=[]; worker/create start=[1] after=[app] stop=[];\n",
	}, {
		name:     "a service that moved is stopped where it ran",
		services: []render.Service{db},
		plan: []plan.ServicePlan{
			{Service: "db", Action: plan.ActionReplace, Start: []string{"1-b"}, Stop: []plan.Instance{{Service: "db", Slot: "1-a"}}},
		},
		sides:    map[string]Side{"db": SideEngine},
		observed: map[string]Side{"db/1-a": SideNative},
		want:     "engine [db]: db/replace start=[1-b] after=[] stop=[];\nnative []: db/remove start=[] after=[] stop=[1-a];\n",
	}, {
		name:     "a service gone from the stack is stopped on both sides",
		services: []render.Service{db},
		plan: []plan.ServicePlan{
			{Service: "db", Action: plan.ActionKeep, Keep: []string{"1"}},
			{Service: "old", Action: plan.ActionRemove, Stop: []plan.Instance{{Service: "old", Slot: "1"}}},
		},
		sides: map[string]Side{"db": SideEngine},
		want:  "engine [db]: db/keep start=[] after=[] stop=[]; old/remove start=[] after=[] stop=[1];\nnative []: old/remove start=[] after=[] stop=[1];\n",
	}, {
		name:     "dependencies across the boundary both ways are refused",
		services: []render.Service{db, app, probe},
		sides:    map[string]Side{"db": SideEngine, "app": SideNative, "probe": SideEngine},
		wantErr:  true,
	}} {
		t.Run(tc.name, func(t *testing.T) {
			d := &render.Desired{Services: tc.services}
			hs, err := Split(d, &plan.Plan{Services: tc.plan}, tc.sides, tc.observed)
			if tc.wantErr {
				var ce *CrossOrderError
				if !errors.As(err, &ce) {
					t.Fatalf("want a CrossOrderError, got %v", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := halvesText(hs); got != tc.want {
				t.Errorf("got\n%s\nwant\n%s", got, tc.want)
			}
		})
	}
}
