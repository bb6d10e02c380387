// Package storetest is the conformance suite for store.Store. Every
// implementation runs it from its own tests:
//
//	func TestConformance(t *testing.T) {
//		storetest.Run(t, func(t *testing.T) store.Store { ... })
//	}
//
// The suite is where the contract's fine print is pinned down (boundaries,
// ordering ties, what a missing parent means), so that SQLite and PostgreSQL
// behave alike. Only tests may import this package.
package storetest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/tetherhq/tether/internal/store"
)

// Run runs the suite. newStore must return a new, empty store each time it
// is called; the subtests run in parallel, each on its own store, and Run
// closes each store when its subtest ends.
func Run(t *testing.T, newStore func(t *testing.T) store.Store) {
	tests := []struct {
		name string
		fn   func(t *testing.T, s store.Store)
	}{
		{"Meta", testMeta},
		{"MetaConcurrent", testMetaConcurrent},
		{"Users", testUsers},
		{"ListUsersOrder", testListUsersOrder},
		{"DeleteUserCascades", testDeleteUserCascades},
		{"Policies", testPolicies},
		{"AccessKeys", testAccessKeys},
		{"Groups", testGroups},
		{"ListGroupsOrder", testListGroupsOrder},
		{"GroupMembers", testGroupMembers},
		{"GroupPolicies", testGroupPolicies},
		{"DeleteGroupCascades", testDeleteGroupCascades},
		{"DeleteUserRemovesGroupsAndAttachments", testDeleteUserRemovesGroupsAndAttachments},
		{"ManagedPolicies", testManagedPolicies},
		{"PolicyVersions", testPolicyVersions},
		{"PolicyVersionsConcurrent", testPolicyVersionsConcurrent},
		{"AttachPolicy", testAttachPolicy},
		{"CancelledContextPolicyVersion", testCancelledContextPolicyVersion},
		{"Documents", testDocuments},
		{"DocumentVersions", testDocumentVersions},
		{"DocumentVersionsConcurrent", testDocumentVersionsConcurrent},
		{"CancelledContextDocumentVersion", testCancelledContextDocumentVersion},
		{"Activations", testActivations},
		{"RegisterInstance", testRegisterInstance},
		{"RegisterInstanceRefusals", testRegisterInstanceRefusals},
		{"RegisterInstanceConcurrent", testRegisterInstanceConcurrent},
		{"Instances", testInstances},
		{"DeleteInstanceRemovesTags", testDeleteInstanceRemovesTags},
		{"Tags", testTags},
		{"TagsMissingResource", testTagsMissingResource},
		{"Sessions", testSessions},
		{"UpdateSession", testUpdateSession},
		{"UpdateSessionConcurrent", testUpdateSessionConcurrent},
		{"ListSessions", testListSessions},
		{"Tokens", testTokens},
		{"ConsumeTokenRefusals", testConsumeTokenRefusals},
		{"ConsumeTokenConcurrent", testConsumeTokenConcurrent},
		{"TimePrecision", testTimePrecision},
		{"CancelledContext", testCancelledContext},
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

// t0 is the suite's fixed "now". It has whole milliseconds, so every
// implementation must round-trip it exactly.
var t0 = time.Date(2025, time.March, 14, 15, 9, 26, 535_000_000, time.UTC)

func at(d time.Duration) time.Time { return t0.Add(d) }

func ok(t *testing.T, err error, what string) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

func wantErr(t *testing.T, err, target error, what string) {
	t.Helper()
	if !errors.Is(err, target) {
		t.Fatalf("%s: got error %v, want %v", what, err, target)
	}
}

func wantEqual[T any](t *testing.T, what string, got, want T) {
	t.Helper()
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("%s:\n got %s\nwant %s", what, show(got), show(want))
	}
}

func wantEmpty[T any](t *testing.T, what string, got []T, err error) {
	t.Helper()
	ok(t, err, what)
	if len(got) != 0 {
		t.Fatalf("%s: got %s, want none", what, show(got))
	}
}

// show prints v with pointers followed and times in full, which %+v does not.
func show(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprintf("%+v", v)
	}
	return string(b)
}

// concurrently calls fn(i) for i in [0, n) from n goroutines released at
// once, and returns the errors by i.
func concurrently(n int, fn func(i int) error) []error {
	errs := make([]error, n)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			<-start
			errs[i] = fn(i)
		})
	}
	close(start)
	wg.Wait()
	return errs
}

// cancelled returns a context that is already done.
func cancelled(t *testing.T) context.Context {
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	return ctx
}

func testMeta(t *testing.T, s store.Store) {
	ctx := t.Context()
	got, err := s.EnsureMeta(ctx, "account_id", "111122223333")
	ok(t, err, "EnsureMeta first")
	wantEqual(t, "EnsureMeta first", got, "111122223333")

	got, err = s.EnsureMeta(ctx, "account_id", "999999999999")
	ok(t, err, "EnsureMeta second")
	wantEqual(t, "EnsureMeta keeps the first value", got, "111122223333")

	got, err = s.EnsureMeta(ctx, "other", "x")
	ok(t, err, "EnsureMeta other key")
	wantEqual(t, "EnsureMeta other key", got, "x")
}

func testMetaConcurrent(t *testing.T, s store.Store) {
	const n = 10
	vals := make([]string, n)
	errs := concurrently(n, func(i int) error {
		v, err := s.EnsureMeta(t.Context(), "account_id", fmt.Sprintf("%012d", i))
		vals[i] = v
		return err
	})
	for i, err := range errs {
		ok(t, err, fmt.Sprintf("EnsureMeta %d", i))
		if vals[i] != vals[0] {
			t.Fatalf("EnsureMeta returned %q and %q: want one winner", vals[0], vals[i])
		}
	}
}

func testCancelledContext(t *testing.T, s store.Store) {
	ctx := t.Context()
	dead := cancelled(t)

	if err := s.CreateUser(dead, user("alice")); err == nil {
		t.Fatal("CreateUser with a cancelled context: no error")
	}
	_, err := s.GetUser(ctx, "alice")
	wantErr(t, err, store.ErrNotFound, "GetUser after cancelled CreateUser")

	if _, err := s.EnsureMeta(dead, "k", "v"); err == nil {
		t.Fatal("EnsureMeta with a cancelled context: no error")
	}
	got, err := s.EnsureMeta(ctx, "k", "w")
	ok(t, err, "EnsureMeta")
	wantEqual(t, "EnsureMeta after cancelled EnsureMeta", got, "w")

	ok(t, s.CreateActivation(ctx, activation("act", 1, at(time.Hour))), "CreateActivation")
	if err := s.RegisterInstance(dead, "act", instance("mi-0123456789abcdef0"), t0); err == nil {
		t.Fatal("RegisterInstance with a cancelled context: no error")
	}
	a, err := s.GetActivation(ctx, "act")
	ok(t, err, "GetActivation")
	wantEqual(t, "count after cancelled RegisterInstance", a.RegistrationsCount, 0)
	_, err = s.GetInstance(ctx, "mi-0123456789abcdef0")
	wantErr(t, err, store.ErrNotFound, "GetInstance after cancelled RegisterInstance")

	tok := token("t", store.TokenClientData, "sess", at(time.Minute))
	ok(t, s.PutToken(ctx, tok), "PutToken")
	if _, err := s.ConsumeToken(dead, tok.Hash, tok.Kind, tok.Subject, t0); err == nil {
		t.Fatal("ConsumeToken with a cancelled context: no error")
	}
	_, err = s.ConsumeToken(ctx, tok.Hash, tok.Kind, tok.Subject, t0)
	ok(t, err, "ConsumeToken after a cancelled ConsumeToken")

	// Cancelled halfway: fn has run, the write has not. The caller sees an
	// error, so the store must not keep the change.
	sess := session("alice-0123456789abcdef0", "mi-0123456789abcdef0", "Connected", t0)
	ok(t, s.CreateSession(ctx, sess), "CreateSession")
	mid, cancel := context.WithCancel(ctx)
	_, err = s.UpdateSession(mid, sess.ID, func(x *store.Session) error {
		x.Status = "Terminated"
		cancel()
		return nil
	})
	if err == nil {
		t.Fatal("UpdateSession whose context was cancelled inside fn: no error")
	}
	got2, err := s.GetSession(ctx, sess.ID)
	ok(t, err, "GetSession")
	wantEqual(t, "session after cancelled UpdateSession", got2, sess)
}
