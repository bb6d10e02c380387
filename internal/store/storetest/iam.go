package storetest

import (
	"crypto/sha256"
	"encoding/hex"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tetherhq/tether/internal/store"
)

// user returns a valid user whose ID is derived from its name.
func user(name string) store.User {
	sum := sha256.Sum256([]byte(name))
	id := "AIDA" + strings.ToUpper(hex.EncodeToString(sum[:9]))[:17]
	return store.User{Name: name, ID: id, CreatedAt: t0}
}

// accessKey returns an active, never used key. The sealed secret holds
// bytes that a text column would mangle.
func accessKey(id, userName string, created time.Time) store.AccessKey {
	return store.AccessKey{
		ID:           id,
		UserName:     userName,
		SealedSecret: []byte("\x00sealed\xff\xfe" + id),
		Status:       store.KeyActive,
		CreatedAt:    created,
	}
}

func testUsers(t *testing.T, s store.Store) {
	ctx := t.Context()
	{
		got, err := s.ListUsers(ctx)
		wantEmpty(t, "ListUsers on an empty store", got, err)
	}

	alice := user("alice")
	ok(t, s.CreateUser(ctx, alice), "CreateUser alice")
	got, err := s.GetUser(ctx, "alice")
	ok(t, err, "GetUser alice")
	wantEqual(t, "GetUser alice", got, alice)

	wantErr(t, s.CreateUser(ctx, alice), store.ErrAlreadyExists, "CreateUser alice again")
	clash := user("mallory")
	clash.ID = alice.ID
	wantErr(t, s.CreateUser(ctx, clash), store.ErrAlreadyExists, "CreateUser with alice's ID")
	_, err = s.GetUser(ctx, "mallory")
	wantErr(t, err, store.ErrNotFound, "GetUser of the refused user")

	// Names are case-sensitive.
	Alice := user("Alice")
	ok(t, s.CreateUser(ctx, Alice), "CreateUser Alice")
	got, err = s.GetUser(ctx, "Alice")
	ok(t, err, "GetUser Alice")
	wantEqual(t, "GetUser Alice", got, Alice)

	_, err = s.GetUser(ctx, "bob")
	wantErr(t, err, store.ErrNotFound, "GetUser bob")
	wantErr(t, s.DeleteUser(ctx, "bob"), store.ErrNotFound, "DeleteUser bob")
}

func testListUsersOrder(t *testing.T, s store.Store) {
	ctx := t.Context()
	// "By name" is byte order (what Go's < on strings gives), not a locale's
	// collation: upper case sorts before lower case.
	names := []string{"carol", "Zed", "alice", "bob", "Alice", "alice.b", "alice-b", "_svc"}
	var want []store.User
	for i, n := range names {
		u := user(n)
		u.CreatedAt = at(time.Duration(-i) * time.Hour) // creation order must not matter
		ok(t, s.CreateUser(ctx, u), "CreateUser "+n)
		want = append(want, u)
	}
	slices.SortFunc(want, func(a, b store.User) int { return strings.Compare(a.Name, b.Name) })
	got, err := s.ListUsers(ctx)
	ok(t, err, "ListUsers")
	wantEqual(t, "ListUsers by name", got, want)
}

func testDeleteUserCascades(t *testing.T, s store.Store) {
	ctx := t.Context()
	for _, n := range []string{"alice", "bob"} {
		ok(t, s.CreateUser(ctx, user(n)), "CreateUser "+n)
		ok(t, s.PutUserPolicy(ctx, n, store.Policy{Name: "p1", Document: `{"Version":"2012-10-17"}`}), "PutUserPolicy")
		ok(t, s.PutUserPolicy(ctx, n, store.Policy{Name: "p2", Document: `{}`}), "PutUserPolicy")
		ok(t, s.AddTags(ctx, store.ResourceUser, n, []store.Tag{{Key: "team", Value: "infra"}}), "AddTags")
	}
	ok(t, s.CreateAccessKey(ctx, accessKey("AKIAAAAAAAAAAAAAAAA1", "alice", t0)), "CreateAccessKey")
	ok(t, s.CreateAccessKey(ctx, accessKey("AKIAAAAAAAAAAAAAAAA2", "alice", t0)), "CreateAccessKey")
	bobKey := accessKey("AKIABBBBBBBBBBBBBBB1", "bob", t0)
	ok(t, s.CreateAccessKey(ctx, bobKey), "CreateAccessKey")

	ok(t, s.DeleteUser(ctx, "alice"), "DeleteUser alice")
	_, err := s.GetUser(ctx, "alice")
	wantErr(t, err, store.ErrNotFound, "GetUser after delete")
	for _, id := range []string{"AKIAAAAAAAAAAAAAAAA1", "AKIAAAAAAAAAAAAAAAA2"} {
		_, err := s.GetAccessKey(ctx, id)
		wantErr(t, err, store.ErrNotFound, "GetAccessKey of a deleted user's key")
	}
	_, err = s.ListUserPolicies(ctx, "alice")
	wantErr(t, err, store.ErrNotFound, "ListUserPolicies of a deleted user")
	wantErr(t, s.DeleteUser(ctx, "alice"), store.ErrNotFound, "DeleteUser twice")

	// A new user with the same name starts clean: nothing of the old one
	// survives to grant it permissions, credentials or tags.
	ok(t, s.CreateUser(ctx, user("alice")), "CreateUser alice again")
	{
		got, err := s.ListUserPolicies(ctx, "alice")
		wantEmpty(t, "policies of the new alice", got, err)
	}
	{
		got, err := s.ListAccessKeys(ctx, "alice")
		wantEmpty(t, "keys of the new alice", got, err)
	}
	{
		got, err := s.ListTags(ctx, store.ResourceUser, "alice")
		wantEmpty(t, "tags of the new alice", got, err)
	}

	// bob is untouched.
	ps, err := s.ListUserPolicies(ctx, "bob")
	ok(t, err, "ListUserPolicies bob")
	wantEqual(t, "bob's policy count", len(ps), 2)
	ks, err := s.ListAccessKeys(ctx, "bob")
	ok(t, err, "ListAccessKeys bob")
	wantEqual(t, "bob's keys", ks, []store.AccessKey{bobKey})
	ts, err := s.ListTags(ctx, store.ResourceUser, "bob")
	ok(t, err, "ListTags bob")
	wantEqual(t, "bob's tags", ts, []store.Tag{{Key: "team", Value: "infra"}})
}

func testPolicies(t *testing.T, s store.Store) {
	ctx := t.Context()
	p := store.Policy{Name: "Read", Document: `{"Version":"2012-10-17","Statement":[]}`}
	wantErr(t, s.PutUserPolicy(ctx, "alice", p), store.ErrNotFound, "PutUserPolicy to a missing user")
	_, err := s.ListUserPolicies(ctx, "alice")
	wantErr(t, err, store.ErrNotFound, "ListUserPolicies of a missing user")

	ok(t, s.CreateUser(ctx, user("alice")), "CreateUser")
	ok(t, s.CreateUser(ctx, user("bob")), "CreateUser")
	{
		got, err := s.ListUserPolicies(ctx, "alice")
		wantEmpty(t, "ListUserPolicies with none", got, err)
	}

	for _, name := range []string{"b", "a", "C", "c"} {
		ok(t, s.PutUserPolicy(ctx, "alice", store.Policy{Name: name, Document: "doc " + name}), "PutUserPolicy "+name)
	}
	ok(t, s.PutUserPolicy(ctx, "bob", store.Policy{Name: "a", Document: "bob's"}), "PutUserPolicy bob")
	// Upsert: the same name replaces the document.
	ok(t, s.PutUserPolicy(ctx, "alice", store.Policy{Name: "b", Document: "doc b v2"}), "PutUserPolicy b again")

	got, err := s.ListUserPolicies(ctx, "alice")
	ok(t, err, "ListUserPolicies")
	wantEqual(t, "ListUserPolicies by name", got, []store.Policy{
		{Name: "C", Document: "doc C"},
		{Name: "a", Document: "doc a"},
		{Name: "b", Document: "doc b v2"},
		{Name: "c", Document: "doc c"},
	})

	ok(t, s.DeleteUserPolicy(ctx, "alice", "a"), "DeleteUserPolicy")
	wantErr(t, s.DeleteUserPolicy(ctx, "alice", "a"), store.ErrNotFound, "DeleteUserPolicy twice")
	wantErr(t, s.DeleteUserPolicy(ctx, "nobody", "a"), store.ErrNotFound, "DeleteUserPolicy of a missing user")
	got, err = s.ListUserPolicies(ctx, "bob")
	ok(t, err, "ListUserPolicies bob")
	wantEqual(t, "bob's policy survives alice's delete", got, []store.Policy{{Name: "a", Document: "bob's"}})
}

func testAccessKeys(t *testing.T, s store.Store) {
	ctx := t.Context()
	k1 := accessKey("AKIAZZZZZZZZZZZZZZZ1", "alice", at(2*time.Second))
	wantErr(t, s.CreateAccessKey(ctx, k1), store.ErrNotFound, "CreateAccessKey for a missing user")
	_, err := s.ListAccessKeys(ctx, "alice")
	wantErr(t, err, store.ErrNotFound, "ListAccessKeys of a missing user")

	ok(t, s.CreateUser(ctx, user("alice")), "CreateUser")
	{
		got, err := s.ListAccessKeys(ctx, "alice")
		wantEmpty(t, "ListAccessKeys with none", got, err)
	}

	// Creation order, not id order, and not insertion order.
	k2 := accessKey("AKIAAAAAAAAAAAAAAAA2", "alice", at(time.Second))
	k3 := accessKey("AKIAMMMMMMMMMMMMMMM3", "alice", at(3*time.Second))
	k3.Status = store.KeyInactive
	k3.LastUsedAt = at(4 * time.Second)
	for _, k := range []store.AccessKey{k1, k2, k3} {
		ok(t, s.CreateAccessKey(ctx, k), "CreateAccessKey "+k.ID)
	}
	wantErr(t, s.CreateAccessKey(ctx, k1), store.ErrAlreadyExists, "CreateAccessKey twice")

	got, err := s.GetAccessKey(ctx, k1.ID)
	ok(t, err, "GetAccessKey")
	wantEqual(t, "GetAccessKey", got, k1)
	list, err := s.ListAccessKeys(ctx, "alice")
	ok(t, err, "ListAccessKeys")
	wantEqual(t, "ListAccessKeys by creation time", list, []store.AccessKey{k2, k1, k3})

	ok(t, s.SetAccessKeyStatus(ctx, k1.ID, store.KeyInactive), "SetAccessKeyStatus Inactive")
	got, err = s.GetAccessKey(ctx, k1.ID)
	ok(t, err, "GetAccessKey")
	wantEqual(t, "status after deactivation", got.Status, store.KeyInactive)
	ok(t, s.SetAccessKeyStatus(ctx, k1.ID, store.KeyActive), "SetAccessKeyStatus Active")
	got, err = s.GetAccessKey(ctx, k1.ID)
	ok(t, err, "GetAccessKey")
	wantEqual(t, "status after reactivation", got.Status, store.KeyActive)

	ok(t, s.TouchAccessKey(ctx, k1.ID, at(time.Minute)), "TouchAccessKey")
	got, err = s.GetAccessKey(ctx, k1.ID)
	ok(t, err, "GetAccessKey")
	want := k1
	want.LastUsedAt = at(time.Minute)
	wantEqual(t, "GetAccessKey after touch", got, want)

	const missing = "AKIANOTTHEREXXXXXXXX"
	wantErr(t, s.SetAccessKeyStatus(ctx, missing, store.KeyInactive), store.ErrNotFound, "SetAccessKeyStatus missing")
	wantErr(t, s.TouchAccessKey(ctx, missing, t0), store.ErrNotFound, "TouchAccessKey missing")
	_, err = s.GetAccessKey(ctx, missing)
	wantErr(t, err, store.ErrNotFound, "GetAccessKey missing")

	ok(t, s.DeleteAccessKey(ctx, k1.ID), "DeleteAccessKey")
	wantErr(t, s.DeleteAccessKey(ctx, k1.ID), store.ErrNotFound, "DeleteAccessKey twice")
	_, err = s.GetAccessKey(ctx, k1.ID)
	wantErr(t, err, store.ErrNotFound, "GetAccessKey after delete")
	list, err = s.ListAccessKeys(ctx, "alice")
	ok(t, err, "ListAccessKeys")
	wantEqual(t, "ListAccessKeys after delete", list, []store.AccessKey{k2, k3})
}
