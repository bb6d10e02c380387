package storetest

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tetherhq/tether/internal/store"
)

// activation returns an activation created at t0 with no registrations.
func activation(id string, limit int, expires time.Time) store.Activation {
	sum := sha256.Sum256([]byte("code for " + id))
	return store.Activation{
		ID:                  id,
		CodeHash:            sum[:],
		Description:         "activation " + id,
		DefaultInstanceName: "web",
		IamRole:             "SSMServiceRole",
		RegistrationLimit:   limit,
		ExpirationDate:      expires,
		CreatedDate:         t0,
	}
}

// instance returns an instance as the server builds it at registration:
// every field set except what the agent reports later.
func instance(id string) store.Instance {
	return store.Instance{
		ID:               id,
		Name:             "web",
		IamRole:          "SSMServiceRole",
		PublicKey:        []byte("ed25519 public key of " + id + "\x00\xff"),
		RegistrationDate: t0,
	}
}

func instanceID(i int) string { return fmt.Sprintf("mi-%017x", i) }

func testActivations(t *testing.T, s store.Store) {
	ctx := t.Context()
	{
		got, err := s.ListActivations(ctx)
		wantEmpty(t, "ListActivations on an empty store", got, err)
	}
	a1 := activation("5c2e6b1a-0000-4000-8000-000000000001", 10, at(24*time.Hour))
	a1.CreatedDate = at(2 * time.Second)
	a2 := activation("0f0e6b1a-0000-4000-8000-000000000002", 1, at(time.Hour))
	a2.CreatedDate = at(time.Second)
	a2.RegistrationsCount = 1 // as given, e.g. restored from a backup
	a3 := activation("aaaa6b1a-0000-4000-8000-000000000003", 3, time.Time{})
	a3.CreatedDate = at(2 * time.Second) // tie with a1: broken by id
	for _, a := range []store.Activation{a1, a2, a3} {
		ok(t, s.CreateActivation(ctx, a), "CreateActivation "+a.ID)
	}
	wantErr(t, s.CreateActivation(ctx, a1), store.ErrAlreadyExists, "CreateActivation twice")

	got, err := s.GetActivation(ctx, a1.ID)
	ok(t, err, "GetActivation")
	wantEqual(t, "GetActivation", got, a1)
	list, err := s.ListActivations(ctx)
	ok(t, err, "ListActivations")
	wantEqual(t, "ListActivations by creation time, then id", list, []store.Activation{a2, a1, a3})

	_, err = s.GetActivation(ctx, "missing")
	wantErr(t, err, store.ErrNotFound, "GetActivation missing")
	wantErr(t, s.DeleteActivation(ctx, "missing"), store.ErrNotFound, "DeleteActivation missing")

	// Deleting an activation takes its tags but not the instances it
	// registered.
	ok(t, s.AddTags(ctx, store.ResourceActivation, a1.ID, []store.Tag{{Key: "env", Value: "prod"}}), "AddTags")
	ok(t, s.RegisterInstance(ctx, a1.ID, instance(instanceID(1)), t0), "RegisterInstance")
	ok(t, s.DeleteActivation(ctx, a1.ID), "DeleteActivation")
	_, err = s.GetActivation(ctx, a1.ID)
	wantErr(t, err, store.ErrNotFound, "GetActivation after delete")
	_, err = s.GetInstance(ctx, instanceID(1))
	ok(t, err, "GetInstance after its activation was deleted")
	ok(t, s.CreateActivation(ctx, a1), "CreateActivation with a reused id")
	{
		got, err := s.ListTags(ctx, store.ResourceActivation, a1.ID)
		wantEmpty(t, "tags of a re-created activation", got, err)
	}
}

func testRegisterInstance(t *testing.T, s store.Store) {
	ctx := t.Context()
	const actID = "5c2e6b1a-0000-4000-8000-000000000001"
	ok(t, s.CreateActivation(ctx, activation(actID, 2, at(time.Hour))), "CreateActivation")
	ok(t, s.AddTags(ctx, store.ResourceActivation, actID, []store.Tag{
		{Key: "env", Value: "prod"}, {Key: "team", Value: "infra"},
	}), "AddTags to activation")

	inst := instance(instanceID(1))
	inst.ActivationID = actID
	ok(t, s.RegisterInstance(ctx, actID, inst, t0), "RegisterInstance")

	got, err := s.GetInstance(ctx, inst.ID)
	ok(t, err, "GetInstance")
	wantEqual(t, "GetInstance", got, inst)
	a, err := s.GetActivation(ctx, actID)
	ok(t, err, "GetActivation")
	wantEqual(t, "registrations count", a.RegistrationsCount, 1)
	tags, err := s.ListTags(ctx, store.ResourceManagedInstance, inst.ID)
	ok(t, err, "ListTags of the instance")
	wantEqual(t, "activation tags copied to the instance", tags, []store.Tag{
		{Key: "env", Value: "prod"}, {Key: "team", Value: "infra"},
	})

	// The tags were copied, not linked.
	ok(t, s.AddTags(ctx, store.ResourceActivation, actID, []store.Tag{{Key: "env", Value: "dev"}}), "AddTags to activation")
	ok(t, s.AddTags(ctx, store.ResourceManagedInstance, inst.ID, []store.Tag{{Key: "team", Value: "web"}}), "AddTags to instance")
	tags, err = s.ListTags(ctx, store.ResourceManagedInstance, inst.ID)
	ok(t, err, "ListTags of the instance")
	wantEqual(t, "instance tags after both changed", tags, []store.Tag{
		{Key: "env", Value: "prod"}, {Key: "team", Value: "web"},
	})
	tags, err = s.ListTags(ctx, store.ResourceActivation, actID)
	ok(t, err, "ListTags of the activation")
	wantEqual(t, "activation tags after both changed", tags, []store.Tag{
		{Key: "env", Value: "dev"}, {Key: "team", Value: "infra"},
	})

	// A duplicate instance id fails as a whole: the count is not spent.
	wantErr(t, s.RegisterInstance(ctx, actID, inst, t0), store.ErrAlreadyExists, "RegisterInstance with a taken id")
	a, err = s.GetActivation(ctx, actID)
	ok(t, err, "GetActivation")
	wantEqual(t, "registrations count after a failed registration", a.RegistrationsCount, 1)

	// An activation without tags gives an instance without tags.
	const bare = "5c2e6b1a-0000-4000-8000-000000000002"
	ok(t, s.CreateActivation(ctx, activation(bare, 1, at(time.Hour))), "CreateActivation")
	ok(t, s.RegisterInstance(ctx, bare, instance(instanceID(2)), t0), "RegisterInstance")
	got, err = s.GetInstance(ctx, instanceID(2))
	ok(t, err, "GetInstance")
	wantEqual(t, "ActivationID is the activation registered with", got.ActivationID, bare)
	tags, err = s.ListTags(ctx, store.ResourceManagedInstance, instanceID(2))
	wantEmpty(t, "tags of an instance from an untagged activation", tags, err)
}

func testRegisterInstanceRefusals(t *testing.T, s store.Store) {
	ctx := t.Context()
	exp := at(time.Hour)
	const (
		full    = "act-full"
		expired = "act-expired"
	)
	ok(t, s.CreateActivation(ctx, activation(full, 1, exp)), "CreateActivation")
	ok(t, s.CreateActivation(ctx, activation(expired, 5, exp)), "CreateActivation")
	ok(t, s.RegisterInstance(ctx, full, instance(instanceID(1)), t0), "RegisterInstance up to the limit")

	tests := []struct {
		name   string
		act    string
		now    time.Time
		want   error
		counts int // the activation's count afterwards
	}{
		{"limit reached", full, t0, store.ErrActivationExhausted, 1},
		{"expired at now", expired, exp, store.ErrActivationExpired, 0},
		{"expired before now", expired, exp.Add(time.Second), store.ErrActivationExpired, 0},
		{"unknown activation", "act-missing", t0, store.ErrNotFound, -1},
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			id := instanceID(100 + i)
			wantErr(t, s.RegisterInstance(ctx, tc.act, instance(id), tc.now), tc.want, "RegisterInstance")
			_, err := s.GetInstance(ctx, id)
			wantErr(t, err, store.ErrNotFound, "GetInstance of the refused instance")
			if tc.counts >= 0 {
				a, err := s.GetActivation(ctx, tc.act)
				ok(t, err, "GetActivation")
				wantEqual(t, "registrations count", a.RegistrationsCount, tc.counts)
			}
		})
	}
	// A millisecond before expiry still registers.
	ok(t, s.RegisterInstance(ctx, expired, instance(instanceID(200)), exp.Add(-time.Millisecond)), "RegisterInstance just before expiry")
}

func testRegisterInstanceConcurrent(t *testing.T, s store.Store) {
	ctx := t.Context()
	const n, limit = 20, 5
	const actID = "act-race"
	ok(t, s.CreateActivation(ctx, activation(actID, limit, at(time.Hour))), "CreateActivation")
	ok(t, s.AddTags(ctx, store.ResourceActivation, actID, []store.Tag{{Key: "k", Value: "v"}}), "AddTags")

	errs := concurrently(n, func(i int) error {
		return s.RegisterInstance(ctx, actID, instance(instanceID(i)), t0)
	})
	var won int
	for i, err := range errs {
		switch {
		case err == nil:
			won++
		case errors.Is(err, store.ErrActivationExhausted):
		default:
			t.Errorf("RegisterInstance %d: %v, want nil or %v", i, err, store.ErrActivationExhausted)
		}
	}
	if won != limit {
		t.Fatalf("%d of %d concurrent registrations succeeded against a limit of %d", won, n, limit)
	}
	a, err := s.GetActivation(ctx, actID)
	ok(t, err, "GetActivation")
	wantEqual(t, "registrations count", a.RegistrationsCount, limit)
	list, err := s.ListInstances(ctx)
	ok(t, err, "ListInstances")
	wantEqual(t, "instances registered", len(list), limit)
	for _, inst := range list {
		if errs[indexOf(t, inst.ID)] != nil {
			t.Errorf("instance %s exists but its registration failed", inst.ID)
		}
		tags, err := s.ListTags(ctx, store.ResourceManagedInstance, inst.ID)
		ok(t, err, "ListTags")
		wantEqual(t, "tags of "+inst.ID, tags, []store.Tag{{Key: "k", Value: "v"}})
	}
}

func indexOf(t *testing.T, id string) int {
	t.Helper()
	var i int
	if _, err := fmt.Sscanf(id, "mi-%x", &i); err != nil {
		t.Fatalf("instance id %q: %v", id, err)
	}
	return i
}

func testInstances(t *testing.T, s store.Store) {
	ctx := t.Context()
	{
		got, err := s.ListInstances(ctx)
		wantEmpty(t, "ListInstances on an empty store", got, err)
	}
	const actID = "act"
	ok(t, s.CreateActivation(ctx, activation(actID, 10, at(time.Hour))), "CreateActivation")
	// Registered out of id order; listed in id order.
	var want []store.Instance
	for _, i := range []int{0x30, 0x10, 0xab, 0x20} {
		inst := instance(instanceID(i))
		inst.ActivationID = actID
		ok(t, s.RegisterInstance(ctx, actID, inst, t0), "RegisterInstance")
		want = append(want, inst)
	}
	slices.SortFunc(want, func(a, b store.Instance) int { return strings.Compare(a.ID, b.ID) })
	list, err := s.ListInstances(ctx)
	ok(t, err, "ListInstances")
	wantEqual(t, "ListInstances by id", list, want)

	info := store.InstanceInfo{
		ComputerName:    "web-1.example.com",
		PlatformType:    "Linux",
		PlatformName:    "Ubuntu",
		PlatformVersion: "24.04",
		AgentVersion:    "0.1.0",
		IPAddress:       "10.0.0.7",
	}
	id := want[0].ID
	ok(t, s.UpdateInstanceInfo(ctx, id, info, at(time.Minute)), "UpdateInstanceInfo")
	got, err := s.GetInstance(ctx, id)
	ok(t, err, "GetInstance")
	w := want[0]
	w.ComputerName, w.PlatformType, w.PlatformName = info.ComputerName, info.PlatformType, info.PlatformName
	w.PlatformVersion, w.AgentVersion, w.IPAddress = info.PlatformVersion, info.AgentVersion, info.IPAddress
	w.LastPingAt = at(time.Minute)
	wantEqual(t, "GetInstance after UpdateInstanceInfo", got, w)

	ok(t, s.TouchInstance(ctx, id, at(2*time.Minute)), "TouchInstance")
	got, err = s.GetInstance(ctx, id)
	ok(t, err, "GetInstance")
	w.LastPingAt = at(2 * time.Minute)
	wantEqual(t, "GetInstance after TouchInstance", got, w)

	missing := instanceID(0xfff)
	_, err = s.GetInstance(ctx, missing)
	wantErr(t, err, store.ErrNotFound, "GetInstance missing")
	wantErr(t, s.UpdateInstanceInfo(ctx, missing, info, t0), store.ErrNotFound, "UpdateInstanceInfo missing")
	wantErr(t, s.TouchInstance(ctx, missing, t0), store.ErrNotFound, "TouchInstance missing")
	wantErr(t, s.DeleteInstance(ctx, missing), store.ErrNotFound, "DeleteInstance missing")

	ok(t, s.DeleteInstance(ctx, id), "DeleteInstance")
	_, err = s.GetInstance(ctx, id)
	wantErr(t, err, store.ErrNotFound, "GetInstance after delete")
	list, err = s.ListInstances(ctx)
	ok(t, err, "ListInstances")
	wantEqual(t, "ListInstances after delete", list, want[1:])
}

func testDeleteInstanceRemovesTags(t *testing.T, s store.Store) {
	ctx := t.Context()
	ok(t, s.CreateActivation(ctx, activation("tagged", 1, at(time.Hour))), "CreateActivation")
	ok(t, s.AddTags(ctx, store.ResourceActivation, "tagged", []store.Tag{{Key: "from", Value: "activation"}}), "AddTags")
	ok(t, s.CreateActivation(ctx, activation("untagged", 1, at(time.Hour))), "CreateActivation")

	id := instanceID(7)
	ok(t, s.RegisterInstance(ctx, "tagged", instance(id), t0), "RegisterInstance")
	ok(t, s.AddTags(ctx, store.ResourceManagedInstance, id, []store.Tag{{Key: "own", Value: "x"}}), "AddTags")
	ok(t, s.DeleteInstance(ctx, id), "DeleteInstance")
	_, err := s.ListTags(ctx, store.ResourceManagedInstance, id)
	wantErr(t, err, store.ErrNotFound, "ListTags of a deleted instance")

	// The same id registered again carries none of the old tags.
	ok(t, s.RegisterInstance(ctx, "untagged", instance(id), t0), "RegisterInstance again")
	tags, err := s.ListTags(ctx, store.ResourceManagedInstance, id)
	wantEmpty(t, "tags of the re-registered instance", tags, err)
}

func testTags(t *testing.T, s store.Store) {
	ctx := t.Context()
	// The same id under five resource types: five separate tag sets.
	const id = "shared-id"
	ok(t, s.CreateUser(ctx, user(id)), "CreateUser")
	ok(t, s.CreateGroup(ctx, group(id)), "CreateGroup")
	ok(t, s.CreateActivation(ctx, activation(id, 1, at(time.Hour))), "CreateActivation")
	ok(t, s.CreateActivation(ctx, activation("act", 1, at(time.Hour))), "CreateActivation")
	inst := instance(id)
	ok(t, s.RegisterInstance(ctx, "act", inst, t0), "RegisterInstance")
	ok(t, s.CreateDocument(ctx, document(id, "{}", t0)), "CreateDocument")

	for _, rt := range []store.ResourceType{store.ResourceUser, store.ResourceGroup, store.ResourceActivation, store.ResourceManagedInstance, store.ResourceDocument} {
		t.Run(string(rt), func(t *testing.T) {
			tags, err := s.ListTags(ctx, rt, id)
			wantEmpty(t, "ListTags before any", tags, err)

			ok(t, s.AddTags(ctx, rt, id, []store.Tag{
				{Key: "b", Value: string(rt)}, {Key: "a", Value: "1"}, {Key: "B", Value: "upper"},
			}), "AddTags")
			// Overwrite one, add one; within a call the last value wins.
			ok(t, s.AddTags(ctx, rt, id, []store.Tag{
				{Key: "a", Value: "2"}, {Key: "c", Value: ""}, {Key: "a", Value: "3"},
			}), "AddTags overwrite")
			ok(t, s.AddTags(ctx, rt, id, nil), "AddTags with none")
			tags, err = s.ListTags(ctx, rt, id)
			ok(t, err, "ListTags")
			wantEqual(t, "ListTags by key", tags, []store.Tag{
				{Key: "B", Value: "upper"}, {Key: "a", Value: "3"}, {Key: "b", Value: string(rt)}, {Key: "c", Value: ""},
			})

			ok(t, s.RemoveTags(ctx, rt, id, []string{"a", "absent", "c"}), "RemoveTags with an absent key")
			ok(t, s.RemoveTags(ctx, rt, id, []string{"a"}), "RemoveTags of a removed key")
			ok(t, s.RemoveTags(ctx, rt, id, nil), "RemoveTags with none")
			tags, err = s.ListTags(ctx, rt, id)
			ok(t, err, "ListTags")
			wantEqual(t, "ListTags after RemoveTags", tags, []store.Tag{
				{Key: "B", Value: "upper"}, {Key: "b", Value: string(rt)},
			})
		})
	}
}

// testTagsMissingResource pins what the interface leaves open: tags belong
// to an existing resource. Allowing orphans would hand a deleted user's tags
// (which may drive tag-based authorisation) to the next user of that name.
func testTagsMissingResource(t *testing.T, s store.Store) {
	ctx := t.Context()
	for _, rt := range []store.ResourceType{store.ResourceUser, store.ResourceGroup, store.ResourceActivation, store.ResourceManagedInstance, store.ResourceDocument} {
		t.Run(string(rt), func(t *testing.T) {
			wantErr(t, s.AddTags(ctx, rt, "missing", []store.Tag{{Key: "k", Value: "v"}}), store.ErrNotFound, "AddTags")
			wantErr(t, s.RemoveTags(ctx, rt, "missing", []string{"k"}), store.ErrNotFound, "RemoveTags")
			_, err := s.ListTags(ctx, rt, "missing")
			wantErr(t, err, store.ErrNotFound, "ListTags")
		})
	}
}
