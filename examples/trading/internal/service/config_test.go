package service

import (
	"strings"
	"testing"
	"time"

	"github.com/ladderhq/ladder/examples/trading/internal/seed"
)

func TestLoadConfigDefaults(t *testing.T) {
	c, err := LoadConfig("users", EnvMap(nil))
	if err != nil {
		t.Fatal(err)
	}
	if c.Service != "users" || c.Port != DefaultPort || c.Seed != seed.Default || c.Faults.Active() {
		t.Errorf("defaults = %+v", c)
	}
	if c.Snapshot != "" || c.Environment != "" || c.Site != "" {
		t.Errorf("ladder fields should be empty when unset: %+v", c)
	}
}

func TestLoadConfigFromEnv(t *testing.T) {
	c, err := LoadConfig("trades", EnvMap(map[string]string{
		"PORT": "18081", "SEED": "7",
		"LADDER_SNAPSHOT": "snap-1", "LADDER_ENVIRONMENT": "staging", "LADDER_SITE": "eu-1",
		"FAULT_ERROR_RATE": "0.25", "FAULT_LATENCY": "250ms", "FAULT_HEALTH": "fail", "FAULT_CRASH": "after:5s",
	}))
	if err != nil {
		t.Fatal(err)
	}
	want := Faults{ErrorRate: 0.25, Latency: 250 * time.Millisecond, HealthFail: true, Crash: Crash{After: 5 * time.Second}}
	if c.Port != 18081 || c.Seed != 7 || c.Snapshot != "snap-1" || c.Environment != "staging" || c.Site != "eu-1" || c.Faults != want {
		t.Errorf("config = %+v", c)
	}
}

func TestParseFaults(t *testing.T) {
	tests := []struct {
		name    string
		env     map[string]string
		want    Faults
		wantErr string // substring; "" means no error
	}{
		{"none", nil, Faults{}, ""},
		{"rate zero", map[string]string{"FAULT_ERROR_RATE": "0"}, Faults{}, ""},
		{"rate one", map[string]string{"FAULT_ERROR_RATE": "1"}, Faults{ErrorRate: 1}, ""},
		{"rate spaces", map[string]string{"FAULT_ERROR_RATE": " 0.5 "}, Faults{ErrorRate: 0.5}, ""},
		{"rate too big", map[string]string{"FAULT_ERROR_RATE": "1.5"}, Faults{}, "FAULT_ERROR_RATE"},
		{"rate negative", map[string]string{"FAULT_ERROR_RATE": "-0.1"}, Faults{}, "FAULT_ERROR_RATE"},
		{"rate percent", map[string]string{"FAULT_ERROR_RATE": "10%"}, Faults{}, "between 0 and 1"},
		{"rate NaN", map[string]string{"FAULT_ERROR_RATE": "NaN"}, Faults{}, "FAULT_ERROR_RATE"},
		{"latency", map[string]string{"FAULT_LATENCY": "250ms"}, Faults{Latency: 250 * time.Millisecond}, ""},
		{"latency no unit", map[string]string{"FAULT_LATENCY": "250"}, Faults{}, "FAULT_LATENCY"},
		{"latency negative", map[string]string{"FAULT_LATENCY": "-1s"}, Faults{}, "FAULT_LATENCY"},
		{"health fail", map[string]string{"FAULT_HEALTH": "fail"}, Faults{HealthFail: true}, ""},
		{"health typo", map[string]string{"FAULT_HEALTH": "failing"}, Faults{}, "FAULT_HEALTH"},
		{"crash start", map[string]string{"FAULT_CRASH": "start"}, Faults{Crash: Crash{OnStart: true}}, ""},
		{"crash after", map[string]string{"FAULT_CRASH": "after:5s"}, Faults{Crash: Crash{After: 5 * time.Second}}, ""},
		{"crash after bad", map[string]string{"FAULT_CRASH": "after:soon"}, Faults{}, "after:"},
		{"crash after zero", map[string]string{"FAULT_CRASH": "after:0s"}, Faults{}, "positive"},
		{"crash unknown", map[string]string{"FAULT_CRASH": "later"}, Faults{}, "FAULT_CRASH"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseFaults(EnvMap(tt.env))
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("unexpected error: %v", err)
				}
				if got != tt.want {
					t.Errorf("got %+v, want %+v", got, tt.want)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("error = %v, want one mentioning %q", err, tt.wantErr)
			}
		})
	}
}

func TestLoadConfigReportsEveryBadValue(t *testing.T) {
	_, err := LoadConfig("web", EnvMap(map[string]string{
		"PORT": "http", "SEED": "-1", "FAULT_LATENCY": "slow", "FAULT_HEALTH": "yes",
	}))
	if err == nil {
		t.Fatal("want error")
	}
	for _, key := range []string{"PORT", "SEED", "FAULT_LATENCY", "FAULT_HEALTH"} {
		if !strings.Contains(err.Error(), key+"=") {
			t.Errorf("error %q does not mention %s", err, key)
		}
	}
}

func TestParsePort(t *testing.T) {
	tests := []struct {
		in        string
		allowZero bool
		want      int
		ok        bool
	}{
		{"", false, DefaultPort, true},
		{"18081", false, 18081, true},
		{"0", true, 0, true},
		{"0", false, 0, false},
		{"65536", true, 0, false},
		{"-1", true, 0, false},
		{"80a", true, 0, false},
	}
	for _, tt := range tests {
		got, err := parsePort(tt.in, tt.allowZero)
		if (err == nil) != tt.ok || (tt.ok && got != tt.want) {
			t.Errorf("parsePort(%q, %v) = %d, %v", tt.in, tt.allowZero, got, err)
		}
	}
}
