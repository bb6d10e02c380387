package storetest

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"strconv"
	"testing"
	"time"

	"github.com/tetherhq/tether/internal/store"
)

func session(id, target, status string, start time.Time) store.Session {
	return store.Session{
		ID:           id,
		Target:       target,
		Owner:        "arn:aws:iam::111122223333:user/alice",
		DocumentName: "SSM-SessionManagerRunShell",
		Reason:       "debugging",
		Status:       status,
		StartDate:    start,
		Parameters:   `{"command":["bash"]}`,
	}
}

func intp(i int) *int { return &i }

func testSessions(t *testing.T, s store.Store) {
	ctx := t.Context()
	open := session("alice-0123456789abcdef0", "mi-00000000000000001", "Connected", t0)
	open.MaxSessionDuration = "60"
	ok(t, s.CreateSession(ctx, open), "CreateSession")
	wantErr(t, s.CreateSession(ctx, open), store.ErrAlreadyExists, "CreateSession twice")
	got, err := s.GetSession(ctx, open.ID)
	ok(t, err, "GetSession")
	wantEqual(t, "GetSession with no end and no exit code", got, open)

	// An exit code of 0 is not "unknown"; large and negative codes survive.
	for i, code := range []int{0, 1, -1, 3221225477} {
		ended := session(fmt.Sprintf("alice-%017x", i), "mi-00000000000000001", "Terminated", t0)
		ended.EndDate = at(time.Minute)
		ended.ExitCode = intp(code)
		ended.Details = "exited"
		ok(t, s.CreateSession(ctx, ended), "CreateSession")
		got, err := s.GetSession(ctx, ended.ID)
		ok(t, err, "GetSession")
		wantEqual(t, "GetSession with exit code "+strconv.Itoa(code), got, ended)
	}

	_, err = s.GetSession(ctx, "alice-missing")
	wantErr(t, err, store.ErrNotFound, "GetSession missing")
}

func testUpdateSession(t *testing.T, s store.Store) {
	ctx := t.Context()
	_, err := s.UpdateSession(ctx, "alice-missing", func(*store.Session) error {
		t.Error("fn called for a missing session")
		return nil
	})
	wantErr(t, err, store.ErrNotFound, "UpdateSession missing")

	orig := session("alice-0123456789abcdef0", "mi-00000000000000001", "Connecting", t0)
	ok(t, s.CreateSession(ctx, orig), "CreateSession")

	want := orig
	want.Status = "Terminated"
	want.EndDate = at(time.Minute)
	want.ExitCode = intp(3)
	want.Details = "exit status 3"
	want.Transcript = store.Transcript{Bucket: "audit-bucket", KeyPrefix: "prod/sessions", Encrypt: true,
		OutputURL: "s3://audit-bucket/prod/sessions/alice-0123456789abcdef0.cast", Stored: at(2 * time.Minute), Kind: "cast"}
	got, err := s.UpdateSession(ctx, orig.ID, func(x *store.Session) error {
		wantEqual(t, "session handed to fn", *x, orig)
		x.Status, x.EndDate, x.ExitCode, x.Details = want.Status, want.EndDate, want.ExitCode, want.Details
		x.Transcript = want.Transcript
		return nil
	})
	ok(t, err, "UpdateSession")
	wantEqual(t, "UpdateSession result", got, want)
	got, err = s.GetSession(ctx, orig.ID)
	ok(t, err, "GetSession")
	wantEqual(t, "GetSession after UpdateSession", got, want)

	// fn's error aborts the write, changes fn already made included.
	errVeto := errors.New("veto")
	_, err = s.UpdateSession(ctx, orig.ID, func(x *store.Session) error {
		x.Status = "Failed"
		x.ExitCode = nil
		return fmt.Errorf("checking: %w", errVeto)
	})
	wantErr(t, err, errVeto, "UpdateSession whose fn fails")
	got, err = s.GetSession(ctx, orig.ID)
	ok(t, err, "GetSession")
	wantEqual(t, "GetSession after a vetoed update", got, want)

	// A known exit code can be cleared again.
	got, err = s.UpdateSession(ctx, orig.ID, func(x *store.Session) error {
		x.ExitCode = nil
		x.EndDate = time.Time{}
		return nil
	})
	ok(t, err, "UpdateSession")
	want.ExitCode, want.EndDate = nil, time.Time{}
	wantEqual(t, "UpdateSession clearing exit code and end", got, want)
	got, err = s.GetSession(ctx, orig.ID)
	ok(t, err, "GetSession")
	wantEqual(t, "GetSession after clearing", got, want)
}

func testUpdateSessionConcurrent(t *testing.T, s store.Store) {
	ctx := t.Context()
	const n = 20
	sess := session("alice-0123456789abcdef0", "mi-00000000000000001", "Connected", t0)
	sess.Details = "0"
	ok(t, s.CreateSession(ctx, sess), "CreateSession")
	// Read-modify-write from n goroutines: a lost update shows as a count
	// below n.
	errs := concurrently(n, func(int) error {
		_, err := s.UpdateSession(ctx, sess.ID, func(x *store.Session) error {
			c, err := strconv.Atoi(x.Details)
			if err != nil {
				return err
			}
			x.Details = strconv.Itoa(c + 1)
			return nil
		})
		return err
	})
	for i, err := range errs {
		ok(t, err, fmt.Sprintf("UpdateSession %d", i))
	}
	got, err := s.GetSession(ctx, sess.ID)
	ok(t, err, "GetSession")
	wantEqual(t, "counter after concurrent updates", got.Details, strconv.Itoa(n))
}

func testListSessions(t *testing.T, s store.Store) {
	ctx := t.Context()
	{
		got, err := s.ListSessions(ctx, store.SessionFilter{})
		wantEmpty(t, "ListSessions on an empty store", got, err)
	}
	const (
		alice = "arn:aws:iam::111122223333:user/alice"
		bob   = "arn:aws:iam::111122223333:user/bob"
		carol = "arn:aws:iam::111122223333:user/carol"
	)
	mk := func(id, target, owner, status string, start time.Time) store.Session {
		x := session(id, target, status, start)
		x.Owner = owner
		return x
	}
	all := map[string]store.Session{}
	for _, x := range []store.Session{
		mk("alice-00000000000000001", "mi-1", alice, "Connected", t0),
		mk("alice-00000000000000002", "mi-2", alice, "Terminated", at(time.Minute)),
		mk("bob-00000000000000003", "mi-1", bob, "Failed", at(2*time.Minute)),
		mk("bob-00000000000000004", "mi-2", bob, "Connecting", at(time.Minute)),
		mk("carol-00000000000000005", "mi-1", carol, "Disconnected", at(-time.Hour)),
		mk("alice-00000000000000006", "mi-3", alice, "Terminating", at(2*time.Minute)),
	} {
		ok(t, s.CreateSession(ctx, x), "CreateSession "+x.ID)
		all[x.ID] = x
	}
	yes, no := true, false
	tests := []struct {
		name string
		f    store.SessionFilter
		want []string // id suffixes, in order
	}{
		{"all, newest first then id", store.SessionFilter{}, []string{"6", "3", "2", "4", "1", "5"}},
		{"active", store.SessionFilter{Active: &yes}, []string{"6", "4", "1", "5"}},
		{"history", store.SessionFilter{Active: &no}, []string{"3", "2"}},
		{"target", store.SessionFilter{Target: "mi-1"}, []string{"3", "1", "5"}},
		{"owner", store.SessionFilter{Owner: bob}, []string{"3", "4"}},
		{"status", store.SessionFilter{Status: "Terminating"}, []string{"6"}},
		{"session id", store.SessionFilter{SessionID: "alice-00000000000000002"}, []string{"2"}},
		{"unknown session id", store.SessionFilter{SessionID: "alice-00000000000000009"}, nil},
		{"invoked after is inclusive", store.SessionFilter{InvokedAfter: at(time.Minute)}, []string{"6", "3", "2", "4"}},
		{"invoked before is exclusive", store.SessionFilter{InvokedBefore: at(time.Minute)}, []string{"1", "5"}},
		{"window", store.SessionFilter{InvokedAfter: t0, InvokedBefore: at(2 * time.Minute)}, []string{"2", "4", "1"}},
		{"target and active", store.SessionFilter{Target: "mi-2", Active: &yes}, []string{"4"}},
		{"owner and history", store.SessionFilter{Owner: alice, Active: &no}, []string{"2"}},
		{"status and active disagree", store.SessionFilter{Status: "Failed", Active: &yes}, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := s.ListSessions(ctx, tc.f)
			ok(t, err, "ListSessions")
			var gotIDs []string
			for _, x := range got {
				gotIDs = append(gotIDs, x.ID[len(x.ID)-1:])
				wantEqual(t, "listed session "+x.ID, x, all[x.ID])
			}
			wantEqual(t, "ListSessions ids", gotIDs, tc.want)
		})
	}
}

func token(seed string, kind store.TokenKind, subject string, expires time.Time) store.Token {
	sum := sha256.Sum256([]byte(seed))
	return store.Token{Hash: sum[:], Kind: kind, Subject: subject, ExpiresAt: expires}
}

func testTokens(t *testing.T, s store.Store) {
	ctx := t.Context()
	tok := token("a", store.TokenClientData, "alice-0123456789abcdef0", at(time.Minute))
	ok(t, s.PutToken(ctx, tok), "PutToken")
	wantErr(t, s.PutToken(ctx, tok), store.ErrAlreadyExists, "PutToken twice")
	other := token("b", store.TokenClientData, tok.Subject, at(time.Minute))
	ok(t, s.PutToken(ctx, other), "PutToken for the same subject")

	got, err := s.ConsumeToken(ctx, tok.Hash, tok.Kind, tok.Subject, t0)
	ok(t, err, "ConsumeToken")
	wantEqual(t, "ConsumeToken", got, tok)
	_, err = s.ConsumeToken(ctx, tok.Hash, tok.Kind, tok.Subject, t0)
	wantErr(t, err, store.ErrTokenInvalid, "ConsumeToken twice")

	got, err = s.ConsumeToken(ctx, other.Hash, other.Kind, other.Subject, t0)
	ok(t, err, "ConsumeToken of a second token for the subject")
	wantEqual(t, "ConsumeToken", got, other)
}

func testConsumeTokenRefusals(t *testing.T, s store.Store) {
	ctx := t.Context()
	exp := at(time.Minute)
	tests := []struct {
		name    string
		hash    []byte // nil: the token's
		kind    store.TokenKind
		subject string
		now     time.Time
		usable  bool // the right call at t0 still succeeds afterwards
	}{
		{"unknown", []byte("no such hash"), store.TokenAgentData, "mi-1", t0, true},
		{"wrong kind", nil, store.TokenAgentControl, "mi-1", t0, true},
		{"wrong subject", nil, store.TokenAgentData, "mi-2", t0, true},
		{"expired at now", nil, store.TokenAgentData, "mi-1", exp, false},
		{"expired before now", nil, store.TokenAgentData, "mi-1", exp.Add(time.Hour), false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tok := token(tc.name, store.TokenAgentData, "mi-1", exp)
			ok(t, s.PutToken(ctx, tok), "PutToken")
			hash := tc.hash
			if hash == nil {
				hash = tok.Hash
			}
			_, err := s.ConsumeToken(ctx, hash, tc.kind, tc.subject, tc.now)
			wantErr(t, err, store.ErrTokenInvalid, "ConsumeToken")
			if !tc.usable {
				return
			}
			// A refused attempt does not spend the token: the contract marks
			// it used only when every condition holds.
			_, err = s.ConsumeToken(ctx, tok.Hash, tok.Kind, tok.Subject, t0)
			ok(t, err, "ConsumeToken after the refusal")
		})
	}
}

func testConsumeTokenConcurrent(t *testing.T, s store.Store) {
	ctx := t.Context()
	const n = 20
	tok := token("race", store.TokenAgentControl, "mi-00000000000000001", at(time.Minute))
	ok(t, s.PutToken(ctx, tok), "PutToken")
	errs := concurrently(n, func(int) error {
		_, err := s.ConsumeToken(ctx, tok.Hash, tok.Kind, tok.Subject, t0)
		return err
	})
	var won int
	for i, err := range errs {
		switch {
		case err == nil:
			won++
		case errors.Is(err, store.ErrTokenInvalid):
		default:
			t.Errorf("ConsumeToken %d: %v, want nil or %v", i, err, store.ErrTokenInvalid)
		}
	}
	if won != 1 {
		t.Fatalf("%d of %d concurrent consumers got the token, want exactly 1", won, n)
	}
}

func testTimePrecision(t *testing.T, s store.Store) {
	ctx := t.Context()
	ist := time.FixedZone("IST", 5*3600+1800)
	// Sub-millisecond parts, a non-UTC zone, and dates far from now on both
	// sides of 1970.
	created := time.Date(2025, 3, 14, 20, 39, 26, 123_456_789, ist)
	past := time.Date(1969, 7, 20, 20, 17, 40, 999_999_999, time.UTC)
	future := time.Date(9999, 12, 31, 23, 59, 59, 999_000_000, time.UTC)

	check := func(what string, got, want time.Time) {
		t.Helper()
		if got.Location() != time.UTC {
			t.Errorf("%s: location %v, want UTC", what, got.Location())
		}
		if d := got.Sub(want).Abs(); d >= time.Millisecond {
			t.Errorf("%s: got %v, want %v (off by %v)", what, got, want, d)
		}
	}

	u := user("alice")
	u.CreatedAt = created
	ok(t, s.CreateUser(ctx, u), "CreateUser")
	gu, err := s.GetUser(ctx, "alice")
	ok(t, err, "GetUser")
	check("User.CreatedAt", gu.CreatedAt, created)

	ok(t, s.CreateAccessKey(ctx, accessKey("AKIAAAAAAAAAAAAAAAA1", "alice", created)), "CreateAccessKey")
	ok(t, s.TouchAccessKey(ctx, "AKIAAAAAAAAAAAAAAAA1", created.Add(time.Microsecond)), "TouchAccessKey")
	k, err := s.GetAccessKey(ctx, "AKIAAAAAAAAAAAAAAAA1")
	ok(t, err, "GetAccessKey")
	check("AccessKey.CreatedAt", k.CreatedAt, created)
	check("AccessKey.LastUsedAt", k.LastUsedAt, created.Add(time.Microsecond))

	a := activation("act", 1, future)
	a.CreatedDate = past
	ok(t, s.CreateActivation(ctx, a), "CreateActivation")
	ga, err := s.GetActivation(ctx, "act")
	ok(t, err, "GetActivation")
	check("Activation.ExpirationDate", ga.ExpirationDate, future)
	check("Activation.CreatedDate", ga.CreatedDate, past)

	inst := instance(instanceID(1))
	inst.RegistrationDate = created
	ok(t, s.RegisterInstance(ctx, "act", inst, created), "RegisterInstance")
	ok(t, s.TouchInstance(ctx, inst.ID, created.In(time.Local)), "TouchInstance")
	gi, err := s.GetInstance(ctx, inst.ID)
	ok(t, err, "GetInstance")
	check("Instance.RegistrationDate", gi.RegistrationDate, created)
	check("Instance.LastPingAt", gi.LastPingAt, created)

	sess := session("alice-0123456789abcdef0", inst.ID, "Terminated", created)
	sess.EndDate = created.Add(90 * time.Second)
	ok(t, s.CreateSession(ctx, sess), "CreateSession")
	gs, err := s.GetSession(ctx, sess.ID)
	ok(t, err, "GetSession")
	check("Session.StartDate", gs.StartDate, created)
	check("Session.EndDate", gs.EndDate, sess.EndDate)

	tok := token("t", store.TokenClientData, sess.ID, created.Add(time.Minute))
	ok(t, s.PutToken(ctx, tok), "PutToken")
	gt, err := s.ConsumeToken(ctx, tok.Hash, tok.Kind, tok.Subject, created)
	ok(t, err, "ConsumeToken")
	check("Token.ExpiresAt", gt.ExpiresAt, tok.ExpiresAt)

	// Zero times stay zero: "never used".
	k2 := accessKey("AKIAAAAAAAAAAAAAAAA2", "alice", created)
	ok(t, s.CreateAccessKey(ctx, k2), "CreateAccessKey")
	gk2, err := s.GetAccessKey(ctx, k2.ID)
	ok(t, err, "GetAccessKey")
	if !gk2.LastUsedAt.IsZero() {
		t.Errorf("AccessKey.LastUsedAt of an unused key: %v, want zero", gk2.LastUsedAt)
	}
}
