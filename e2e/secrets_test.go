package e2e

import (
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestPlantedSecretNeverShows plants a secret (the users service's seed,
// which the service itself logs at start-up), deploys it, and scans every
// output ladder produces for its value: command output in text and JSON,
// service logs, the API, the dashboard pages, the agent's log and the
// files ladder writes. The secret must reach the service and nothing else.
func TestPlantedSecretNeverShows(t *testing.T) {
	const secret = "9137264455"
	p := newLadderProject(t)
	p.write("ladder.yaml", strings.Replace(ladderFile, "    data: throwaway\n",
		"    data: throwaway\n    values:\n      services:\n        users:\n          secrets: {SEED: USERS_SEED}\n", 1))

	// Without the secret set, the release fails clearly and starts nothing.
	res := p.run("up", "-d", "--dashboard", "127.0.0.1:0")
	if res.code == 0 || !strings.Contains(res.stderr, "USERS_SEED") {
		t.Fatalf("up without the secret: %s", res)
	}
	set := exec.Command(ladderBin, "-C", p.dir, "secret", "set", "local", "USERS_SEED")
	set.Env = append(os.Environ(), p.env...)
	set.Stdin = strings.NewReader(secret + "\n")
	if out, err := set.CombinedOutput(); err != nil || strings.Contains(string(out), secret) {
		t.Fatalf("secret set: %v\n%s", err, out)
	}
	if res := p.run("secret", "list", "local"); !strings.Contains(res.stdout, "USERS_SEED") {
		t.Errorf("secret list: %s", res)
	}
	if b, _ := os.ReadFile(filepath.Join(p.dir, "secrets", "local.age")); strings.Contains(string(b), secret) {
		t.Error("the secret is stored in the clear")
	}

	up := p.upJSON("-d", "--dashboard", "127.0.0.1:0")
	users := endpoint(t, up.Status, "users")
	// The service got the secret: its seeded data differs from the default seed's.
	_, body := httpGet(t, users+"/api/users/1")
	if strings.Contains(body, "Radia Perlman") {
		t.Errorf("users still has the default seed's data: the secret did not reach it (%s)", body)
	}
	time.Sleep(1500 * time.Millisecond) // let a scrape and some events happen

	var outputs []string
	for _, args := range [][]string{
		{"status"}, {"status", "-o", "json"}, {"logs"}, {"logs", "users"}, {"history"}, {"history", "-o", "json"},
		{"audit", "-o", "json"}, {"snapshots", "-o", "json"}, {"snapshot", "show", up.Snapshot.ID, "-o", "json"},
		{"diff", "local", "dev", "-o", "json"}, {"diff", "local", "dev"}, {"lint"}, {"validate", "-o", "json"},
		{"up", "-o", "json"}, {"up"},
	} {
		r := p.run(args...)
		outputs = append(outputs, strings.Join(args, " ")+"\n"+r.stdout+r.stderr)
	}
	agentURL := up.Status.Agent.URL
	for _, path := range []string{"/", "/?fragment=1", "/events", "/ladder", "/api/v1/status", "/api/v1/events?limit=1000", "/api/v1/ladder", "/api/v1/snapshots", "/api/v1/releases"} {
		resp, err := http.Get(agentURL + path)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		outputs = append(outputs, "GET "+path+"\n"+string(b))
	}
	// Every file ladder wrote except the encrypted store itself and the
	// unpacked artifacts.
	filepath.Walk(filepath.Join(p.dir, ".ladder"), func(path string, info os.FileInfo, err error) error {
		if err != nil || info.IsDir() || strings.Contains(path, "/rootfs/") || strings.Contains(path, "/blobs/") {
			return nil
		}
		b, _ := os.ReadFile(path)
		outputs = append(outputs, path+"\n"+string(b))
		return nil
	})
	for _, out := range outputs {
		if strings.Contains(out, secret) {
			first, _, _ := strings.Cut(out, "\n")
			t.Errorf("the secret appears in %s", first)
		}
	}
	// The service did print it; ladder shows it redacted.
	if logs := p.run("logs", "users"); !strings.Contains(logs.stdout, "<redacted>") {
		t.Errorf("ladder logs users shows no redaction:\n%s", logs.stdout)
	}
}
