package storetest

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tetherhq/tether/internal/store"
)

// group returns a valid group whose ID is derived from its name.
func group(name string) store.Group {
	sum := sha256.Sum256([]byte("group " + name))
	id := "AGPA" + strings.ToUpper(hex.EncodeToString(sum[:9]))[:17]
	return store.Group{Name: name, ID: id, CreatedAt: t0}
}

// managedPolicy returns a managed policy as CreateManagedPolicy stores it
// (default v1, unattached, updated when created), with its ID derived from
// its name.
func managedPolicy(name string, created time.Time) store.ManagedPolicy {
	sum := sha256.Sum256([]byte("policy " + name))
	id := "ANPA" + strings.ToUpper(hex.EncodeToString(sum[:9]))[:17]
	return store.ManagedPolicy{
		Name:             name,
		ID:               id,
		Description:      "describes " + name,
		DefaultVersionID: "v1",
		CreatedAt:        created,
		UpdatedAt:        created,
	}
}

// byteOrderNames are names whose order by bytes differs from creation
// order and from a locale's collation (upper case sorts first).
var byteOrderNames = []string{"carol", "Zed", "alice", "bob", "Alice", "alice.b", "alice-b", "_svc"}

func sortedNames() []string {
	ns := slices.Clone(byteOrderNames)
	slices.Sort(ns)
	return ns
}

func testGroups(t *testing.T, s store.Store) {
	ctx := t.Context()
	{
		got, err := s.ListGroups(ctx)
		wantEmpty(t, "ListGroups on an empty store", got, err)
	}

	admins := group("admins")
	ok(t, s.CreateGroup(ctx, admins), "CreateGroup admins")
	got, err := s.GetGroup(ctx, "admins")
	ok(t, err, "GetGroup admins")
	wantEqual(t, "GetGroup admins", got, admins)

	wantErr(t, s.CreateGroup(ctx, admins), store.ErrAlreadyExists, "CreateGroup admins again")
	clash := group("ops")
	clash.ID = admins.ID
	wantErr(t, s.CreateGroup(ctx, clash), store.ErrAlreadyExists, "CreateGroup with admins' ID")
	_, err = s.GetGroup(ctx, "ops")
	wantErr(t, err, store.ErrNotFound, "GetGroup of the refused group")

	// Names are case-sensitive, and a user of the same name is no clash.
	Admins := group("Admins")
	ok(t, s.CreateGroup(ctx, Admins), "CreateGroup Admins")
	got, err = s.GetGroup(ctx, "Admins")
	ok(t, err, "GetGroup Admins")
	wantEqual(t, "GetGroup Admins", got, Admins)
	ok(t, s.CreateUser(ctx, user("admins")), "CreateUser with a group's name")

	_, err = s.GetGroup(ctx, "devs")
	wantErr(t, err, store.ErrNotFound, "GetGroup missing")
	wantErr(t, s.DeleteGroup(ctx, "devs"), store.ErrNotFound, "DeleteGroup missing")

	ok(t, s.DeleteGroup(ctx, "admins"), "DeleteGroup admins")
	_, err = s.GetGroup(ctx, "admins")
	wantErr(t, err, store.ErrNotFound, "GetGroup after delete")
	wantErr(t, s.DeleteGroup(ctx, "admins"), store.ErrNotFound, "DeleteGroup twice")
	list, err := s.ListGroups(ctx)
	ok(t, err, "ListGroups")
	wantEqual(t, "ListGroups after delete", list, []store.Group{Admins})
	_, err = s.GetUser(ctx, "admins")
	ok(t, err, "GetUser of the same name after DeleteGroup")
}

func testListGroupsOrder(t *testing.T, s store.Store) {
	ctx := t.Context()
	var want []store.Group
	for i, n := range byteOrderNames {
		g := group(n)
		g.CreatedAt = at(time.Duration(-i) * time.Hour) // creation order must not matter
		ok(t, s.CreateGroup(ctx, g), "CreateGroup "+n)
		want = append(want, g)
	}
	slices.SortFunc(want, func(a, b store.Group) int { return strings.Compare(a.Name, b.Name) })
	got, err := s.ListGroups(ctx)
	ok(t, err, "ListGroups")
	wantEqual(t, "ListGroups by name", got, want)
}

func testGroupMembers(t *testing.T, s store.Store) {
	ctx := t.Context()
	wantErr(t, s.AddUserToGroup(ctx, "devs", "alice"), store.ErrNotFound, "AddUserToGroup with neither")
	ok(t, s.CreateGroup(ctx, group("devs")), "CreateGroup devs")
	wantErr(t, s.AddUserToGroup(ctx, "devs", "alice"), store.ErrNotFound, "AddUserToGroup of a missing user")
	ok(t, s.CreateUser(ctx, user("alice")), "CreateUser alice")
	wantErr(t, s.AddUserToGroup(ctx, "ops", "alice"), store.ErrNotFound, "AddUserToGroup to a missing group")
	_, err := s.ListGroupMembers(ctx, "ops")
	wantErr(t, err, store.ErrNotFound, "ListGroupMembers of a missing group")
	_, err = s.ListGroupsForUser(ctx, "bob")
	wantErr(t, err, store.ErrNotFound, "ListGroupsForUser of a missing user")
	{
		got, err := s.ListGroupMembers(ctx, "devs")
		wantEmpty(t, "ListGroupMembers with none", got, err)
	}
	{
		got, err := s.ListGroupsForUser(ctx, "alice")
		wantEmpty(t, "ListGroupsForUser with none", got, err)
	}

	// Idempotent: adding twice leaves one membership.
	ok(t, s.AddUserToGroup(ctx, "devs", "alice"), "AddUserToGroup")
	ok(t, s.AddUserToGroup(ctx, "devs", "alice"), "AddUserToGroup again")
	members, err := s.ListGroupMembers(ctx, "devs")
	ok(t, err, "ListGroupMembers")
	wantEqual(t, "members after adding twice", members, []string{"alice"})

	// Members by name, groups of a user by name, whatever the order of
	// creation and of joining.
	for _, n := range byteOrderNames {
		if n != "alice" {
			ok(t, s.CreateUser(ctx, user(n)), "CreateUser "+n)
		}
		ok(t, s.AddUserToGroup(ctx, "devs", n), "AddUserToGroup devs "+n)
	}
	members, err = s.ListGroupMembers(ctx, "devs")
	ok(t, err, "ListGroupMembers")
	wantEqual(t, "ListGroupMembers by name", members, sortedNames())

	var wantGroups []store.Group
	for _, n := range byteOrderNames {
		g := group("g-" + n)
		ok(t, s.CreateGroup(ctx, g), "CreateGroup "+g.Name)
		ok(t, s.AddUserToGroup(ctx, g.Name, "alice"), "AddUserToGroup alice "+g.Name)
		wantGroups = append(wantGroups, g)
	}
	wantGroups = append(wantGroups, group("devs"))
	slices.SortFunc(wantGroups, func(a, b store.Group) int { return strings.Compare(a.Name, b.Name) })
	gs, err := s.ListGroupsForUser(ctx, "alice")
	ok(t, err, "ListGroupsForUser alice")
	wantEqual(t, "ListGroupsForUser by name", gs, wantGroups)
	gs, err = s.ListGroupsForUser(ctx, "bob")
	ok(t, err, "ListGroupsForUser bob")
	wantEqual(t, "ListGroupsForUser bob", gs, []store.Group{group("devs")})

	ok(t, s.RemoveUserFromGroup(ctx, "devs", "bob"), "RemoveUserFromGroup")
	wantErr(t, s.RemoveUserFromGroup(ctx, "devs", "bob"), store.ErrNotFound, "RemoveUserFromGroup twice")
	wantErr(t, s.RemoveUserFromGroup(ctx, "g-bob", "bob"), store.ErrNotFound, "RemoveUserFromGroup of a non-member")
	wantErr(t, s.RemoveUserFromGroup(ctx, "ops", "bob"), store.ErrNotFound, "RemoveUserFromGroup of a missing group")
	wantErr(t, s.RemoveUserFromGroup(ctx, "devs", "nobody"), store.ErrNotFound, "RemoveUserFromGroup of a missing user")
	{
		got, err := s.ListGroupsForUser(ctx, "bob")
		wantEmpty(t, "ListGroupsForUser after removal", got, err)
	}
	members, err = s.ListGroupMembers(ctx, "devs")
	ok(t, err, "ListGroupMembers")
	wantEqual(t, "ListGroupMembers after removal", members,
		slices.DeleteFunc(sortedNames(), func(n string) bool { return n == "bob" }))
	_, err = s.GetUser(ctx, "bob")
	ok(t, err, "GetUser of a removed member")
}

func testGroupPolicies(t *testing.T, s store.Store) {
	ctx := t.Context()
	p := store.Policy{Name: "Read", Document: `{"Version":"2012-10-17","Statement":[]}`}
	wantErr(t, s.PutGroupPolicy(ctx, "devs", p), store.ErrNotFound, "PutGroupPolicy to a missing group")
	_, err := s.ListGroupPolicies(ctx, "devs")
	wantErr(t, err, store.ErrNotFound, "ListGroupPolicies of a missing group")

	ok(t, s.CreateGroup(ctx, group("devs")), "CreateGroup")
	ok(t, s.CreateGroup(ctx, group("ops")), "CreateGroup")
	// A user's inline policies are not its namesake group's.
	ok(t, s.CreateUser(ctx, user("devs")), "CreateUser")
	ok(t, s.PutUserPolicy(ctx, "devs", store.Policy{Name: "a", Document: "user's"}), "PutUserPolicy")
	{
		got, err := s.ListGroupPolicies(ctx, "devs")
		wantEmpty(t, "ListGroupPolicies with none", got, err)
	}

	for _, name := range []string{"b", "a", "C", "c"} {
		ok(t, s.PutGroupPolicy(ctx, "devs", store.Policy{Name: name, Document: "doc " + name}), "PutGroupPolicy "+name)
	}
	ok(t, s.PutGroupPolicy(ctx, "ops", store.Policy{Name: "a", Document: "ops'"}), "PutGroupPolicy ops")
	// Upsert: the same name replaces the document.
	ok(t, s.PutGroupPolicy(ctx, "devs", store.Policy{Name: "b", Document: "doc b v2"}), "PutGroupPolicy b again")

	got, err := s.ListGroupPolicies(ctx, "devs")
	ok(t, err, "ListGroupPolicies")
	wantEqual(t, "ListGroupPolicies by name", got, []store.Policy{
		{Name: "C", Document: "doc C"},
		{Name: "a", Document: "doc a"},
		{Name: "b", Document: "doc b v2"},
		{Name: "c", Document: "doc c"},
	})

	ok(t, s.DeleteGroupPolicy(ctx, "devs", "a"), "DeleteGroupPolicy")
	wantErr(t, s.DeleteGroupPolicy(ctx, "devs", "a"), store.ErrNotFound, "DeleteGroupPolicy twice")
	wantErr(t, s.DeleteGroupPolicy(ctx, "nobody", "a"), store.ErrNotFound, "DeleteGroupPolicy of a missing group")
	got, err = s.ListGroupPolicies(ctx, "ops")
	ok(t, err, "ListGroupPolicies ops")
	wantEqual(t, "ops' policy survives devs' delete", got, []store.Policy{{Name: "a", Document: "ops'"}})
	up, err := s.ListUserPolicies(ctx, "devs")
	ok(t, err, "ListUserPolicies")
	wantEqual(t, "the namesake user's policies", up, []store.Policy{{Name: "a", Document: "user's"}})
}

func testDeleteGroupCascades(t *testing.T, s store.Store) {
	ctx := t.Context()
	ok(t, s.CreateUser(ctx, user("alice")), "CreateUser")
	ok(t, s.CreateManagedPolicy(ctx, managedPolicy("Shared", t0), "{}"), "CreateManagedPolicy")
	for _, n := range []string{"devs", "ops"} {
		ok(t, s.CreateGroup(ctx, group(n)), "CreateGroup "+n)
		ok(t, s.AddUserToGroup(ctx, n, "alice"), "AddUserToGroup "+n)
		ok(t, s.PutGroupPolicy(ctx, n, store.Policy{Name: "p", Document: "{}"}), "PutGroupPolicy "+n)
		ok(t, s.AttachPolicy(ctx, store.PrincipalGroup, n, "Shared"), "AttachPolicy "+n)
		ok(t, s.AddTags(ctx, store.ResourceGroup, n, []store.Tag{{Key: "team", Value: n}}), "AddTags "+n)
	}
	mp, err := s.GetManagedPolicy(ctx, "Shared")
	ok(t, err, "GetManagedPolicy")
	wantEqual(t, "AttachmentCount before DeleteGroup", mp.AttachmentCount, 2)

	ok(t, s.DeleteGroup(ctx, "devs"), "DeleteGroup devs")
	_, err = s.ListGroupMembers(ctx, "devs")
	wantErr(t, err, store.ErrNotFound, "ListGroupMembers of a deleted group")
	_, err = s.ListGroupPolicies(ctx, "devs")
	wantErr(t, err, store.ErrNotFound, "ListGroupPolicies of a deleted group")
	_, err = s.ListAttachedPolicies(ctx, store.PrincipalGroup, "devs")
	wantErr(t, err, store.ErrNotFound, "ListAttachedPolicies of a deleted group")
	_, err = s.ListTags(ctx, store.ResourceGroup, "devs")
	wantErr(t, err, store.ErrNotFound, "ListTags of a deleted group")

	// The member stays, without the membership.
	_, err = s.GetUser(ctx, "alice")
	ok(t, err, "GetUser of a deleted group's member")
	gs, err := s.ListGroupsForUser(ctx, "alice")
	ok(t, err, "ListGroupsForUser")
	wantEqual(t, "alice's groups after DeleteGroup", gs, []store.Group{group("ops")})
	mp, err = s.GetManagedPolicy(ctx, "Shared")
	ok(t, err, "GetManagedPolicy")
	wantEqual(t, "AttachmentCount after DeleteGroup", mp.AttachmentCount, 1)

	// A new group with the same name starts clean: nothing of the old one
	// survives to grant its new members permissions.
	ok(t, s.CreateGroup(ctx, group("devs")), "CreateGroup devs again")
	{
		got, err := s.ListGroupMembers(ctx, "devs")
		wantEmpty(t, "members of the new devs", got, err)
	}
	{
		got, err := s.ListGroupPolicies(ctx, "devs")
		wantEmpty(t, "policies of the new devs", got, err)
	}
	{
		got, err := s.ListAttachedPolicies(ctx, store.PrincipalGroup, "devs")
		wantEmpty(t, "attached policies of the new devs", got, err)
	}
	{
		got, err := s.ListTags(ctx, store.ResourceGroup, "devs")
		wantEmpty(t, "tags of the new devs", got, err)
	}

	// ops is untouched.
	members, err := s.ListGroupMembers(ctx, "ops")
	ok(t, err, "ListGroupMembers ops")
	wantEqual(t, "ops' members", members, []string{"alice"})
	ps, err := s.ListGroupPolicies(ctx, "ops")
	ok(t, err, "ListGroupPolicies ops")
	wantEqual(t, "ops' policies", ps, []store.Policy{{Name: "p", Document: "{}"}})
	ts, err := s.ListTags(ctx, store.ResourceGroup, "ops")
	ok(t, err, "ListTags ops")
	wantEqual(t, "ops' tags", ts, []store.Tag{{Key: "team", Value: "ops"}})
	attached, err := s.ListAttachedPolicies(ctx, store.PrincipalGroup, "ops")
	ok(t, err, "ListAttachedPolicies ops")
	wantEqual(t, "ops' attached policies", attached, []store.ManagedPolicy{mp})
}

func testDeleteUserRemovesGroupsAndAttachments(t *testing.T, s store.Store) {
	ctx := t.Context()
	ok(t, s.CreateManagedPolicy(ctx, managedPolicy("Shared", t0), "{}"), "CreateManagedPolicy")
	ok(t, s.CreateGroup(ctx, group("devs")), "CreateGroup")
	for _, n := range []string{"alice", "bob"} {
		ok(t, s.CreateUser(ctx, user(n)), "CreateUser "+n)
		ok(t, s.AddUserToGroup(ctx, "devs", n), "AddUserToGroup "+n)
		ok(t, s.AttachPolicy(ctx, store.PrincipalUser, n, "Shared"), "AttachPolicy "+n)
	}
	ok(t, s.AttachPolicy(ctx, store.PrincipalGroup, "devs", "Shared"), "AttachPolicy devs")
	mp, err := s.GetManagedPolicy(ctx, "Shared")
	ok(t, err, "GetManagedPolicy")
	wantEqual(t, "AttachmentCount before DeleteUser", mp.AttachmentCount, 3)

	ok(t, s.DeleteUser(ctx, "alice"), "DeleteUser alice")
	members, err := s.ListGroupMembers(ctx, "devs")
	ok(t, err, "ListGroupMembers")
	wantEqual(t, "members after DeleteUser", members, []string{"bob"})
	mp, err = s.GetManagedPolicy(ctx, "Shared")
	ok(t, err, "GetManagedPolicy")
	wantEqual(t, "AttachmentCount after DeleteUser", mp.AttachmentCount, 2)
	_, err = s.ListAttachedPolicies(ctx, store.PrincipalUser, "alice")
	wantErr(t, err, store.ErrNotFound, "ListAttachedPolicies of a deleted user")
	_, err = s.ListGroupsForUser(ctx, "alice")
	wantErr(t, err, store.ErrNotFound, "ListGroupsForUser of a deleted user")

	// A new alice inherits neither the old one's groups nor its policies.
	ok(t, s.CreateUser(ctx, user("alice")), "CreateUser alice again")
	{
		got, err := s.ListGroupsForUser(ctx, "alice")
		wantEmpty(t, "groups of the new alice", got, err)
	}
	{
		got, err := s.ListAttachedPolicies(ctx, store.PrincipalUser, "alice")
		wantEmpty(t, "attached policies of the new alice", got, err)
	}

	// The group and the policy stay; bob keeps his.
	_, err = s.GetGroup(ctx, "devs")
	ok(t, err, "GetGroup after a member's DeleteUser")
	attached, err := s.ListAttachedPolicies(ctx, store.PrincipalUser, "bob")
	ok(t, err, "ListAttachedPolicies bob")
	wantEqual(t, "bob's attached policies", attached, []store.ManagedPolicy{mp})
	attached, err = s.ListAttachedPolicies(ctx, store.PrincipalGroup, "devs")
	ok(t, err, "ListAttachedPolicies devs")
	wantEqual(t, "devs' attached policies", attached, []store.ManagedPolicy{mp})
}

func testManagedPolicies(t *testing.T, s store.Store) {
	ctx := t.Context()
	{
		got, err := s.ListManagedPolicies(ctx)
		wantEmpty(t, "ListManagedPolicies on an empty store", got, err)
	}

	// What the caller passes for the computed fields does not matter.
	read := managedPolicy("Read", t0)
	given := read
	given.DefaultVersionID = "v7"
	given.AttachmentCount = 3
	given.UpdatedAt = at(time.Hour)
	ok(t, s.CreateManagedPolicy(ctx, given, `{"doc":"read v1"}`), "CreateManagedPolicy Read")
	got, err := s.GetManagedPolicy(ctx, "Read")
	ok(t, err, "GetManagedPolicy Read")
	wantEqual(t, "GetManagedPolicy after create (v1 default, unattached, updated when created)", got, read)
	v1, err := s.GetPolicyVersion(ctx, "Read", "v1")
	ok(t, err, "GetPolicyVersion v1")
	wantEqual(t, "v1 holds the document", v1, store.PolicyVersion{
		PolicyName: "Read", VersionID: "v1", Document: `{"doc":"read v1"}`, IsDefault: true, CreatedAt: t0,
	})

	wantErr(t, s.CreateManagedPolicy(ctx, read, "other"), store.ErrAlreadyExists, "CreateManagedPolicy Read again")
	v1again, err := s.GetPolicyVersion(ctx, "Read", "v1")
	ok(t, err, "GetPolicyVersion v1")
	wantEqual(t, "v1 after a refused duplicate", v1again, v1)
	clash := managedPolicy("Write", t0)
	clash.ID = read.ID
	wantErr(t, s.CreateManagedPolicy(ctx, clash, "{}"), store.ErrAlreadyExists, "CreateManagedPolicy with Read's ID")
	_, err = s.GetManagedPolicy(ctx, "Write")
	wantErr(t, err, store.ErrNotFound, "GetManagedPolicy of the refused policy")
	_, err = s.ListPolicyVersions(ctx, "Write")
	wantErr(t, err, store.ErrNotFound, "ListPolicyVersions of the refused policy")

	_, err = s.GetManagedPolicy(ctx, "read")
	wantErr(t, err, store.ErrNotFound, "GetManagedPolicy is case-sensitive")
	wantErr(t, s.DeleteManagedPolicy(ctx, "read"), store.ErrNotFound, "DeleteManagedPolicy missing")

	// By name in byte order, whatever the creation order.
	want := []store.ManagedPolicy{read}
	for i, n := range byteOrderNames {
		p := managedPolicy(n, at(time.Duration(-i)*time.Hour))
		ok(t, s.CreateManagedPolicy(ctx, p, "doc "+n), "CreateManagedPolicy "+n)
		want = append(want, p)
	}
	slices.SortFunc(want, func(a, b store.ManagedPolicy) int { return strings.Compare(a.Name, b.Name) })
	list, err := s.ListManagedPolicies(ctx)
	ok(t, err, "ListManagedPolicies")
	wantEqual(t, "ListManagedPolicies by name", list, want)

	// Deleting removes every version; a new policy of the same name starts
	// again at v1 with only its own document.
	_, err = s.CreatePolicyVersion(ctx, "Read", "read v2", true, at(time.Minute))
	ok(t, err, "CreatePolicyVersion")
	ok(t, s.DeleteManagedPolicy(ctx, "Read"), "DeleteManagedPolicy")
	wantErr(t, s.DeleteManagedPolicy(ctx, "Read"), store.ErrNotFound, "DeleteManagedPolicy twice")
	_, err = s.GetManagedPolicy(ctx, "Read")
	wantErr(t, err, store.ErrNotFound, "GetManagedPolicy after delete")
	_, err = s.GetPolicyVersion(ctx, "Read", "v1")
	wantErr(t, err, store.ErrNotFound, "GetPolicyVersion after delete")
	again := managedPolicy("Read", at(time.Hour))
	ok(t, s.CreateManagedPolicy(ctx, again, "new"), "CreateManagedPolicy Read again")
	vs, err := s.ListPolicyVersions(ctx, "Read")
	ok(t, err, "ListPolicyVersions")
	wantEqual(t, "versions of the new Read", vs, []store.PolicyVersion{
		{PolicyName: "Read", VersionID: "v1", Document: "new", IsDefault: true, CreatedAt: at(time.Hour)},
	})
	got, err = s.GetManagedPolicy(ctx, "Read")
	ok(t, err, "GetManagedPolicy")
	wantEqual(t, "the new Read", got, again)
}

func testPolicyVersions(t *testing.T, s store.Store) {
	ctx := t.Context()
	_, err := s.CreatePolicyVersion(ctx, "P", "{}", false, t0)
	wantErr(t, err, store.ErrNotFound, "CreatePolicyVersion of a missing policy")
	_, err = s.ListPolicyVersions(ctx, "P")
	wantErr(t, err, store.ErrNotFound, "ListPolicyVersions of a missing policy")
	_, err = s.GetPolicyVersion(ctx, "P", "v1")
	wantErr(t, err, store.ErrNotFound, "GetPolicyVersion of a missing policy")
	wantErr(t, s.SetDefaultPolicyVersion(ctx, "P", "v1", t0), store.ErrNotFound, "SetDefaultPolicyVersion of a missing policy")
	wantErr(t, s.DeletePolicyVersion(ctx, "P", "v1"), store.ErrNotFound, "DeletePolicyVersion of a missing policy")

	p := managedPolicy("P", t0)
	ok(t, s.CreateManagedPolicy(ctx, p, "doc 1"), "CreateManagedPolicy")
	ver := func(n int, doc string, def bool, created time.Time) store.PolicyVersion {
		return store.PolicyVersion{PolicyName: "P", VersionID: fmt.Sprintf("v%d", n), Document: doc, IsDefault: def, CreatedAt: created}
	}
	check := func(what string, wantPolicy store.ManagedPolicy, wantVersions ...store.PolicyVersion) {
		t.Helper()
		got, err := s.GetManagedPolicy(ctx, "P")
		ok(t, err, what+": GetManagedPolicy")
		wantEqual(t, what+": policy", got, wantPolicy)
		vs, err := s.ListPolicyVersions(ctx, "P")
		ok(t, err, what+": ListPolicyVersions")
		wantEqual(t, what+": ListPolicyVersions newest first", vs, wantVersions)
		for _, w := range wantVersions {
			v, err := s.GetPolicyVersion(ctx, "P", w.VersionID)
			ok(t, err, what+": GetPolicyVersion "+w.VersionID)
			wantEqual(t, what+": GetPolicyVersion "+w.VersionID, v, w)
		}
	}
	check("after create", p, ver(1, "doc 1", true, t0))

	// Not the default: the policy's default and UpdatedAt stay.
	v2, err := s.CreatePolicyVersion(ctx, "P", "doc 2", false, at(time.Minute))
	ok(t, err, "CreatePolicyVersion v2")
	wantEqual(t, "CreatePolicyVersion v2 returns", v2, ver(2, "doc 2", false, at(time.Minute)))
	check("after v2", p, ver(2, "doc 2", false, at(time.Minute)), ver(1, "doc 1", true, t0))

	// The default: DefaultVersionID, UpdatedAt and IsDefault all move.
	v3, err := s.CreatePolicyVersion(ctx, "P", "doc 3", true, at(2*time.Minute))
	ok(t, err, "CreatePolicyVersion v3")
	wantEqual(t, "CreatePolicyVersion v3 returns", v3, ver(3, "doc 3", true, at(2*time.Minute)))
	p.DefaultVersionID, p.UpdatedAt = "v3", at(2*time.Minute)
	check("after v3 as default", p,
		ver(3, "doc 3", true, at(2*time.Minute)), ver(2, "doc 2", false, at(time.Minute)), ver(1, "doc 1", false, t0))

	// Back to v1.
	ok(t, s.SetDefaultPolicyVersion(ctx, "P", "v1", at(3*time.Minute)), "SetDefaultPolicyVersion v1")
	p.DefaultVersionID, p.UpdatedAt = "v1", at(3*time.Minute)
	check("after SetDefault v1", p,
		ver(3, "doc 3", false, at(2*time.Minute)), ver(2, "doc 2", false, at(time.Minute)), ver(1, "doc 1", true, t0))
	// Setting the default again is no change, so UpdatedAt stays.
	ok(t, s.SetDefaultPolicyVersion(ctx, "P", "v1", at(4*time.Minute)), "SetDefaultPolicyVersion v1 again")
	check("after SetDefault v1 again", p,
		ver(3, "doc 3", false, at(2*time.Minute)), ver(2, "doc 2", false, at(time.Minute)), ver(1, "doc 1", true, t0))

	// The default cannot be deleted; others can, and their numbers are not
	// handed out again, not even the highest.
	wantErr(t, s.DeletePolicyVersion(ctx, "P", "v1"), store.ErrConflict, "DeletePolicyVersion of the default")
	ok(t, s.DeletePolicyVersion(ctx, "P", "v2"), "DeletePolicyVersion v2")
	wantErr(t, s.DeletePolicyVersion(ctx, "P", "v2"), store.ErrNotFound, "DeletePolicyVersion v2 twice")
	ok(t, s.DeletePolicyVersion(ctx, "P", "v3"), "DeletePolicyVersion v3")
	_, err = s.GetPolicyVersion(ctx, "P", "v3")
	wantErr(t, err, store.ErrNotFound, "GetPolicyVersion of a deleted version")
	wantErr(t, s.SetDefaultPolicyVersion(ctx, "P", "v3", at(5*time.Minute)), store.ErrNotFound, "SetDefaultPolicyVersion of a deleted version")
	check("after deleting v2 and v3", p, ver(1, "doc 1", true, t0))
	v4, err := s.CreatePolicyVersion(ctx, "P", "doc 4", false, at(6*time.Minute))
	ok(t, err, "CreatePolicyVersion after deletions")
	wantEqual(t, "the version after deleting v2 and v3", v4.VersionID, "v4")

	// Up to MaxPolicyVersions counting v1; the next is refused and writes
	// nothing, not even a used-up number.
	want := []store.PolicyVersion{ver(4, "doc 4", false, at(6*time.Minute)), ver(1, "doc 1", true, t0)}
	for n := 5; len(want) < store.MaxPolicyVersions; n++ {
		v, err := s.CreatePolicyVersion(ctx, "P", fmt.Sprintf("doc %d", n), false, at(time.Duration(n)*time.Minute))
		ok(t, err, fmt.Sprintf("CreatePolicyVersion v%d", n))
		want = slices.Insert(want, 0, v)
	}
	wantEqual(t, "newest version", want[0].VersionID, "v7")
	_, err = s.CreatePolicyVersion(ctx, "P", "one too many", true, at(time.Hour))
	wantErr(t, err, store.ErrLimitExceeded, "CreatePolicyVersion beyond the limit")
	check("after a refused version", p, want...)
	ok(t, s.DeletePolicyVersion(ctx, "P", "v5"), "DeletePolicyVersion v5")
	v8, err := s.CreatePolicyVersion(ctx, "P", "doc 8", true, at(8*time.Minute))
	ok(t, err, "CreatePolicyVersion after making room")
	wantEqual(t, "the version after a refused one", v8.VersionID, "v8")

	// Ids that are not "v" and a number in its shortest form name nothing.
	for _, id := range []string{"", "v", "1", "V1", "v01", "v0", "v-1", "v1 ", "v1.0", "v99"} {
		_, err := s.GetPolicyVersion(ctx, "P", id)
		wantErr(t, err, store.ErrNotFound, fmt.Sprintf("GetPolicyVersion %q", id))
		wantErr(t, s.SetDefaultPolicyVersion(ctx, "P", id, t0), store.ErrNotFound, fmt.Sprintf("SetDefaultPolicyVersion %q", id))
		wantErr(t, s.DeletePolicyVersion(ctx, "P", id), store.ErrNotFound, fmt.Sprintf("DeletePolicyVersion %q", id))
	}

	// Versions belong to their policy.
	ok(t, s.CreateManagedPolicy(ctx, managedPolicy("Q", t0), "q 1"), "CreateManagedPolicy Q")
	_, err = s.GetPolicyVersion(ctx, "Q", "v4")
	wantErr(t, err, store.ErrNotFound, "GetPolicyVersion of another policy's number")
	q2, err := s.CreatePolicyVersion(ctx, "Q", "q 2", false, t0)
	ok(t, err, "CreatePolicyVersion Q")
	wantEqual(t, "Q numbers its own versions", q2.VersionID, "v2")
}

// testPolicyVersionsConcurrent races CreatePolicyVersion: the count check
// and the insert must be one step, or the limit is overrun.
func testPolicyVersionsConcurrent(t *testing.T, s store.Store) {
	ctx := t.Context()
	ok(t, s.CreateManagedPolicy(ctx, managedPolicy("P", t0), "doc 0"), "CreateManagedPolicy")
	const n = 10
	got := make([]store.PolicyVersion, n)
	errs := concurrently(n, func(i int) error {
		v, err := s.CreatePolicyVersion(ctx, "P", fmt.Sprintf("doc %d", i+1), i%2 == 0, at(time.Duration(i+1)*time.Second))
		got[i] = v
		return err
	})
	ids := map[string]bool{"v1": true}
	for i, err := range errs {
		switch {
		case err == nil:
			if ids[got[i].VersionID] {
				t.Fatalf("version %s handed out twice", got[i].VersionID)
			}
			ids[got[i].VersionID] = true
		default:
			wantErr(t, err, store.ErrLimitExceeded, fmt.Sprintf("CreatePolicyVersion %d", i))
		}
	}
	if len(ids) != store.MaxPolicyVersions {
		t.Fatalf("%d versions in all, want %d: %v", len(ids), store.MaxPolicyVersions, ids)
	}
	vs, err := s.ListPolicyVersions(ctx, "P")
	ok(t, err, "ListPolicyVersions")
	var listed []string
	defaults := 0
	for _, v := range vs {
		listed = append(listed, v.VersionID)
		if v.IsDefault {
			defaults++
		}
	}
	wantEqual(t, "versions after the race", listed, []string{"v5", "v4", "v3", "v2", "v1"})
	wantEqual(t, "default versions", defaults, 1)
}

func testAttachPolicy(t *testing.T, s store.Store) {
	ctx := t.Context()
	for _, pt := range []store.PrincipalType{store.PrincipalUser, store.PrincipalGroup} {
		wantErr(t, s.AttachPolicy(ctx, pt, "x", "P"), store.ErrNotFound, fmt.Sprintf("AttachPolicy to a missing %s", pt))
		_, err := s.ListAttachedPolicies(ctx, pt, "x")
		wantErr(t, err, store.ErrNotFound, fmt.Sprintf("ListAttachedPolicies of a missing %s", pt))
		wantErr(t, s.DetachPolicy(ctx, pt, "x", "P"), store.ErrNotFound, fmt.Sprintf("DetachPolicy from a missing %s", pt))
	}
	// A user and a group of the same name are separate principals.
	ok(t, s.CreateUser(ctx, user("x")), "CreateUser")
	ok(t, s.CreateGroup(ctx, group("x")), "CreateGroup")
	for _, pt := range []store.PrincipalType{store.PrincipalUser, store.PrincipalGroup} {
		wantErr(t, s.AttachPolicy(ctx, pt, "x", "P"), store.ErrNotFound, fmt.Sprintf("AttachPolicy of a missing policy to a %s", pt))
		got, err := s.ListAttachedPolicies(ctx, pt, "x")
		wantEmpty(t, fmt.Sprintf("ListAttachedPolicies of a %s with none", pt), got, err)
	}

	p := managedPolicy("P", t0)
	ok(t, s.CreateManagedPolicy(ctx, p, "{}"), "CreateManagedPolicy")
	// Idempotent: attaching twice counts once.
	ok(t, s.AttachPolicy(ctx, store.PrincipalUser, "x", "P"), "AttachPolicy to user")
	ok(t, s.AttachPolicy(ctx, store.PrincipalUser, "x", "P"), "AttachPolicy to user again")
	p.AttachmentCount = 1
	got, err := s.GetManagedPolicy(ctx, "P")
	ok(t, err, "GetManagedPolicy")
	wantEqual(t, "policy attached to a user twice", got, p)
	{
		got, err := s.ListAttachedPolicies(ctx, store.PrincipalGroup, "x")
		wantEmpty(t, "the namesake group's attached policies", got, err)
	}
	// Users and groups both count.
	ok(t, s.AttachPolicy(ctx, store.PrincipalGroup, "x", "P"), "AttachPolicy to group")
	p.AttachmentCount = 2
	got, err = s.GetManagedPolicy(ctx, "P")
	ok(t, err, "GetManagedPolicy")
	wantEqual(t, "policy attached to a user and a group", got, p)

	// Attached policies by name, each with its count.
	want := []store.ManagedPolicy{p}
	for i, n := range byteOrderNames {
		mp := managedPolicy(n, at(time.Duration(-i)*time.Hour))
		ok(t, s.CreateManagedPolicy(ctx, mp, "{}"), "CreateManagedPolicy "+n)
		ok(t, s.AttachPolicy(ctx, store.PrincipalUser, "x", n), "AttachPolicy "+n)
		mp.AttachmentCount = 1
		want = append(want, mp)
	}
	ok(t, s.CreateManagedPolicy(ctx, managedPolicy("unattached", t0), "{}"), "CreateManagedPolicy")
	slices.SortFunc(want, func(a, b store.ManagedPolicy) int { return strings.Compare(a.Name, b.Name) })
	list, err := s.ListAttachedPolicies(ctx, store.PrincipalUser, "x")
	ok(t, err, "ListAttachedPolicies user")
	wantEqual(t, "ListAttachedPolicies by name", list, want)
	list, err = s.ListAttachedPolicies(ctx, store.PrincipalGroup, "x")
	ok(t, err, "ListAttachedPolicies group")
	wantEqual(t, "the group's attached policies", list, []store.ManagedPolicy{p})
	all, err := s.ListManagedPolicies(ctx)
	ok(t, err, "ListManagedPolicies")
	for _, mp := range all {
		wantCount := 1
		switch mp.Name {
		case "P":
			wantCount = 2
		case "unattached":
			wantCount = 0
		}
		wantEqual(t, "ListManagedPolicies AttachmentCount of "+mp.Name, mp.AttachmentCount, wantCount)
	}

	// An attached policy cannot be deleted, whatever holds it.
	wantErr(t, s.DeleteManagedPolicy(ctx, "P"), store.ErrConflict, "DeleteManagedPolicy while attached to both")
	ok(t, s.DetachPolicy(ctx, store.PrincipalUser, "x", "P"), "DetachPolicy from user")
	wantErr(t, s.DetachPolicy(ctx, store.PrincipalUser, "x", "P"), store.ErrNotFound, "DetachPolicy twice")
	wantErr(t, s.DetachPolicy(ctx, store.PrincipalUser, "x", "unattached"), store.ErrNotFound, "DetachPolicy of a policy never attached")
	wantErr(t, s.DetachPolicy(ctx, store.PrincipalUser, "x", "missing"), store.ErrNotFound, "DetachPolicy of a missing policy")
	wantErr(t, s.DeleteManagedPolicy(ctx, "P"), store.ErrConflict, "DeleteManagedPolicy while attached to a group")
	p.AttachmentCount = 1
	got, err = s.GetManagedPolicy(ctx, "P")
	ok(t, err, "GetManagedPolicy after a refused delete")
	wantEqual(t, "policy after a refused delete", got, p)
	_, err = s.GetPolicyVersion(ctx, "P", "v1")
	ok(t, err, "GetPolicyVersion after a refused delete")

	ok(t, s.DetachPolicy(ctx, store.PrincipalGroup, "x", "P"), "DetachPolicy from group")
	ok(t, s.DeleteManagedPolicy(ctx, "P"), "DeleteManagedPolicy once detached")
	wantErr(t, s.AttachPolicy(ctx, store.PrincipalUser, "x", "P"), store.ErrNotFound, "AttachPolicy of a deleted policy")
	list, err = s.ListAttachedPolicies(ctx, store.PrincipalUser, "x")
	ok(t, err, "ListAttachedPolicies")
	wantEqual(t, "attached policies after delete", len(list), len(byteOrderNames))
}

// testCancelledContextPolicyVersion: a version written under a cancelled
// context must leave neither the version nor a used-up number.
func testCancelledContextPolicyVersion(t *testing.T, s store.Store) {
	ctx := t.Context()
	ok(t, s.CreateManagedPolicy(ctx, managedPolicy("P", t0), "{}"), "CreateManagedPolicy")
	if _, err := s.CreatePolicyVersion(cancelled(t), "P", "lost", true, t0); err == nil {
		t.Fatal("CreatePolicyVersion with a cancelled context: no error")
	}
	v, err := s.CreatePolicyVersion(ctx, "P", "kept", false, t0)
	ok(t, err, "CreatePolicyVersion")
	wantEqual(t, "version after a cancelled one", v.VersionID, "v2")
	got, err := s.GetManagedPolicy(ctx, "P")
	ok(t, err, "GetManagedPolicy")
	wantEqual(t, "default after a cancelled CreatePolicyVersion", got.DefaultVersionID, "v1")
}
