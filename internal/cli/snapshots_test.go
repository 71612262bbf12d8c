package cli

import (
	"cmp"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ladderhq/ladder/internal/auth"
	"github.com/ladderhq/ladder/internal/snapshot"
	"github.com/ladderhq/ladder/internal/store/sqlite"
)

// Through a server, `snapshots -n 0` reads every page (a page holds at
// most maxPage), and --before starts after the snapshot it names; the
// server answers from a real store as the engine's route does.
func TestRemoteSnapshotsReadsEveryPage(t *testing.T) {
	st, err := sqlite.Open(filepath.Join(t.TempDir(), "ladder.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	const total = 2*maxPage + 7
	base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	var newestFirst []*snapshot.Snapshot
	for i := range total {
		// Three at a time share a creation time: the ID orders them.
		s := snapshot.New("shop", strings.Repeat("ab", 32), map[string]snapshot.Artifact{
			"api": {Service: "api", Digest: fmt.Sprintf("sha256:%064x", i), Builder: "go"},
		}, "", base.Add(time.Duration(i/3)*time.Second))
		if _, err := st.PutSnapshot(t.Context(), s); err != nil {
			t.Fatal(err)
		}
		newestFirst = append(newestFirst, s)
	}
	slices.SortFunc(newestFirst, func(a, b *snapshot.Snapshot) int {
		return cmp.Or(b.Created.Compare(a.Created), strings.Compare(b.ID, a.ID))
	})

	var requests int
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/v1/snapshots" {
			http.NotFound(w, r)
			return
		}
		requests++
		limit, before, err := snapshotsQuery(r)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		rows, err := snapshotRows(r.Context(), st, limit, before)
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		b, _ := json.Marshal(rows)
		fmt.Fprintf(w, `{"result": %s}`, b)
	}))
	defer srv.Close()
	t.Setenv(EnvServer, srv.URL)
	t.Setenv(auth.EnvToken, "ldr_test")

	for _, tc := range []struct {
		name     string
		args     []string
		from, n  int
		requests int
	}{
		{"All", []string{"-n", "0"}, 0, total, 3},
		{"Limit", []string{"-n", strconv.Itoa(maxPage + 1)}, 0, maxPage + 1, 2},
		{"Before", []string{"-n", "0", "--before", newestFirst[maxPage-1].ID}, maxPage, total - maxPage, 2},
		{"BeforeAPrefix", []string{"-n", "2", "--before", newestFirst[4].ID[:12]}, 5, 2, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			requests = 0
			var out strings.Builder
			cmd := New(IO{In: strings.NewReader(""), Out: &out, Err: io.Discard})
			cmd.SetArgs(append([]string{"snapshots", "-o", "json"}, tc.args...))
			if err := cmd.ExecuteContext(t.Context()); err != nil {
				t.Fatal(err)
			}
			var rows []struct{ ID string }
			if err := json.Unmarshal([]byte(out.String()), &rows); err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, r := range rows {
				got = append(got, r.ID)
			}
			var want []string
			for _, s := range newestFirst[tc.from : tc.from+tc.n] {
				want = append(want, s.ID)
			}
			if !slices.Equal(got, want) {
				t.Errorf("%d snapshots, want %d from the %dth newest (first %v, want %v)", len(got), len(want), tc.from, got[:min(1, len(got))], want[:1])
			}
			if requests != tc.requests {
				t.Errorf("%d requests, want %d", requests, tc.requests)
			}
		})
	}
}
