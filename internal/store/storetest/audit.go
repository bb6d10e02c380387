package storetest

import (
	"fmt"
	"testing"
	"time"

	"github.com/tetherhq/tether/internal/store"
)

// RunAudit runs the audit-trail part of the suite, in parallel subtests
// each on a fresh store, as Run does. Implementations call it next to Run.
func RunAudit(t *testing.T, newStore func(t *testing.T) store.Store) {
	tests := []struct {
		name string
		fn   func(t *testing.T, s store.Store)
	}{
		{"AuditRoundTrip", testAuditRoundTrip},
		{"AuditOrder", testAuditOrder},
		{"AuditFilters", testAuditFilters},
		{"AuditPagination", testAuditPagination},
		{"AuditDuplicateIDs", testAuditDuplicateIDs},
		{"AuditCancelledContext", testAuditCancelledContext},
		{"AuditConcurrentAppends", testAuditConcurrentAppends},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := newStore(t)
			t.Cleanup(func() {
				if err := s.Close(); err != nil {
					t.Errorf("Close: %v", err)
				}
			})
			tc.fn(t, s)
		})
	}
}

func auditEvent(id string, when time.Time, kind, principal, action, resource, outcome string) store.AuditEvent {
	return store.AuditEvent{
		ID: id, Time: when, Kind: kind, Principal: principal, Action: action,
		Resource: resource, Outcome: outcome, SourceIP: "192.0.2.7",
	}
}

func ids(evs []store.AuditEvent) []string {
	out := []string{}
	for _, e := range evs {
		out = append(out, e.ID)
	}
	return out
}

const (
	auditAlice = "arn:aws:iam::111122223333:user/alice"
	auditBob   = "arn:aws:iam::111122223333:user/bob"
)

func testAuditRoundTrip(t *testing.T, s store.Store) {
	ctx := t.Context()
	none, err := s.ListAuditEvents(ctx, store.AuditFilter{})
	wantEmpty(t, "ListAuditEvents on an empty store", none, err)
	ok(t, s.AppendAuditEvents(ctx, nil), "AppendAuditEvents with no events")

	full := store.AuditEvent{
		ID: "e1", Time: t0, Kind: "api", Principal: auditAlice, Action: "AmazonSSM.StartSession",
		Resource: "mi-00000000000000001", SourceIP: "2001:db8::1", Outcome: "denied",
		ErrorCode: "AccessDeniedException", Reason: "no identity-based policy allows the action",
		RequestID:  "0f3c1c1e-0000-4000-8000-000000000001",
		Parameters: `{"Target":"mi-00000000000000001","Parameters":{"password":"REDACTED"}}`,
		Details:    map[string]string{"sessionId": "alice-0123456789abcdef0", "empty": ""},
	}
	bare := store.AuditEvent{ID: "e2", Time: at(time.Second), Kind: "session", Action: "Connected", Outcome: "allowed"}
	ok(t, s.AppendAuditEvents(ctx, []store.AuditEvent{full, bare}), "AppendAuditEvents")
	got, err := s.ListAuditEvents(ctx, store.AuditFilter{})
	ok(t, err, "ListAuditEvents")
	wantEqual(t, "every field round-trips, newest first", got, []store.AuditEvent{bare, full})

	// Times are kept to the millisecond, in UTC.
	odd := auditEvent("e3", time.Date(2025, 3, 14, 17, 9, 26, 535_999_999, time.FixedZone("x", 7200)), "api", auditAlice, "a", "r", "allowed")
	ok(t, s.AppendAuditEvents(ctx, []store.AuditEvent{odd}), "AppendAuditEvents sub-millisecond")
	got, err = s.ListAuditEvents(ctx, store.AuditFilter{Resource: "r"})
	ok(t, err, "ListAuditEvents")
	if len(got) != 1 || !got[0].Time.Equal(odd.Time.Truncate(time.Millisecond)) || got[0].Time.Location() != time.UTC {
		t.Fatalf("time of a sub-millisecond event: got %s", show(got))
	}
}

func testAuditOrder(t *testing.T, s store.Store) {
	ctx := t.Context()
	// Appended out of order, several in one millisecond: the listing is by
	// time descending, then id descending.
	evs := []store.AuditEvent{
		auditEvent("b", t0, "api", auditAlice, "x", "r", "allowed"),
		auditEvent("d", at(-time.Hour), "api", auditAlice, "x", "r", "allowed"),
		auditEvent("a", t0, "api", auditAlice, "x", "r", "allowed"),
		auditEvent("z", at(time.Hour), "api", auditAlice, "x", "r", "allowed"),
		auditEvent("c", t0, "api", auditAlice, "x", "r", "allowed"),
	}
	ok(t, s.AppendAuditEvents(ctx, evs[:2]), "AppendAuditEvents")
	ok(t, s.AppendAuditEvents(ctx, evs[2:]), "AppendAuditEvents")
	got, err := s.ListAuditEvents(ctx, store.AuditFilter{})
	ok(t, err, "ListAuditEvents")
	wantEqual(t, "order", ids(got), []string{"z", "c", "b", "a", "d"})
	got, err = s.ListAuditEvents(ctx, store.AuditFilter{Limit: 2})
	ok(t, err, "ListAuditEvents limit 2")
	wantEqual(t, "limit keeps the newest", ids(got), []string{"z", "c"})
}

func testAuditFilters(t *testing.T, s store.Store) {
	ctx := t.Context()
	ok(t, s.AppendAuditEvents(ctx, []store.AuditEvent{
		auditEvent("1", at(0), "api", auditAlice, "AmazonSSM.StartSession", "mi-1", "allowed"),
		auditEvent("2", at(1*time.Minute), "api", auditAlice, "AmazonSSM.DescribeSessions", "", "denied"),
		auditEvent("3", at(2*time.Minute), "authz", auditAlice, "ssm:DescribeSessions", "*", "denied"),
		auditEvent("4", at(3*time.Minute), "session", auditAlice, "Connected", "alice-1", "allowed"),
		auditEvent("5", at(4*time.Minute), "api", auditBob, "AmazonSSM.StartSession", "mi-2", "error"),
		auditEvent("6", at(5*time.Minute), "session", auditBob, "Failed", "bob-1", "error"),
		auditEvent("7", at(6*time.Minute), "api", "", "AmazonSSM.StartSession", "", "denied"),
	}), "AppendAuditEvents")
	for _, tc := range []struct {
		name string
		f    store.AuditFilter
		want []string
	}{
		{"all", store.AuditFilter{}, []string{"7", "6", "5", "4", "3", "2", "1"}},
		{"since is inclusive", store.AuditFilter{Since: at(4 * time.Minute)}, []string{"7", "6", "5"}},
		{"until is exclusive", store.AuditFilter{Until: at(2 * time.Minute)}, []string{"2", "1"}},
		{"since and until", store.AuditFilter{Since: at(time.Minute), Until: at(3 * time.Minute)}, []string{"3", "2"}},
		{"an empty range", store.AuditFilter{Since: at(3 * time.Minute), Until: at(3 * time.Minute)}, []string{}},
		{"principal", store.AuditFilter{Principal: auditBob}, []string{"6", "5"}},
		{"principal is exact", store.AuditFilter{Principal: "arn:aws:iam::111122223333:user/ali"}, []string{}},
		{"resource", store.AuditFilter{Resource: "mi-1"}, []string{"1"}},
		{"one action", store.AuditFilter{Actions: []string{"AmazonSSM.StartSession"}}, []string{"7", "5", "1"}},
		{"any of several actions", store.AuditFilter{Actions: []string{"ssm:DescribeSessions", "AmazonSSM.DescribeSessions", "nothing"}}, []string{"3", "2"}},
		{"kind", store.AuditFilter{Kind: "session"}, []string{"6", "4"}},
		{"outcome", store.AuditFilter{Outcome: "denied"}, []string{"7", "3", "2"}},
		{"everything at once", store.AuditFilter{Since: at(0), Until: at(time.Hour), Principal: auditAlice, Kind: "api",
			Actions: []string{"AmazonSSM.DescribeSessions"}, Outcome: "denied"}, []string{"2"}},
		{"filters and limit", store.AuditFilter{Principal: auditAlice, Limit: 2}, []string{"4", "3"}},
	} {
		got, err := s.ListAuditEvents(ctx, tc.f)
		ok(t, err, tc.name)
		wantEqual(t, tc.name, ids(got), tc.want)
	}
}

func testAuditPagination(t *testing.T, s store.Store) {
	ctx := t.Context()
	// 23 events over 5 milliseconds, so pages end in the middle of a
	// millisecond, with ids that do not sort like the append order.
	var evs []store.AuditEvent
	for i := range 23 {
		evs = append(evs, auditEvent(fmt.Sprintf("id-%02d", (i*7)%23), at(time.Duration(i%5)*time.Millisecond), "api", auditAlice, "x", "r", "allowed"))
	}
	ok(t, s.AppendAuditEvents(ctx, evs), "AppendAuditEvents")
	all, err := s.ListAuditEvents(ctx, store.AuditFilter{})
	ok(t, err, "ListAuditEvents")
	if len(all) != 23 {
		t.Fatalf("got %d events, want 23", len(all))
	}
	for _, size := range []int{1, 4, 5, 22, 23, 50} {
		var got []string
		f := store.AuditFilter{Limit: size, Principal: auditAlice}
		for pages := 0; ; pages++ {
			if pages > 30 {
				t.Fatalf("page size %d: pagination does not end", size)
			}
			page, err := s.ListAuditEvents(ctx, f)
			ok(t, err, "ListAuditEvents page")
			got = append(got, ids(page)...)
			if len(page) < size {
				break
			}
			last := page[len(page)-1]
			f.After = &store.AuditPosition{Time: last.Time, ID: last.ID}
		}
		wantEqual(t, fmt.Sprintf("pages of %d chained", size), got, ids(all))
	}

	// A page boundary stays valid while newer events arrive.
	first, err := s.ListAuditEvents(ctx, store.AuditFilter{Limit: 10})
	ok(t, err, "first page")
	ok(t, s.AppendAuditEvents(ctx, []store.AuditEvent{auditEvent("id-99", at(time.Hour), "api", auditAlice, "x", "r", "allowed")}), "append newer")
	last := first[len(first)-1]
	rest, err := s.ListAuditEvents(ctx, store.AuditFilter{After: &store.AuditPosition{Time: last.Time, ID: last.ID}})
	ok(t, err, "rest")
	wantEqual(t, "first page and the rest after a newer append", append(ids(first), ids(rest)...), ids(all))
}

func testAuditDuplicateIDs(t *testing.T, s store.Store) {
	ctx := t.Context()
	e := auditEvent("dup", t0, "api", auditAlice, "x", "r", "allowed")
	ok(t, s.AppendAuditEvents(ctx, []store.AuditEvent{e}), "AppendAuditEvents")
	changed := e
	changed.Outcome = "denied"
	other := auditEvent("other", t0, "api", auditAlice, "x", "r", "allowed")
	ok(t, s.AppendAuditEvents(ctx, []store.AuditEvent{changed, other}), "AppendAuditEvents retried batch")
	got, err := s.ListAuditEvents(ctx, store.AuditFilter{})
	ok(t, err, "ListAuditEvents")
	wantEqual(t, "a stored event is never replaced", got, []store.AuditEvent{other, e})
}

func testAuditCancelledContext(t *testing.T, s store.Store) {
	ctx := t.Context()
	evs := []store.AuditEvent{auditEvent("1", t0, "api", auditAlice, "x", "r", "allowed"), auditEvent("2", t0, "api", auditAlice, "x", "r", "allowed")}
	if err := s.AppendAuditEvents(cancelled(t), evs); err == nil {
		t.Fatal("AppendAuditEvents with a cancelled context: no error")
	}
	none, err := s.ListAuditEvents(ctx, store.AuditFilter{})
	wantEmpty(t, "after a cancelled AppendAuditEvents", none, err)
	if _, err := s.ListAuditEvents(cancelled(t), store.AuditFilter{}); err == nil {
		t.Fatal("ListAuditEvents with a cancelled context: no error")
	}
}

func testAuditConcurrentAppends(t *testing.T, s store.Store) {
	const n, per = 8, 25
	errs := concurrently(n, func(i int) error {
		var evs []store.AuditEvent
		for j := range per {
			evs = append(evs, auditEvent(fmt.Sprintf("%d-%02d", i, j), at(time.Duration(j)*time.Millisecond), "api", auditAlice, "x", "r", "allowed"))
		}
		return s.AppendAuditEvents(t.Context(), evs)
	})
	for i, err := range errs {
		ok(t, err, fmt.Sprintf("AppendAuditEvents %d", i))
	}
	got, err := s.ListAuditEvents(t.Context(), store.AuditFilter{})
	ok(t, err, "ListAuditEvents")
	if len(got) != n*per {
		t.Fatalf("got %d events, want %d", len(got), n*per)
	}
}
