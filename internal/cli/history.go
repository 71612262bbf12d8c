package cli

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/ladderhq/ladder/internal/snapshot"
	"github.com/ladderhq/ladder/internal/store"
)

func newHistoryCmd(a *app) *cobra.Command {
	var q pageQ
	cmd := &cobra.Command{
		Use:   "history [ENV]",
		Short: "Every release of an environment, newest first",
		Long: `history lists an environment's releases, newest first, with the site, the
snapshot, the phase, whether the release is known-good and why (or why
not), who made it and how long it took. --limit pages: the last row's
release number, given to --before, shows the next page.

With LADDER_SERVER (and LADDER_TOKEN), the ladder server answers: name the
environment; a token with the viewer role there is enough.`,
		Example: `  ladder history staging
  ladder history prod -n 20 --before 120
  ladder history prod -o json | jq '.[] | select(.knownGood)'`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			name := ""
			if len(args) == 1 {
				name = args[0]
			}
			if err := q.check(); err != nil {
				return err
			}
			if os.Getenv(EnvServer) != "" {
				return a.remoteHistory(ctx, name, q)
			}
			ws, err := a.open(ctx)
			if err != nil {
				return err
			}
			defer ws.Close()
			env, err := ws.environment(name)
			if err != nil {
				return err
			}
			page, err := a.historyPage(ctx, ws, env.Name, q, true)
			if err != nil {
				return err
			}
			return a.printHistory(page.Releases)
		},
	}
	cmd.Flags().IntVarP(&q.Limit, "limit", "n", 50, "how many (0: all)")
	cmd.Flags().Int64Var(&q.Before, "before", 0, "only releases older than this release number (the next page)")
	return cmd
}

// pageQ asks for a page of releases: at most Limit (0: all) older than
// release Before (0: from the newest).
type pageQ struct {
	Limit  int
	Before int64
}

func (q pageQ) check() error {
	if q.Limit < 0 || q.Before < 0 {
		return exitf(ExitConfig, "--limit and --before take numbers of 0 or more")
	}
	return nil
}

// maxPage bounds a page of releases the engine sends; a client wanting
// more asks for the next page.
const maxPage = 500

// pageQuery reads ?limit=N&before=ID, bounded by maxPage (0 or none:
// maxPage).
func pageQuery(r *http.Request) (pageQ, error) {
	var q pageQ
	var err error
	if q.Limit, err = limitQuery(r); err != nil {
		return q, err
	}
	if s := r.URL.Query().Get("before"); s != "" {
		if q.Before, err = strconv.ParseInt(s, 10, 64); err != nil || q.Before < 0 {
			return q, fmt.Errorf("before: want an ID, not %q", s)
		}
	}
	return q, nil
}

// limitQuery reads ?limit=N, bounded by maxPage (0 or none: maxPage).
func limitQuery(r *http.Request) (int, error) {
	s := r.URL.Query().Get("limit")
	if s == "" {
		return maxPage, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("limit: want a number of 0 or more, not %q", s)
	}
	if n == 0 || n > maxPage {
		n = maxPage
	}
	return n, nil
}

// readPages reads up to limit items (0: all) from a server's pages, a page
// of at most maxPage at a time from before (the zero cursor: the newest):
// fetch returns a page and the before of the next, the zero cursor when
// there is none. The pages run newest to oldest; with oldestFirst, each
// page's items are in ascending order and each older page goes in front.
func readPages[T any, C comparable](limit int, before C, oldestFirst bool, fetch func(n int, before C) ([]T, C, error)) ([]T, error) {
	var items []T
	var none C
	for {
		n := maxPage
		if limit > 0 {
			n = min(limit-len(items), maxPage)
		}
		page, next, err := fetch(n, before)
		if err != nil {
			return nil, err
		}
		if oldestFirst {
			items = append(page, items...)
		} else {
			items = append(items, page...)
		}
		if next == none || (limit > 0 && len(items) >= limit) {
			return items, nil
		}
		before = next
	}
}

// historyPage is a page of an environment's releases, newest first.
type historyPage struct {
	Releases []historyRow `json:"releases"`
	// Next, when set, is the before of the next (older) page.
	Next int64 `json:"next,omitempty"`
}

// historyPage reads the page q asks for of env's releases, with why each
// is or is not known-good. refresh judges first the releases whose soak
// has ended; an engine that runs env leaves that to the environment's
// agent, which does it as the soaks end, rather than on every read.
func (a *app) historyPage(ctx context.Context, ws *workspace, env string, q pageQ, refresh bool) (historyPage, error) {
	pr := a.promoter(ws)
	if refresh {
		_ = pr.RefreshKnownGood(ctx, env)
	}
	rels, err := ws.store.ListReleases(ctx, store.ReleaseFilter{Env: env, Limit: q.Limit, BeforeID: q.Before})
	if err != nil {
		return historyPage{}, err
	}
	page := historyPage{Releases: make([]historyRow, 0, len(rels))}
	for _, r := range rels {
		page.Releases = append(page.Releases, historyRow{Release: r, KnownGoodReason: r.Verdict})
	}
	if q.Limit > 0 && len(rels) == q.Limit {
		page.Next = rels[len(rels)-1].ID
	}
	return page, nil
}

// remoteHistory asks the ladder server (LADDER_SERVER) for env's
// releases, page by page until q.Limit (0: all) are read.
func (a *app) remoteHistory(ctx context.Context, env string, q pageQ) error {
	if env == "" {
		return exitf(ExitConfig, "with %s, name the environment: ladder history ENV", EnvServer)
	}
	c, err := a.thinClient(ctx)
	if err != nil {
		return err
	}
	rows, err := readPages(q.Limit, q.Before, false, func(n int, before int64) ([]historyRow, int64, error) {
		path := fmt.Sprintf("/v1/envs/%s/releases?limit=%d&before=%d", url.PathEscape(env), n, before)
		var page historyPage
		_, err := a.callRead(ctx, c, path, &page)
		return page.Releases, page.Next, err
	})
	if err != nil {
		return err
	}
	return a.printHistory(rows)
}

// printHistory prints releases as ladder history does.
func (a *app) printHistory(rows []historyRow) error {
	if a.json() {
		if rows == nil {
			rows = []historyRow{}
		}
		return a.printJSON(rows)
	}
	tw := tabwriter.NewWriter(a.Out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "RELEASE\tSITE\tSNAPSHOT\tPHASE\tKNOWN-GOOD\tBY\tSTARTED\tTOOK\tREASON\tKNOWN-GOOD BECAUSE")
	for _, row := range rows {
		r := row.Release
		good, why := "", "-"
		if row.KnownGoodReason != "" {
			good, why = "no", row.KnownGoodReason
		}
		if r.KnownGood {
			good = "yes"
		}
		took := "-"
		if !r.Finished.IsZero() {
			took = round(r.Finished.Sub(r.Started)).String()
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", r.ID, r.Site, snapshot.Short(r.Snapshot), r.Phase, good,
			joinOr([]string{r.By}, "-"), r.Started.Local().Format("2006-01-02 15:04:05"), took, r.Reason, why)
	}
	return tw.Flush()
}

// historyRow is a release as `ladder history -o json` shows it: with the
// reason it is, or is not, known-good once that was judged.
type historyRow struct {
	store.Release
	KnownGoodReason string `json:"knownGoodReason,omitempty"`
}

func newAuditCmd(a *app) *cobra.Command {
	var f store.AuditFilter
	cmd := &cobra.Command{
		Use:   "audit",
		Short: "Who did what, when and why: deploys, promotions, approvals, gates, rollbacks",
		Long: `audit lists the audit trail, newest first: every deploy, promotion,
approval, gate, rollback, token and trusted-key change, with who asked (the
identity of the credential), the outcome and why. --limit pages: the last
row's ID, given to --before, shows the next page.

With LADDER_SERVER (and LADDER_TOKEN), the ladder server answers: a token
with the viewer role on --env is enough; the whole trail (no --env) needs
the viewer role on every environment (viewer:*).`,
		Example: `  ladder audit
  ladder audit --env prod --action promote -o json
  ladder audit --env prod -n 20 --before 812`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			if f.Limit < 0 || f.BeforeID < 0 {
				return exitf(ExitConfig, "--limit and --before take numbers of 0 or more")
			}
			if os.Getenv(EnvServer) != "" {
				return a.remoteAudit(ctx, f)
			}
			ws, err := a.open(ctx)
			if err != nil {
				return err
			}
			defer ws.Close()
			entries, err := ws.store.ListAudit(ctx, f)
			if err != nil {
				return err
			}
			return a.printAudit(entries)
		},
	}
	cmd.Flags().StringVar(&f.Env, "env", "", "only this environment")
	cmd.Flags().StringVar(&f.Action, "action", "", "only this action (deploy, promote, approve, gate, rollback, token.create, trust.add, ...)")
	cmd.Flags().StringVar(&f.Actor, "actor", "", "only this actor")
	cmd.Flags().StringVar(&f.Snapshot, "snapshot", "", "only this snapshot (full ID)")
	cmd.Flags().IntVarP(&f.Limit, "limit", "n", 100, "how many (0: all)")
	cmd.Flags().Int64Var(&f.BeforeID, "before", 0, "only entries older than this ID (the next page)")
	return cmd
}

// auditPage is a page of the audit trail, newest first.
type auditPage struct {
	Entries []store.AuditEntry `json:"entries"`
	// Next, when set, is the before of the next (older) page.
	Next int64 `json:"next,omitempty"`
}

// auditPageOf reads the page f asks for (f.Limit bounded by the caller).
func auditPageOf(ctx context.Context, st store.LadderStore, f store.AuditFilter) (auditPage, error) {
	entries, err := st.ListAudit(ctx, f)
	if err != nil {
		return auditPage{}, err
	}
	page := auditPage{Entries: entries}
	if page.Entries == nil {
		page.Entries = []store.AuditEntry{}
	}
	if f.Limit > 0 && len(entries) == f.Limit {
		page.Next = entries[len(entries)-1].ID
	}
	return page, nil
}

// remoteAudit asks the ladder server (LADDER_SERVER) for the trail f
// selects, page by page until f.Limit (0: all) entries are read.
func (a *app) remoteAudit(ctx context.Context, f store.AuditFilter) error {
	c, err := a.thinClient(ctx)
	if err != nil {
		return err
	}
	entries, err := readPages(f.Limit, f.BeforeID, false, func(n int, before int64) ([]store.AuditEntry, int64, error) {
		q := queryOf(map[string]string{"env": f.Env, "action": f.Action, "actor": f.Actor, "snapshot": f.Snapshot})
		q.Set("limit", strconv.Itoa(n))
		q.Set("before", strconv.FormatInt(before, 10))
		var page auditPage
		_, err := a.callRead(ctx, c, "/v1/audit?"+q.Encode(), &page)
		return page.Entries, page.Next, err
	})
	if err != nil {
		return err
	}
	return a.printAudit(entries)
}

// printAudit prints audit entries as ladder audit does.
func (a *app) printAudit(entries []store.AuditEntry) error {
	if a.json() {
		if entries == nil {
			entries = []store.AuditEntry{}
		}
		return a.printJSON(entries)
	}
	tw := tabwriter.NewWriter(a.Out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tTIME\tACTOR\tACTION\tENV\tSNAPSHOT\tOUTCOME\tDETAIL")
	for _, e := range entries {
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", e.ID, e.Time.Local().Format("2006-01-02 15:04:05"), e.Actor, e.Action,
			joinOr([]string{e.Env}, "-"), joinOr([]string{snapshot.Short(e.Snapshot)}, "-"), e.Outcome, e.Detail)
	}
	return tw.Flush()
}
