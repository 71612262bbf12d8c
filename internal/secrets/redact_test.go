package secrets

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"strings"
	"sync"
	"testing"
)

const R = Placeholder

func TestRedact(t *testing.T) {
	for _, tc := range []struct {
		name    string
		secrets []string
		in, out string
	}{
		{"plain", []string{"hunter2!"}, "password=hunter2! ok", "password=" + R + " ok"},
		{"repeated", []string{"s3cr3t"}, "s3cr3t,s3cr3t s3cr3t", R + "," + R + " " + R},
		{"several", []string{"alpha-1", "beta-22"}, "a=alpha-1 b=beta-22", "a=" + R + " b=" + R},
		{"contained", []string{"word", "password123"}, "x password123 word", "x " + R + " " + R},
		{"overlapping", []string{"abcdef", "defghi"}, "<abcdefghi>", "<" + R + ">"},
		{"overlapping self", []string{"aaaa"}, "baaaaaab", "b" + R + "b"},
		{"adjacent", []string{"left", "right"}, "leftright", R},
		{"short ignored", []string{"abc", "", "x"}, "abc x", "abc x"},
		{"exactly four", []string{"abcd"}, "abcd", R},
		{"none", nil, "nothing here", "nothing here"},
		{"absent", []string{"secret"}, "nothing here", "nothing here"},
		{"multibyte", []string{"pässwörd"}, "[pässwörd]", "[" + R + "]"},
		{"json escaped", []string{`pa"ss<word>`}, mustJSON(`pa"ss<word>`), `"` + R + `"`},
		{"json no html escape", []string{"a\nb<c"}, `"a\nb<c"`, `"` + R + `"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := NewRedactor(tc.secrets...).Redact(tc.in); got != tc.out {
				t.Errorf("Redact(%q) = %q, want %q", tc.in, got, tc.out)
			}
		})
	}
	var zero Redactor
	var nilR *Redactor
	if zero.Redact("abcd") != "abcd" || nilR.Redact("abcd") != "abcd" {
		t.Error("zero or nil Redactor changed its input")
	}
	r := NewRedactor()
	r.Add("late-secret", "ab")
	if got := r.Redact("a late-secret ab"); got != "a "+R+" ab" {
		t.Errorf("after Add: %q", got)
	}
}

func mustJSON(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// writeChunks streams chunks through a redacting writer and returns the result.
func writeChunks(t *testing.T, r *Redactor, chunks ...string) string {
	t.Helper()
	var out bytes.Buffer
	w := r.WriteCloser(&out)
	for _, c := range chunks {
		if n, err := w.Write([]byte(c)); n != len(c) || err != nil {
			t.Fatalf("Write = %d, %v", n, err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return out.String()
}

func TestWriterSplitAnywhere(t *testing.T) {
	r := NewRedactor("hunter2!", "abcdef", "defghi", "aaaa", "tok")
	for _, in := range []string{
		"pw=hunter2! done",
		"hunter2!",
		"xx abcdefghi yy",
		"baaaaaaaab aaa",
		"hunterhunter2!hunter2",
		"tok tok",
		"",
	} {
		want := r.Redact(in)
		if got := writeChunks(t, r, in); got != want {
			t.Errorf("one write of %q: %q, want %q", in, got, want)
		}
		// Every split into two and three pieces, and one byte at a time.
		for i := 0; i <= len(in); i++ {
			for j := i; j <= len(in); j++ {
				if got := writeChunks(t, r, in[:i], in[i:j], in[j:]); got != want {
					t.Errorf("%q split at %d,%d: %q, want %q", in, i, j, got, want)
				}
			}
		}
		if got := writeChunks(t, r, strings.Split(in, "")...); got != want {
			t.Errorf("%q byte by byte: %q, want %q", in, got, want)
		}
	}
}

func TestWriterHoldsBackOnlyWhatMightBeASecret(t *testing.T) {
	r := NewRedactor("secret-value")
	var out bytes.Buffer
	w := r.Writer(&out)
	w.Write([]byte("a log line\n"))
	if out.String() != "a log line\n" {
		t.Errorf("a line without a secret prefix was held back: %q", out.String())
	}
	w.Write([]byte("token=secret-"))
	if out.String() != "a log line\ntoken=" {
		t.Errorf("after a partial secret: %q", out.String())
	}
	w.Write([]byte("value and secr"))
	if out.String() != "a log line\ntoken="+R+" and " {
		t.Errorf("after the rest: %q", out.String())
	}
	if err := w.(interface{ Close() error }).Close(); err != nil {
		t.Fatal(err)
	}
	if out.String() != "a log line\ntoken="+R+" and secr" {
		t.Errorf("after Close: %q", out.String())
	}
	if _, err := w.Write([]byte("x")); !errors.Is(err, os.ErrClosed) {
		t.Errorf("Write after Close: %v", err)
	}
}

type failingWriter struct{}

func (failingWriter) Write([]byte) (int, error) { return 0, errors.New("disk full") }

func TestWriterError(t *testing.T) {
	w := NewRedactor("abcd").WriteCloser(failingWriter{})
	if _, err := w.Write([]byte("hello")); err == nil {
		t.Fatal("write error lost")
	}
	if _, err := w.Write([]byte("hello")); err == nil {
		t.Fatal("write after an error succeeded")
	}
	if err := w.Close(); err == nil {
		t.Fatal("Close after an error succeeded")
	}
}

// syncBuffer is a bytes.Buffer safe for concurrent writers.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func TestWriterConcurrent(t *testing.T) {
	secrets := []string{"db-pass-0001", "api-token-0002", "late-secret-0003"}
	r := NewRedactor(secrets[:2]...)
	var shared, perWriter syncBuffer
	sharedW := r.WriteCloser(&shared)
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			own := r.WriteCloser(&perWriter)
			for i := range 200 {
				line := fmt.Sprintf("worker %d line %d: pass=%s token=%s\n", g, i, secrets[0], secrets[1])
				sharedW.Write([]byte(line))
				// Split mid-secret: only this goroutine writes to own.
				own.Write([]byte(line[:30]))
				own.Write([]byte(line[30:]))
				_ = r.Redact(line)
			}
			own.Close()
		})
	}
	wg.Go(func() { r.Add(secrets[2]) })
	wg.Wait()
	sharedW.Close()
	for name, out := range map[string]string{"shared": shared.b.String(), "per writer": perWriter.b.String()} {
		if n := strings.Count(out, "\n"); n != 8*200 {
			t.Errorf("%s: %d lines, want %d", name, n, 8*200)
		}
		for _, s := range secrets {
			if strings.Contains(out, s) {
				t.Errorf("%s output contains %q", name, s)
			}
		}
	}
}

// TestRedactProperty plants secrets in random text: whatever the text, the
// secrets and the chunking, no secret survives, and a stream redacts like a
// string.
func TestRedactProperty(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	// Secrets are made of letters absent from Placeholder, so that finding
	// one in the output can only mean a leak.
	const secretAlphabet = "abc01XY"
	const textAlphabet = secretAlphabet + "Z <>=-\n"
	randString := func(alphabet string, n int) string {
		b := make([]byte, n)
		for i := range b {
			b[i] = alphabet[rng.IntN(len(alphabet))]
		}
		return string(b)
	}
	for iter := range 3000 {
		var secrets []string
		for range 1 + rng.IntN(4) {
			secrets = append(secrets, randString(secretAlphabet, 1+rng.IntN(10)))
		}
		var text strings.Builder
		for range rng.IntN(8) {
			text.WriteString(randString(textAlphabet, rng.IntN(12)))
			s := secrets[rng.IntN(len(secrets))]
			switch rng.IntN(3) {
			case 0:
				text.WriteString(s)
			case 1: // a secret's end glued to another's start
				o := secrets[rng.IntN(len(secrets))]
				text.WriteString(s[:rng.IntN(len(s)+1)] + o)
			case 2: // a secret inside itself
				k := rng.IntN(len(s) + 1)
				text.WriteString(s[:k] + s + s[k:])
			}
		}
		in := text.String()
		r := NewRedactor(secrets...)
		got := r.Redact(in)
		var chunks []string
		for rest := in; rest != ""; {
			k := min(len(rest), rng.IntN(6))
			chunks = append(chunks, rest[:k])
			rest = rest[k:]
		}
		streamed := writeChunks(t, r, chunks...)
		for _, s := range secrets {
			if len(s) >= MinRedactLen && (strings.Contains(got, s) || strings.Contains(streamed, s)) {
				t.Fatalf("iteration %d: secret %q survives in\n in:       %q\n redacted: %q\n streamed: %q",
					iter, s, in, got, streamed)
			}
		}
		if streamed != got {
			t.Fatalf("iteration %d: streamed %q (chunks %q), redacted %q", iter, streamed, chunks, got)
		}
	}
}
