package auditapi

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tetherhq/tether/internal/api"
	"github.com/tetherhq/tether/internal/auth"
	"github.com/tetherhq/tether/internal/policy"
	"github.com/tetherhq/tether/internal/ssmapi"
	"github.com/tetherhq/tether/internal/store"
	"github.com/tetherhq/tether/internal/store/sqlite"
)

const account = "111122223333"

// caller authenticates every request as the user named by the X-Test-User
// header: "admin" holds AdministratorAccess, anyone else nothing.
type caller struct{}

func (caller) Authenticate(_ context.Context, r *http.Request, _ []byte) (*auth.Principal, error) {
	name := r.Header.Get("X-Test-User")
	return &auth.Principal{User: store.User{Name: name}, ARN: "arn:aws:iam::" + account + ":user/" + name}, nil
}

// policyAuth evaluates the real admin policy for "admin".
type policyAuth struct{}

func (policyAuth) Authorize(p *auth.Principal, action, resource string, _ map[string][]string) error {
	var pols []policy.NamedPolicy
	if p.User.Name == "admin" {
		d, err := policy.Parse([]byte(auth.AdminPolicy))
		if err != nil {
			return err
		}
		pols = append(pols, policy.NamedPolicy{Name: "AdministratorAccess", Doc: d})
	}
	if policy.Evaluate(pols, policy.Request{Action: action, Resource: resource}).Decision != policy.Allow {
		return &api.Error{Status: 400, Code: api.CodeAccessDenied, Message: "not authorized to perform: " + action}
	}
	return nil
}

func setup(t *testing.T) (*ssmapi.Mux, store.Store) {
	t.Helper()
	st, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "tether.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	m := ssmapi.New(caller{}, nil)
	New(Config{Store: st, Auth: policyAuth{}, Account: account}).Register(m)
	return m, st
}

func do(t *testing.T, m *ssmapi.Mux, user, body string) (int, string) {
	t.Helper()
	req := httptest.NewRequestWithContext(t.Context(), http.MethodPost, "/", strings.NewReader(body))
	req.Header.Set("X-Amz-Target", "Tether.ListAuditEvents")
	req.Header.Set("X-Test-User", user)
	w := httptest.NewRecorder()
	m.ServeHTTP(w, req)
	return w.Code, w.Body.String()
}

var t0 = time.Date(2026, 1, 2, 15, 4, 5, 0, time.UTC)

func seed(t *testing.T, st store.Store, n int) {
	t.Helper()
	var evs []store.AuditEvent
	for i := range n {
		who := "alice"
		if i%2 == 1 {
			who = "bob"
		}
		evs = append(evs, store.AuditEvent{
			ID: fmt.Sprintf("e%03d", i), Time: t0.Add(time.Duration(i) * time.Second), Kind: "api",
			Principal: "arn:aws:iam::" + account + ":user/" + who, Action: "AmazonSSM.StartSession",
			Resource: "mi-1", Outcome: "allowed", SourceIP: "127.0.0.1", Parameters: `{"Target":"mi-1"}`,
		})
	}
	if err := st.AppendAuditEvents(t.Context(), evs); err != nil {
		t.Fatal(err)
	}
}

func TestListAuditEvents(t *testing.T) {
	m, st := setup(t)
	seed(t, st, 25)

	t.Run("the admin policy allows it; no policy denies it", func(t *testing.T) {
		if code, body := do(t, m, "admin", `{}`); code != 200 {
			t.Fatalf("admin: %d %s", code, body)
		}
		if code, body := do(t, m, "mallory", `{}`); code != 400 || !strings.Contains(body, "AccessDeniedException") {
			t.Fatalf("mallory: %d %s", code, body)
		}
	})
	t.Run("pages chain through NextToken, newest first", func(t *testing.T) {
		var all []Event
		in := map[string]any{"MaxResults": 10, "Principal": "alice", "Action": "StartSession"}
		for pages := 0; ; pages++ {
			b, _ := json.Marshal(in)
			code, body := do(t, m, "admin", string(b))
			if code != 200 {
				t.Fatalf("%d %s", code, body)
			}
			var out ListAuditEventsOutput
			json.Unmarshal([]byte(body), &out)
			all = append(all, out.Events...)
			if out.NextToken == "" {
				break
			}
			in["NextToken"] = out.NextToken
		}
		if len(all) != 13 || all[0].EventID != "e024" || all[12].EventID != "e000" {
			t.Fatalf("got %d events, first %+v", len(all), all[0])
		}
		e := all[0]
		if e.UserName != "alice" || e.Target != "mi-1" || string(e.Parameters) != `{"Target":"mi-1"}` ||
			e.EventTime != float64(t0.Add(24*time.Second).Unix()) {
			t.Fatalf("event %+v", e)
		}
	})
	t.Run("time bounds as epoch seconds or RFC 3339", func(t *testing.T) {
		for _, body := range []string{
			fmt.Sprintf(`{"StartTime": %d, "EndTime": %d}`, t0.Add(5*time.Second).Unix(), t0.Add(8*time.Second).Unix()),
			`{"StartTime": "2026-01-02T15:04:10Z", "EndTime": "2026-01-02T16:04:13+01:00"}`,
		} {
			code, out := do(t, m, "admin", body)
			var res ListAuditEventsOutput
			json.Unmarshal([]byte(out), &res)
			if code != 200 || len(res.Events) != 3 || res.Events[0].EventID != "e007" {
				t.Fatalf("%s: %d %s", body, code, out)
			}
		}
	})
}

func TestListAuditEventsHostileInput(t *testing.T) {
	m, st := setup(t)
	seed(t, st, 3)
	tok := func(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }
	long := strings.Repeat("a", 5000)
	for _, body := range []string{
		`{"StartTime": "yesterday"}`,
		`{"StartTime": "2026-13-45T99:00:00Z"}`,
		`{"EndTime": -1}`,
		`{"EndTime": 1e300}`,
		`{"StartTime": 1e20}`,
		`{"StartTime": true}`,
		`{"StartTime": {"a": 1}}`,
		`{"StartTime": "2026-01-02T00:00:00Z", "EndTime": "2026-01-01T00:00:00Z"}`,
		`{"StartTime": 5, "EndTime": 5}`,
		`{"MaxResults": 0.5}`,
		`{"MaxResults": -1}`,
		`{"MaxResults": 1001}`,
		`{"MaxResults": 99999999999999999999999999}`,
		`{"MaxResults": "10"}`,
		`{"NextToken": "not a token"}`,
		`{"NextToken": "` + tok(`{"t":1}`) + `"}`,
		`{"NextToken": "` + tok(`{"t":-5,"i":"x"}`) + `"}`,
		`{"NextToken": "` + tok(`{"t":1e300,"i":"x"}`) + `"}`,
		`{"NextToken": "` + tok(`{"t":1,"i":"x","extra":1}`) + `"}`,
		`{"NextToken": "` + tok(`[]`) + `"}`,
		`{"NextToken": "` + tok(long) + `"}`,
		`{"Kind": "everything"}`,
		`{"Outcome": "maybe"}`,
		`{"Principal": "` + long + `"}`,
		`{"Target": "` + long + `"}`,
	} {
		code, out := do(t, m, "admin", body)
		if code != 400 || !strings.Contains(out, `"__type":"ValidationException"`) {
			t.Errorf("%.80s: %d %s", body, code, out)
		}
	}
	// Malformed JSON is the dispatcher's SerializationException, as everywhere.
	for _, body := range []string{`{`, `[]`, `{"Principal": 5}`, "\x00"} {
		if code, out := do(t, m, "admin", body); code != 400 || !strings.Contains(out, "SerializationException") {
			t.Errorf("%q: %d %s", body, code, out)
		}
	}
	// Odd but valid filters match nothing rather than fail.
	for _, body := range []string{
		`{"Principal": "'; DROP TABLE audit_events; --"}`,
		`{"Action": "%", "Target": "*"}`,
		`{"StartTime": 0, "EndTime": 253402300799}`,
		`{"MaxResults": 1000}`,
		`{"NextToken": "` + tok(`{"t":0,"i":"z"}`) + `"}`,
	} {
		if code, out := do(t, m, "admin", body); code != 200 {
			t.Errorf("%s: %d %s", body, code, out)
		}
	}
	if evs, err := st.ListAuditEvents(t.Context(), store.AuditFilter{}); err != nil || len(evs) != 3 {
		t.Fatalf("the trail after hostile input: %d events, %v", len(evs), err)
	}
}
