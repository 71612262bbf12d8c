package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/ladderhq/ladder/internal/engine"
	"github.com/ladderhq/ladder/internal/snapshot"
	"github.com/ladderhq/ladder/internal/store"
)

func newSnapshotsCmd(a *app) *cobra.Command {
	var (
		limit  int
		before string
	)
	cmd := &cobra.Command{
		Use:   "snapshots",
		Short: "List snapshots, newest first, and where they run",
		Long: `snapshots lists the snapshots, newest first, each with the sites whose
current release runs it. --limit pages: the last row's snapshot, given to
--before, shows the next page.

With LADDER_SERVER (and LADDER_TOKEN), the ladder server answers, for a
token with the viewer role on every environment (viewer:*).`,
		Example: `  ladder snapshots
  ladder snapshots -n 20 --before 3f2a9c1b
  ladder snapshots -o json | jq -r '.[0].id'`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			if limit < 0 {
				return exitf(ExitConfig, "--limit takes a number of 0 or more")
			}
			if before != "" && !snapshot.ValidPrefix(before) {
				return exitf(ExitConfig, "--before takes a snapshot ID or a prefix of at least 4 hex digits, not %q", before)
			}
			var rows []snapshotRow
			err := a.serverOr(ctx, func(c *engine.Client) (err error) {
				rows, err = readPages(limit, before, false, func(n int, before string) ([]snapshotRow, string, error) {
					var page []snapshotRow
					q := url.Values{"limit": {strconv.Itoa(n)}}
					if before != "" {
						q.Set("before", before)
					}
					if _, err := a.callRead(ctx, c, "/v1/snapshots?"+q.Encode(), &page); err != nil || len(page) < n {
						return page, "", err
					}
					return page, page[len(page)-1].ID, nil
				})
				return err
			}, func(ws *workspace) (err error) {
				rows, err = snapshotRows(ctx, ws.store, limit, before)
				return err
			})
			if err != nil {
				return err
			}
			if rows == nil {
				rows = []snapshotRow{}
			}
			if a.json() {
				return a.printJSON(rows)
			}
			tw := tabwriter.NewWriter(a.Out, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "SNAPSHOT\tCREATED\tREVISION\tSERVICES\tRUNNING ON")
			for _, r := range rows {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%s\n", snapshot.Short(r.ID), r.Created.Local().Format("2006-01-02 15:04:05"),
					shortRev(r.Revision), len(r.Artifacts), joinOr(r.Running, "-"))
			}
			return tw.Flush()
		},
	}
	cmd.Flags().IntVarP(&limit, "limit", "n", 20, "how many (0: all)")
	cmd.Flags().StringVar(&before, "before", "", "only snapshots older than this one (the next page)")
	return cmd
}

func newSnapshotCmd(a *app) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "snapshot",
		Short: "Inspect one snapshot",
	}
	show := &cobra.Command{
		Use:   "show ID",
		Short: "Show a snapshot's artifacts, provenance and releases",
		Long: `show prints a snapshot by its ID or any unique prefix of it (at least 4
hex digits), with its newest releases on every environment.

With LADDER_SERVER (and LADDER_TOKEN), the ladder server answers, for a
token with the viewer role on every environment (viewer:*).`,
		Example: `  ladder snapshot show 3f2a9c1b
  ladder snapshot show 3f2a -o json`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			var shown snapshotShown
			err := a.serverOr(ctx, func(c *engine.Client) error {
				_, err := a.callRead(ctx, c, "/v1/snapshots/"+url.PathEscape(args[0]), &shown)
				return err
			}, func(ws *workspace) (err error) {
				shown, err = showSnapshot(ctx, ws, args[0])
				return err
			})
			if err != nil {
				return err
			}
			s, rels := shown.Snapshot, shown.Releases
			if a.json() {
				return a.printJSON(shown)
			}
			fmt.Fprintf(a.Out, "snapshot  %s\nstack     %s (definition %s)\ncreated   %s\nrevision  %s\n\n",
				s.ID, s.Stack, snapshot.Short(s.StackHash), s.Created.Local().Format("2006-01-02 15:04:05 MST"), joinOr([]string{s.Revision}, "-"))
			tw := tabwriter.NewWriter(a.Out, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "SERVICE\tDIGEST\tBUILDER\tSIZE\tFROM")
			for _, name := range s.Services() {
				art := s.Artifacts[name]
				from := "-" // built by ladder
				if art.Image != "" {
					from = strings.TrimPrefix(art.Inputs, "image:")
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", name, art.Digest, art.Builder, bytesHuman(art.Size), from)
			}
			tw.Flush()
			printBases(a.Out, s)
			if len(rels) > 0 {
				fmt.Fprintln(a.Out)
				tw = tabwriter.NewWriter(a.Out, 0, 4, 2, ' ', 0)
				fmt.Fprintln(tw, "RELEASE\tSITE\tPHASE\tSTARTED\tREASON")
				for _, r := range rels {
					fmt.Fprintf(tw, "%d\t%s/%s\t%s\t%s\t%s\n", r.ID, r.Env, r.Site, r.Phase, r.Started.Local().Format("2006-01-02 15:04:05"), r.Reason)
				}
				tw.Flush()
			}
			return nil
		},
	}
	cmd.AddCommand(show)
	return cmd
}

// snapshotShown is a snapshot with its newest releases, as ladder snapshot
// show prints it.
type snapshotShown struct {
	*snapshot.Snapshot
	Releases []store.Release `json:"releases"`
}

// showSnapshot reads the snapshot ref names ("latest", an ID or a unique
// prefix) and its 20 newest releases.
func showSnapshot(ctx context.Context, ws *workspace, ref string) (snapshotShown, error) {
	s, err := findSnapshot(ctx, ws, ref)
	if err != nil {
		return snapshotShown{}, err
	}
	rels, err := ws.store.ListReleases(ctx, store.ReleaseFilter{Snapshot: s.ID, Limit: 20})
	if rels == nil {
		rels = []store.Release{}
	}
	return snapshotShown{s, rels}, err
}

// snapshotRow is a snapshot as ladder snapshots lists it: with the sites
// (ENV/SITE) whose current release runs it.
type snapshotRow struct {
	*snapshot.Snapshot
	Running []string `json:"running"`
}

// snapshotRows lists the newest limit snapshots (0: all) older than the
// snapshot before (an ID or unique prefix; "": from the newest), with
// where each runs.
func snapshotRows(ctx context.Context, st store.Store, limit int, before string) ([]snapshotRow, error) {
	f := store.SnapshotFilter{Limit: limit}
	if before != "" {
		s, err := st.GetSnapshot(ctx, before)
		if err != nil {
			return nil, err
		}
		f.Before = s.ID
	}
	snaps, err := st.ListSnapshots(ctx, f)
	if err != nil {
		return nil, err
	}
	where, err := deployedWhere(ctx, st)
	if err != nil {
		return nil, err
	}
	rows := make([]snapshotRow, 0, len(snaps))
	for _, s := range snaps {
		rows = append(rows, snapshotRow{s, nonNil(where[s.ID])})
	}
	return rows, nil
}

// snapshotRoutes list snapshots for thin clients, as ladder snapshots
// does, for a viewer of every environment.
func (v *engineVerbs) snapshotRoutes(mux engine.Mux) {
	mux.HandleFunc("GET /v1/snapshots", func(w http.ResponseWriter, r *http.Request) {
		limit, before, err := snapshotsQuery(r)
		if err != nil {
			writeVerbStatus(w, http.StatusBadRequest, err.Error())
			return
		}
		v.read(w, r, "", func(ctx context.Context, a *app, ws *workspace) (any, error) {
			return snapshotRows(ctx, ws.store, limit, before)
		})
	})
	mux.HandleFunc("GET /v1/snapshots/{ref}", func(w http.ResponseWriter, r *http.Request) {
		ref := r.PathValue("ref")
		v.read(w, r, "", func(ctx context.Context, a *app, ws *workspace) (any, error) {
			return showSnapshot(ctx, ws, ref)
		})
	})
}

// snapshotsQuery reads ?limit=N&before=SNAPSHOT: limit as limitQuery
// bounds it, before an ID or unique prefix.
func snapshotsQuery(r *http.Request) (limit int, before string, err error) {
	if limit, err = limitQuery(r); err != nil {
		return 0, "", err
	}
	before = r.URL.Query().Get("before")
	if before != "" && !snapshot.ValidPrefix(before) {
		return 0, "", fmt.Errorf("before: want a snapshot ID or a prefix of at least 4 hex digits, not %q", before)
	}
	return limit, before, nil
}

// deployedWhere maps snapshot IDs to the sites (ENV/SITE) whose last
// successful release they are.
func deployedWhere(ctx context.Context, st store.Store) (map[string][]string, error) {
	running, err := st.Running(ctx)
	if err != nil {
		return nil, err
	}
	where := map[string][]string{}
	for _, r := range running {
		where[r.Snapshot] = append(where[r.Snapshot], r.Env+"/"+r.Site)
	}
	for _, sites := range where {
		slices.Sort(sites) // in byte order, whatever the database's collation
	}
	return where, nil
}

func shortRev(rev string) string {
	if len(rev) > 12 {
		return rev[:12]
	}
	if rev == "" {
		return "-"
	}
	return rev
}

func joinOr(xs []string, empty string) string {
	out := ""
	for _, x := range xs {
		if x == "" {
			continue
		}
		if out != "" {
			out += ", "
		}
		out += x
	}
	if out == "" {
		return empty
	}
	return out
}

func nonNil(xs []string) []string {
	if xs == nil {
		return []string{}
	}
	return xs
}

// resolveSnapshot turns "latest" into the newest snapshot's ID; any other
// reference (an ID or a unique prefix) is returned as it is.
func resolveSnapshot(ctx context.Context, ws *workspace, ref string) (string, error) {
	if ref != "latest" {
		return ref, nil
	}
	snaps, err := ws.store.ListSnapshots(ctx, store.SnapshotFilter{Limit: 1})
	if err != nil {
		return "", err
	}
	if len(snaps) == 0 {
		return "", &ExitError{Code: ExitNotRunning, Err: errors.New("no snapshot yet"), Hint: "ladder up"}
	}
	return snaps[0].ID, nil
}

// findSnapshot resolves a snapshot argument ("latest", an ID or a unique
// prefix) to its record; an unknown one exits 4.
func findSnapshot(ctx context.Context, ws *workspace, ref string) (*snapshot.Snapshot, error) {
	id, err := resolveSnapshot(ctx, ws, ref)
	if err != nil {
		return nil, err
	}
	s, err := ws.store.GetSnapshot(ctx, id)
	if err != nil {
		return nil, &ExitError{Code: ExitNotRunning, Err: fmt.Errorf("snapshot %s: %w", ref, err), Hint: "ladder snapshots"}
	}
	return s, nil
}

// printBases lists the base images the Dockerfile artifacts were built
// on: the registry digest where the engine knew one, else the image ID.
func printBases(w io.Writer, s *snapshot.Snapshot) {
	first := true
	for _, name := range s.Services() {
		for _, b := range s.Artifacts[name].Bases {
			if first {
				fmt.Fprintln(w, "\nbase images:")
				first = false
			}
			pinned := "id " + b.ID
			if b.Digest != "" {
				pinned = b.Digest + " (id " + snapshot.Short(b.ID) + ")"
			}
			fmt.Fprintf(w, "  %s  %s  %s\n", name, b.Ref, pinned)
		}
	}
}
