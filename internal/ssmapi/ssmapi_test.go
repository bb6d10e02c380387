package ssmapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync"
	"testing"

	"github.com/tetherhq/tether/internal/api"
	"github.com/tetherhq/tether/internal/auth"
	"github.com/tetherhq/tether/internal/store"
)

// fakeAuth accepts every request as alice, or fails with err.
type fakeAuth struct {
	err error

	mu    sync.Mutex
	calls int
	body  []byte // last body seen
}

func (f *fakeAuth) Authenticate(_ context.Context, _ *http.Request, body []byte) (*auth.Principal, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls++
	f.body = body
	if f.err != nil {
		return nil, f.err
	}
	return &auth.Principal{User: store.User{Name: "alice"}, ARN: "arn:aws:iam::000000000000:user/alice"}, nil
}

type echoInput struct {
	Name string `json:"Name"`
}

type echoOutput struct {
	Hello     string `json:"Hello"`
	Principal string `json:"Principal"`
}

const secretText = "pq: password authentication failed for user tether at 10.0.0.5"

// newTestMux registers AmazonSSM.Echo and AmazonSSM.Fail (which returns
// failErr) behind a. Logs go to the returned buffer.
func newTestMux(a Authenticator, failErr error) (*Mux, *bytes.Buffer, *int) {
	var logs bytes.Buffer
	m := New(a, slog.New(slog.NewTextHandler(&logs, nil)))
	calls := new(int)
	m.Handle("AmazonSSM.Echo", Op(func(ctx context.Context, p *auth.Principal, in *echoInput) (any, error) {
		*calls++
		return echoOutput{Hello: in.Name, Principal: p.ARN}, nil
	}))
	m.Handle("AmazonSSM.Fail", Op(func(ctx context.Context, p *auth.Principal, in *echoInput) (any, error) {
		*calls++
		return nil, failErr
	}))
	m.Handle("AmazonSSM.Nothing", func(ctx context.Context, p *auth.Principal, body []byte) (any, error) {
		*calls++
		return nil, nil
	})
	m.Handle("AmazonSSM.Unmarshalable", func(ctx context.Context, p *auth.Principal, body []byte) (any, error) {
		*calls++
		return map[string]any{"C": make(chan int)}, nil
	})
	return m, &logs, calls
}

var requestIDRe = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`)

func TestMux(t *testing.T) {
	tests := []struct {
		name     string
		auth     error // returned by the authenticator
		fail     error // returned by AmazonSSM.Fail
		method   string
		target   string
		body     string
		status   int
		code     string // error code; empty for success
		message  string // substring of the error message
		noLeak   string // must not appear in the response
		response string // success body
		handled  bool   // the operation ran
	}{
		{name: "success", target: "AmazonSSM.Echo", body: `{"Name":"bob"}`, status: 200,
			response: `{"Hello":"bob","Principal":"arn:aws:iam::000000000000:user/alice"}`, handled: true},
		{name: "empty body", target: "AmazonSSM.Echo", body: "", status: 200,
			response: `{"Hello":"","Principal":"arn:aws:iam::000000000000:user/alice"}`, handled: true},
		{name: "nil output is an empty object", target: "AmazonSSM.Nothing", body: `{}`, status: 200, response: `{}`, handled: true},
		{name: "unknown target", target: "AmazonSSM.LaunchRockets", body: `{}`, status: 400,
			code: api.CodeUnknownOperation, message: "AmazonSSM.LaunchRockets"},
		{name: "no target", target: "", body: `{}`, status: 400, code: api.CodeUnknownOperation},
		{name: "malformed JSON", target: "AmazonSSM.Echo", body: `{"Name":`, status: 400, code: api.CodeSerialization, message: "malformed JSON"},
		{name: "wrong JSON type", target: "AmazonSSM.Echo", body: `{"Name":42}`, status: 400, code: api.CodeSerialization, message: `"Name"`},
		{name: "GET", method: http.MethodGet, target: "AmazonSSM.Echo", status: 405, code: api.CodeUnknownOperation},
		{name: "PUT", method: http.MethodPut, target: "AmazonSSM.Echo", body: `{}`, status: 405, code: api.CodeUnknownOperation},
		{name: "authentication error", target: "AmazonSSM.Echo", body: `{}`,
			auth:   &api.Error{Status: 403, Code: api.CodeUnrecognizedClient, Message: "The security token included in the request is invalid."},
			status: 403, code: api.CodeUnrecognizedClient, message: "The security token included in the request is invalid."},
		{name: "authentication error for an unknown operation", target: "AmazonSSM.LaunchRockets", body: `{}`,
			auth:   &api.Error{Status: 400, Code: api.CodeMissingAuthToken, Message: "Missing Authentication Token"},
			status: 400, code: api.CodeMissingAuthToken},
		{name: "authenticator fails unexpectedly", target: "AmazonSSM.Echo", body: `{}`, auth: errors.New(secretText),
			status: 500, code: api.CodeInternal, noLeak: secretText},
		{name: "api error from handler", target: "AmazonSSM.Fail", body: `{}`,
			fail:   api.Errorf(api.CodeTargetNotConnected, "mi-0123456789abcdef0 is not connected."),
			status: 400, code: api.CodeTargetNotConnected, message: "mi-0123456789abcdef0 is not connected.", handled: true},
		{name: "wrapped api error from handler", target: "AmazonSSM.Fail", body: `{}`,
			fail:   fmt.Errorf("start session: %w", &api.Error{Status: 404, Code: api.CodeDoesNotExist, Message: "no such session"}),
			status: 404, code: api.CodeDoesNotExist, message: "no such session", handled: true},
		{name: "plain error from handler", target: "AmazonSSM.Fail", body: `{}`, fail: errors.New(secretText),
			status: 500, code: api.CodeInternal, message: "request id", noLeak: secretText, handled: true},
		{name: "unmarshalable output", target: "AmazonSSM.Unmarshalable", body: `{}`, status: 500, code: api.CodeInternal, handled: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := &fakeAuth{err: tt.auth}
			m, logs, calls := newTestMux(a, tt.fail)
			srv := httptest.NewServer(m)
			defer srv.Close()
			method := tt.method
			if method == "" {
				method = http.MethodPost
			}
			req, err := http.NewRequestWithContext(t.Context(), method, srv.URL+"/", strings.NewReader(tt.body))
			if err != nil {
				t.Fatal(err)
			}
			req.Header.Set("Content-Type", api.ContentType)
			if tt.target != "" {
				req.Header.Set("X-Amz-Target", tt.target)
			}
			resp, err := srv.Client().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			body, err := io.ReadAll(resp.Body)
			if err != nil {
				t.Fatal(err)
			}

			if resp.StatusCode != tt.status {
				t.Errorf("status %d; want %d (body %s)", resp.StatusCode, tt.status, body)
			}
			if ct := resp.Header.Get("Content-Type"); ct != "application/x-amz-json-1.1" {
				t.Errorf("Content-Type %q; want application/x-amz-json-1.1", ct)
			}
			reqID := resp.Header.Get("x-amzn-RequestId")
			if !requestIDRe.MatchString(reqID) {
				t.Errorf("x-amzn-RequestId %q; want a UUID", reqID)
			}
			if got := *calls == 1; got != tt.handled {
				t.Errorf("operation ran %d times; want ran = %v", *calls, tt.handled)
			}
			if tt.noLeak != "" && strings.Contains(string(body)+fmt.Sprint(resp.Header), tt.noLeak) {
				t.Errorf("response leaks the internal error: %s", body)
			}

			if tt.code == "" {
				if string(body) != tt.response {
					t.Errorf("body %s; want %s", body, tt.response)
				}
				if et := resp.Header.Get("X-Amzn-ErrorType"); et != "" {
					t.Errorf("success carries X-Amzn-ErrorType %q", et)
				}
				return
			}
			var e map[string]string
			if err := json.Unmarshal(body, &e); err != nil {
				t.Fatalf("error body %q is not a JSON object of strings: %v", body, err)
			}
			if len(e) != 2 || e["__type"] != tt.code || !strings.Contains(e["message"], tt.message) {
				t.Errorf("error body %s; want {\"__type\":%q,\"message\":…%s…}", body, tt.code, tt.message)
			}
			if et := resp.Header.Get("X-Amzn-ErrorType"); et != tt.code {
				t.Errorf("X-Amzn-ErrorType %q; want %q", et, tt.code)
			}
			if tt.code == api.CodeInternal && tt.noLeak != "" {
				// The text is for the operator: logged, with the request id.
				if !strings.Contains(logs.String(), tt.noLeak) || !strings.Contains(logs.String(), reqID) {
					t.Errorf("log %q lacks the error or request id %s", logs.String(), reqID)
				}
				if !strings.Contains(e["message"], reqID) {
					t.Errorf("message %q does not give the request id %s", e["message"], reqID)
				}
			}
		})
	}
}

func TestMuxBodyLimit(t *testing.T) {
	// {"Name":"xxx…"} of exactly n bytes.
	bodyOf := func(n int) string { return `{"Name":"` + strings.Repeat("x", n-len(`{"Name":""}`)) + `"}` }
	tests := []struct {
		name   string
		size   int
		status int
		code   string
	}{
		{"at the limit", MaxBodySize, 200, ""},
		{"one byte over", MaxBodySize + 1, 413, api.CodeRequestEntityTooLarge},
		{"far over", 4 * MaxBodySize, 413, api.CodeRequestEntityTooLarge},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := &fakeAuth{}
			m, _, calls := newTestMux(a, nil)
			// In process: over a socket, the server may reset the
			// connection before the client has written all of a large body.
			req := httptest.NewRequestWithContext(t.Context(), http.MethodPost, "/", strings.NewReader(bodyOf(tt.size)))
			req.Header.Set("X-Amz-Target", "AmazonSSM.Echo")
			w := httptest.NewRecorder()
			m.ServeHTTP(w, req)
			resp := w.Result()
			body := w.Body.Bytes()
			if resp.StatusCode != tt.status {
				t.Fatalf("status %d; want %d", resp.StatusCode, tt.status)
			}
			if tt.code == "" {
				if *calls != 1 || len(a.body) != tt.size {
					t.Errorf("operation ran %d times with a %d-byte body; want once with %d", *calls, len(a.body), tt.size)
				}
				return
			}
			var e map[string]string
			if err := json.Unmarshal(body, &e); err != nil || e["__type"] != tt.code || resp.Header.Get("X-Amzn-ErrorType") != tt.code {
				t.Errorf("body %s, X-Amzn-ErrorType %q; want %s", body, resp.Header.Get("X-Amzn-ErrorType"), tt.code)
			}
			if a.calls != 0 || *calls != 0 {
				t.Errorf("an oversized request reached authentication (%d) or the operation (%d)", a.calls, *calls)
			}
		})
	}
}

func TestMuxObserver(t *testing.T) {
	a := &fakeAuth{}
	failure := api.Errorf(api.CodeValidation, "bad")
	m, _, _ := newTestMux(a, failure)
	type seen struct {
		op        string
		principal string
		err       error
		reqID     string
		body      string
	}
	var got []seen
	var ids []string
	m.Observe(func(ctx context.Context, c *Call) {
		s := seen{op: c.Op, err: c.Err, reqID: c.RequestID, body: string(c.Body)}
		if c.Principal != nil {
			s.principal = c.Principal.ARN
		}
		got = append(got, s)
	})
	for _, target := range []string{"AmazonSSM.Echo", "AmazonSSM.Fail", "AmazonSSM.Nope"} {
		req := httptest.NewRequestWithContext(t.Context(), http.MethodPost, "/", strings.NewReader("{}"))
		req.Header.Set("X-Amz-Target", target)
		w := httptest.NewRecorder()
		m.ServeHTTP(w, req)
		ids = append(ids, w.Header().Get("x-amzn-RequestId"))
	}
	const alice = "arn:aws:iam::000000000000:user/alice"
	if len(got) != 3 ||
		got[0] != (seen{"AmazonSSM.Echo", alice, nil, ids[0], "{}"}) ||
		got[1].op != "AmazonSSM.Fail" || got[1].err != failure || got[1].reqID != ids[1] ||
		got[2].op != "AmazonSSM.Nope" || got[2].principal != alice || got[2].err == nil {
		t.Errorf("observer saw %+v (request ids %v)", got, ids)
	}
}
