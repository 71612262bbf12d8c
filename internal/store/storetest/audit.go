package storetest

import (
	"testing"
	"time"

	"github.com/ladderhq/ladder/internal/store"
)

var auditTests = []test{
	{"IDsAndTime", testAuditIDsTime},
	{"Filters", testAuditFilters},
}

// testAuditIDsTime: IDs increase; Time is kept (as UTC milliseconds) when
// given and set to now when zero; the entry comes back as stored.
func testAuditIDsTime(t *testing.T, s store.Store) {
	ctx := t.Context()
	full := store.AuditEntry{
		Time:  time.Date(2025, 3, 14, 10, 26, 53, 589_999_999, time.FixedZone("CET", 3600)),
		Actor: "alice@example.com", Action: "promote", Env: "prod", Site: "eu-1", Snapshot: hexOf("a"),
		Outcome: "blocked", Detail: `gate "approvals": 1/2`,
	}
	first, err := s.Audit(ctx, full)
	must(t, "Audit", err)
	want := full
	want.ID, want.Time = first.ID, base
	equal(t, "Audit result", first, want)

	before := time.Now()
	second, err := s.Audit(ctx, store.AuditEntry{Actor: "bob", Action: "lock"})
	after := time.Now()
	must(t, "Audit without time", err)
	within(t, "Audit set Time", second.Time, before, after)
	if second.ID <= first.ID {
		t.Errorf("second audit ID %d not after first %d", second.ID, first.ID)
	}
	equal(t, "Audit without time", second, store.AuditEntry{ID: second.ID, Time: second.Time, Actor: "bob", Action: "lock"})

	got, err := s.ListAudit(ctx, store.AuditFilter{})
	must(t, "ListAudit", err)
	equal(t, "ListAudit", got, []store.AuditEntry{second, want})
}

func testAuditFilters(t *testing.T, s store.Store) {
	ctx := t.Context()
	snapA, snapB := hexOf("a"), hexOf("b")
	specs := []store.AuditEntry{
		{Actor: "alice", Action: "deploy", Env: "staging", Site: "eu-1", Snapshot: snapA, Outcome: "succeeded"},  // 0
		{Actor: "bob", Action: "approve", Env: "prod", Snapshot: snapA},                                          // 1
		{Actor: "alice", Action: "promote", Env: "prod", Snapshot: snapA, Outcome: "succeeded"},                  // 2
		{Actor: "ci", Action: "deploy", Env: "prod", Site: "us-1", Snapshot: snapA, Outcome: "failed"},           // 3
		{Actor: "alice", Action: "rollback", Env: "prod", Site: "us-1", Snapshot: snapB, Detail: "to release 3"}, // 4
		{Actor: "ci", Action: "lock", Detail: "ladder/prod"},                                                     // 5
		{Actor: "bob", Action: "gate", Env: "staging", Snapshot: snapB, Outcome: "passed"},                       // 6
	}
	var all []store.AuditEntry
	for i, e := range specs {
		// Times run backwards: newest first means most recently appended.
		e.Time = at(100 - i)
		got, err := s.Audit(ctx, e)
		must(t, "Audit", err)
		all = append(all, got)
	}
	cases := []struct {
		name string
		f    store.AuditFilter
		want []store.AuditEntry
	}{
		{"All", store.AuditFilter{}, choose(all, 6, 5, 4, 3, 2, 1, 0)},
		{"Env", store.AuditFilter{Env: "prod"}, choose(all, 4, 3, 2, 1)},
		{"Snapshot", store.AuditFilter{Snapshot: snapB}, choose(all, 6, 4)},
		{"Action", store.AuditFilter{Action: "deploy"}, choose(all, 3, 0)},
		{"Actor", store.AuditFilter{Actor: "alice"}, choose(all, 4, 2, 0)},
		{"EnvActor", store.AuditFilter{Env: "prod", Actor: "alice"}, choose(all, 4, 2)},
		{"AllFields", store.AuditFilter{Env: "prod", Snapshot: snapA, Action: "deploy", Actor: "ci"}, choose(all, 3)},
		{"Limit", store.AuditFilter{Limit: 2}, choose(all, 6, 5)},
		{"FilteredLimit", store.AuditFilter{Snapshot: snapA, Limit: 3}, choose(all, 3, 2, 1)},
		{"LimitAboveCount", store.AuditFilter{Actor: "bob", Limit: 10}, choose(all, 6, 1)},
		{"NegativeLimit", store.AuditFilter{Actor: "ci", Limit: -1}, choose(all, 5, 3)},
		{"Before", store.AuditFilter{BeforeID: all[4].ID}, choose(all, 3, 2, 1, 0)},
		{"BeforeFiltered", store.AuditFilter{Env: "prod", BeforeID: all[3].ID, Limit: 1}, choose(all, 2)},
		{"BeforeOldest", store.AuditFilter{BeforeID: all[0].ID}, nil},
		{"NoMatch", store.AuditFilter{Env: "qa"}, nil},
		{"NoMatchCombination", store.AuditFilter{Actor: "bob", Action: "deploy"}, nil},
	}
	for _, tc := range cases {
		got, err := s.ListAudit(ctx, tc.f)
		must(t, "ListAudit "+tc.name, err)
		equalList(t, "ListAudit "+tc.name, got, tc.want)
	}
}
