package ssmapi

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/tetherhq/tether/internal/api"
	"github.com/tetherhq/tether/internal/audit"
	"github.com/tetherhq/tether/internal/auth"
	"github.com/tetherhq/tether/internal/sigv4"
)

// auditMux serves Tether.CreateAccessKey (whose answer holds a secret, as
// the real one's does), AmazonSSM.StartSession (whose answer holds a token)
// and AmazonSSM.Deny, and collects each call's audit event.
func auditMux(a Authenticator) (*Mux, *[]audit.Event) {
	m := New(a, nil)
	m.Handle("Tether.CreateAccessKey", Op(func(ctx context.Context, p *auth.Principal, in *struct{ UserName string }) (any, error) {
		return map[string]any{"AccessKey": map[string]string{"UserName": in.UserName, "AccessKeyId": "AKIAEXAMPLEEXAMPLE01",
			"SecretAccessKey": "wJalrXUtnFEMI/K7MDENG/bPxRfiCYzEXAMPLEKEY"}}, nil
	}))
	m.Handle("AmazonSSM.StartSession", Op(func(ctx context.Context, p *auth.Principal, in *api.StartSessionInput) (any, error) {
		return api.StartSessionOutput{SessionID: "alice-0123456789abcdef0", TokenValue: "session-token-value", StreamURL: "ws://x"}, nil
	}))
	m.Handle("AmazonSSM.Deny", Op(func(ctx context.Context, p *auth.Principal, in *struct{}) (any, error) {
		return nil, &api.Error{Status: 400, Code: api.CodeAccessDenied, Message: "User: alice is not authorized"}
	}))
	m.Handle("AmazonSSM.Broken", Op(func(ctx context.Context, p *auth.Principal, in *struct{}) (any, error) {
		return nil, errors.New("database is locked at /var/lib/tether/tether.db")
	}))
	var evs []audit.Event
	m.Observe(func(ctx context.Context, c *Call) { evs = append(evs, c.AuditEvent("198.51.100.9")) })
	return m, &evs
}

func call(t *testing.T, m *Mux, target, body string, hdr ...string) *httptest.ResponseRecorder {
	t.Helper()
	req := httptest.NewRequestWithContext(t.Context(), http.MethodPost, "/", strings.NewReader(body))
	req.Header.Set("X-Amz-Target", target)
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	w := httptest.NewRecorder()
	m.ServeHTTP(w, req)
	return w
}

func TestAuditEvents(t *testing.T) {
	m, evs := auditMux(&fakeAuth{})
	const alice = "arn:aws:iam::000000000000:user/alice"

	t.Run("a secret in an answer never reaches the event", func(t *testing.T) {
		*evs = nil
		w := call(t, m, "Tether.CreateAccessKey", `{"UserName":"bob"}`)
		if !strings.Contains(w.Body.String(), "wJalrXUtnFEMI") {
			t.Fatalf("the caller must still get the secret: %s", w.Body)
		}
		e := (*evs)[0]
		b, _ := json.Marshal(e)
		if strings.Contains(string(b), "wJalrXUtnFEMI") {
			t.Fatalf("secret in event %s", b)
		}
		if e.Kind != audit.KindAPI || e.Action != "Tether.CreateAccessKey" || e.Principal != alice || e.Resource != "bob" ||
			e.Outcome != audit.OutcomeAllowed || e.ErrorCode != "" || e.SourceIP != "198.51.100.9" ||
			e.RequestID != w.Header().Get("x-amzn-RequestId") || string(e.Parameters) != `{"UserName":"bob"}` || e.Time.IsZero() {
			t.Fatalf("event %s", b)
		}
	})
	t.Run("secrets in a request are redacted; the session id is kept, the token is not", func(t *testing.T) {
		*evs = nil
		call(t, m, "AmazonSSM.StartSession", `{"Target":"mi-0123456789abcdef0","Parameters":{"dbPassword":["hunter2"],"host":["db"]},"TokenValue":"abc"}`)
		e := (*evs)[0]
		b, _ := json.Marshal(e)
		for _, secret := range []string{"hunter2", `"abc"`, "session-token-value"} {
			if strings.Contains(string(b), secret) {
				t.Fatalf("%s in event %s", secret, b)
			}
		}
		if e.Resource != "mi-0123456789abcdef0" || e.Details["sessionId"] != "alice-0123456789abcdef0" ||
			!strings.Contains(string(e.Parameters), `"dbPassword":"REDACTED"`) || !strings.Contains(string(e.Parameters), `"host":["db"]`) {
			t.Fatalf("event %s", b)
		}
	})
	t.Run("outcomes and error codes", func(t *testing.T) {
		*evs = nil
		call(t, m, "AmazonSSM.Deny", `{}`)
		call(t, m, "AmazonSSM.Broken", `{}`)
		call(t, m, "AmazonSSM.StartSession", `{"Target": 5}`)
		call(t, m, "AmazonSSM.NoSuchOp\x1b[2J", `{}`)
		want := []struct{ outcome, code string }{
			{audit.OutcomeDenied, api.CodeAccessDenied},
			{audit.OutcomeError, api.CodeInternal},
			{audit.OutcomeError, api.CodeSerialization},
			{audit.OutcomeError, api.CodeUnknownOperation},
		}
		for i, w := range want {
			e := (*evs)[i]
			if e.Outcome != w.outcome || e.ErrorCode != w.code {
				t.Errorf("event %d: %s %s, want %s %s", i, e.Outcome, e.ErrorCode, w.outcome, w.code)
			}
		}
		if r := (*evs)[1].Reason; strings.Contains(r, "tether.db") {
			t.Errorf("an internal error's text reached the trail: %q", r)
		}
		if a := (*evs)[3].Action; strings.ContainsRune(a, 0x1b) {
			t.Errorf("control characters kept in action %q", a)
		}
	})
	t.Run("an unauthenticated call keeps the claimed key, not the body", func(t *testing.T) {
		m, evs := auditMux(&fakeAuth{err: &api.Error{Status: 400, Code: api.CodeUnrecognizedClient, Message: "The security token included in the request is invalid."}})
		req := httptest.NewRequestWithContext(t.Context(), http.MethodPost, "/", strings.NewReader(`{"UserName":"root","Password":"x"}`))
		req.Header.Set("X-Amz-Target", "Tether.CreateAccessKey")
		body := []byte(`{"UserName":"root","Password":"x"}`)
		if err := sigv4.Sign(req, body, sigv4.Credentials{AccessKeyID: "AKIAUNKNOWNUNKNOWN00", SecretAccessKey: "guess"}, "us-east-1", "ssm", time.Now()); err != nil {
			t.Fatal(err)
		}
		m.ServeHTTP(httptest.NewRecorder(), req)
		e := (*evs)[0]
		if e.Principal != "" || e.Outcome != audit.OutcomeDenied || e.ErrorCode != api.CodeUnrecognizedClient ||
			e.Parameters != nil || e.Resource != "" || e.Details["claimedAccessKeyId"] != "AKIAUNKNOWNUNKNOWN00" {
			b, _ := json.Marshal(e)
			t.Fatalf("event %s", b)
		}
	})
}
