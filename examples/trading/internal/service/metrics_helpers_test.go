package service

import (
	"testing"

	dto "github.com/prometheus/client_model/go"
)

// family gathers the registry and returns the named metric family.
func family(t *testing.T, m *Metrics, name string) *dto.MetricFamily {
	t.Helper()
	mfs, err := m.Registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == name {
			return mf
		}
	}
	return nil
}

// seriesCount is the number of label combinations of the named metric.
func seriesCount(t *testing.T, m *Metrics, name string) int {
	t.Helper()
	return len(family(t, m, name).GetMetric())
}

// counterValue returns http_requests_total{method,route,code}, 0 if absent.
func counterValue(t *testing.T, m *Metrics, method, route, code string) float64 {
	t.Helper()
	want := map[string]string{"method": method, "route": route, "code": code}
	for _, metric := range family(t, m, "http_requests_total").GetMetric() {
		match := true
		for _, lp := range metric.GetLabel() {
			if want[lp.GetName()] != lp.GetValue() {
				match = false
			}
		}
		if match {
			return metric.GetCounter().GetValue()
		}
	}
	return 0
}
