package render

import "testing"

func TestLogLimits(t *testing.T) {
	for _, c := range []struct {
		opts map[string]string
		want *LogLimits
		err  bool
	}{
		{map[string]string{}, nil, false},
		{map[string]string{"compress": "true"}, nil, false},
		{map[string]string{"max-size": "10m", "max-file": "3"}, &LogLimits{MaxSize: 10 << 20, MaxFiles: 3}, false},
		{map[string]string{"max-size": "512k"}, &LogLimits{MaxSize: 512 << 10}, false},
		{map[string]string{"max-size": "1G"}, &LogLimits{MaxSize: 1 << 30}, false},
		{map[string]string{"max-size": "4096"}, &LogLimits{MaxSize: 4096}, false},
		{map[string]string{"max-size": "10mb"}, &LogLimits{MaxSize: 10 << 20}, false},
		{map[string]string{"max-size": "ten"}, nil, true},
		{map[string]string{"max-size": "-1m"}, nil, true},
		{map[string]string{"max-size": "2000g"}, nil, true},
		{map[string]string{"max-file": "0"}, nil, true},
		{map[string]string{"max-file": "x"}, nil, true},
	} {
		got, err := logLimits(c.opts)
		if (err != nil) != c.err {
			t.Errorf("%v: err %v, want error %v", c.opts, err, c.err)
			continue
		}
		if (got == nil) != (c.want == nil) || got != nil && *got != *c.want {
			t.Errorf("%v: %+v, want %+v", c.opts, got, c.want)
		}
	}
}
