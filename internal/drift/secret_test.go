package drift

import "testing"

func TestDefaultSecret(t *testing.T) {
	tests := []struct {
		key  string
		want bool
	}{
		{"POSTGRES_PASSWORD", true},
		{"db_password", true},
		{"SMTP_PASSWD", true},
		{"CLIENT_SECRET", true},
		{"secretName", true},
		{"GITHUB_TOKEN", true},
		{"TOKEN_URL", true}, // a guess errs on the side of redacting
		{"STRIPE_API_KEY", true},
		{"api_key", true},
		{"SSH_PRIVATE", true},
		{"PRIVATE_PEM", true},
		{"GOOGLE_APPLICATION_CREDENTIALS", true},
		{"Credential", true},
		{"ENCRYPTION_KEY", true},
		{"aws_access_key", true},
		{"AWS_SECRET_ACCESS_KEY", true},
		{"KEY", false},
		{"MONKEY", false},
		{"KEYBOARD_LAYOUT", false},
		{"KEY_ID", false},
		{"APIKEY", false},
		{"PATH", false},
		{"LOG_LEVEL", false},
		{"DATABASE_URL", false}, // caught by scrubbing the password out of it
		{"PASSWORDLESS", true},
		{"", false},
	}
	for _, tt := range tests {
		if got := DefaultSecret(tt.key); got != tt.want {
			t.Errorf("DefaultSecret(%q) = %v, want %v", tt.key, got, tt.want)
		}
	}
}

func TestIgnoreKeys(t *testing.T) {
	ignore := IgnoreKeys("PATH", "HOSTNAME")
	for key, want := range map[string]bool{"PATH": true, "HOSTNAME": true, "path": false, "HOME": false} {
		if got := ignore(key); got != want {
			t.Errorf("ignore(%q) = %v, want %v", key, got, want)
		}
	}
}

func TestScrub(t *testing.T) {
	s := newScrubber(DefaultSecret,
		map[string]string{"DB_PASSWORD": "pass", "DB_USER": "app", "PIN_TOKEN": "123"},
		map[string]string{"API_TOKEN": "password123", "OTHER_TOKEN": "pass"},
	)
	tests := []struct{ in, want string }{
		{"postgres://app:pass@db/app", "postgres://app:<redacted>@db/app"},
		// The longer secret goes whole, not as "<redacted>word123".
		{"-p=password123", "-p=<redacted>"},
		// Too short to scrub without garbling everything else.
		{"pin 123", "pin 123"},
		{"app", "app"},
	}
	for _, tt := range tests {
		if got := s.scrub(tt.in); got != tt.want {
			t.Errorf("scrub(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
	if got := newScrubber(DefaultSecret).scrub("x"); got != "x" {
		t.Errorf("empty scrubber changed text: %q", got)
	}
}
