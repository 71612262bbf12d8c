package cli

import (
	"strings"
	"testing"
)

func TestParseProxies(t *testing.T) {
	for _, tc := range []struct {
		in      []string
		want    string
		wantErr string
	}{
		{nil, "", ""},
		{[]string{"10.0.0.5"}, "10.0.0.5/32", ""},
		{[]string{"10.0.0.9/24", "fd00::1"}, "10.0.0.0/24 fd00::1/128", ""},
		{[]string{"::ffff:10.0.0.5"}, "10.0.0.5/32", ""},
		{[]string{"proxy.internal", "10.0.0.0/33"}, "", `"proxy.internal"`},
	} {
		got, err := parseProxies(tc.in)
		if tc.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) || !strings.Contains(err.Error(), `"10.0.0.0/33"`) {
				t.Errorf("parseProxies(%q): %v, want both refused", tc.in, err)
			}
			continue
		}
		var s []string
		for _, p := range got {
			s = append(s, p.String())
		}
		if err != nil || strings.Join(s, " ") != tc.want {
			t.Errorf("parseProxies(%q) = %v, %v, want %s", tc.in, s, err, tc.want)
		}
	}
}
