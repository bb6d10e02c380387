package sigv4

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsv4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
)

// These tests send requests signed by aws-sdk-go-v2's signer and by this
// package over a real loopback HTTP connection, so the server sees them as
// net/http delivers them (Host and Content-Length handling, RequestURI).

const (
	testAccessKey = "AKIATETHERTEST000001"
	testSecret    = "tEsT/SeCrEt+kEy/for/tether/sigv4/0000000"
	testToken     = "FwoGZXIvYXdzEXAMPLE//token+with/odd=chars"
)

var testTime = time.Date(2026, 1, 1, 0, 10, 0, 0, time.UTC)

// verifyServer answers 204 when the request verifies and 400 with the error
// code and message as JSON otherwise, like the SSM API will.
func verifyServer(t *testing.T) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		a, err := Parse(r)
		if err == nil && a.AccessKeyID != testAccessKey {
			err = UnrecognizedClient()
		}
		if err == nil {
			err = Verify(r, body, a, testSecret, VerifyOptions{
				Region:   "us-east-1",
				Services: []string{"ssm", "ssmmessages"},
				Now:      testTime,
			})
		}
		if err == nil && a.SessionToken != "" && a.SessionToken != testToken {
			err = UnrecognizedClient()
		}
		if err != nil {
			e, ok := err.(*Error)
			if !ok {
				http.Error(w, err.Error(), http.StatusInternalServerError)
				return
			}
			w.WriteHeader(http.StatusBadRequest)
			json.NewEncoder(w).Encode(map[string]string{"__type": e.Code, "message": e.Message})
			return
		}
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(srv.Close)
	return srv
}

// send performs req and returns "" on success or the error code.
func send(t *testing.T, srv *httptest.Server, req *http.Request) string {
	t.Helper()
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode == http.StatusNoContent {
		return ""
	}
	var e struct {
		Type    string `json:"__type"`
		Message string `json:"message"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&e); err != nil {
		t.Fatalf("status %d: %v", resp.StatusCode, err)
	}
	t.Logf("rejected: %s: %s", e.Type, e.Message)
	return e.Type
}

type interopCase struct {
	name    string
	method  string
	path    string // path and query, as the client is given them
	body    string
	headers http.Header
	sha256  bool // set X-Amz-Content-Sha256 before signing
	token   bool
	service string
}

var interopCases = []interopCase{
	{name: "ssm StartSession", method: "POST", path: "/", body: `{"Target":"i-0123456789abcdef0"}`, headers: http.Header{
		"Content-Type": {"application/x-amz-json-1.1"},
		"X-Amz-Target": {"AmazonSSM.StartSession"},
	}},
	{name: "session token", method: "POST", path: "/", body: `{}`, token: true, headers: http.Header{
		"Content-Type": {"application/x-amz-json-1.1"},
		"X-Amz-Target": {"AmazonSSM.DescribeSessions"},
	}},
	{name: "content sha256 header", method: "POST", path: "/", body: `{"SessionId":"s-1"}`, sha256: true, headers: http.Header{
		"Content-Type": {"application/x-amz-json-1.1"},
		"X-Amz-Target": {"AmazonSSM.TerminateSession"},
	}},
	{name: "empty body", method: "POST", path: "/", headers: http.Header{"X-Amz-Target": {"AmazonSSM.X"}}},
	{name: "query string", method: "GET", path: "/v1/x?b=2&a=1&a=0&sp=a%20b&plus=1%2B2&pl=x+y&slash=a%2Fb&uni=%E1%88%B4&empty=&flag"},
	{name: "unsorted encoded query", method: "GET", path: "/?k=a-b&k=a%2Fb&K=z&%7E=~"},
	{name: "websocket path", method: "GET", path: "/v1/data-channel/sess-0123abc?role=publish_subscribe", service: "ssmmessages"},
	{name: "space and utf8 path", method: "GET", path: "/a%20b/%E1%88%B4/"},
	{name: "encoded slash", method: "GET", path: "/a%2Fb/c"},
	{name: "sub-delims path", method: "GET", path: "/~user/x:y@z!$&'()*+,;="},
	{name: "needlessly encoded path", method: "GET", path: "/%41%42c"},
	{name: "double slashes", method: "GET", path: "//double//slash/"},
	{name: "dot segments", method: "GET", path: "/dot/./seg/../x"},
	{name: "odd header values", method: "PUT", path: "/h", body: "x", headers: http.Header{
		"X-Amz-Meta-Spaces": {"  a   b    c  "},
		"X-Amz-Meta-Multi":  {"v1", "v2 ", " v3"},
		"X-Custom":          {"signed by the SDK, not by Sign"},
	}},
}

func (c interopCase) build(t *testing.T, srv *httptest.Server) (*http.Request, []byte) {
	t.Helper()
	body := []byte(c.body)
	req, err := http.NewRequest(c.method, srv.URL+c.path, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for k, vs := range c.headers {
		req.Header[k] = append([]string(nil), vs...)
	}
	if c.sha256 {
		req.Header.Set("X-Amz-Content-Sha256", hashHex(body))
	}
	return req, body
}

func (c interopCase) svc() string {
	if c.service == "" {
		return "ssm"
	}
	return c.service
}

func (c interopCase) awsCreds() aws.Credentials {
	cr := aws.Credentials{AccessKeyID: testAccessKey, SecretAccessKey: testSecret}
	if c.token {
		cr.SessionToken = testToken
	}
	return cr
}

func TestVerifyAcceptsSDKSignedRequests(t *testing.T) {
	srv := verifyServer(t)
	signer := awsv4.NewSigner()
	for _, c := range interopCases {
		t.Run(c.name, func(t *testing.T) {
			req, body := c.build(t, srv)
			if err := signer.SignHTTP(t.Context(), c.awsCreds(), req, hashHex(body), c.svc(), "us-east-1", testTime); err != nil {
				t.Fatal(err)
			}
			if code := send(t, srv, req); code != "" {
				t.Fatalf("SDK-signed request rejected: %s\nAuthorization: %s", code, req.Header.Get("Authorization"))
			}
		})
	}
}

func TestVerifyAcceptsOwnSignedRequests(t *testing.T) {
	srv := verifyServer(t)
	for _, c := range interopCases {
		t.Run(c.name, func(t *testing.T) {
			req, body := c.build(t, srv)
			cr := Credentials{AccessKeyID: testAccessKey, SecretAccessKey: testSecret}
			if c.token {
				cr.SessionToken = testToken
			}
			if err := Sign(req, body, cr, "us-east-1", c.svc(), testTime); err != nil {
				t.Fatal(err)
			}
			if code := send(t, srv, req); code != "" {
				t.Fatalf("Sign-signed request rejected: %s", code)
			}
		})
	}
}

// TestSignMatchesSDK: for requests without a body (the SDK also signs
// Content-Length when there is one, and every other header) Sign and the
// SDK must produce the identical Authorization header.
func TestSignMatchesSDK(t *testing.T) {
	for _, c := range interopCases {
		if c.body != "" || len(c.headers) > 0 {
			continue
		}
		t.Run(c.name, func(t *testing.T) {
			ours, _ := http.NewRequest(c.method, "https://ssm.us-east-1.amazonaws.com:443"+c.path, nil)
			theirs, _ := http.NewRequest(c.method, "https://ssm.us-east-1.amazonaws.com:443"+c.path, nil)
			cr := Credentials{AccessKeyID: testAccessKey, SecretAccessKey: testSecret}
			if c.token {
				cr.SessionToken = testToken
			}
			if err := Sign(ours, nil, cr, "us-east-1", c.svc(), testTime); err != nil {
				t.Fatal(err)
			}
			if err := awsv4.NewSigner().SignHTTP(t.Context(), c.awsCreds(), theirs, hashHex(nil), c.svc(), "us-east-1", testTime); err != nil {
				t.Fatal(err)
			}
			if g, w := ours.Header.Get("Authorization"), theirs.Header.Get("Authorization"); g != w {
				t.Errorf("Authorization\n got %s\nwant %s", g, w)
			}
			if ours.Host != theirs.Host {
				t.Errorf("Host = %q, SDK %q", ours.Host, theirs.Host)
			}
		})
	}
}

func TestVerifyAcceptsPresignedURLs(t *testing.T) {
	srv := verifyServer(t)
	for _, path := range []string{
		"/v1/data-channel/sess-0123abc?role=publish_subscribe",
		"/v1/control-channel/mi-0123?role=subscribe&stream=input",
		"/a%20b/%E1%88%B4",
	} {
		for _, token := range []bool{false, true} {
			name := path
			if token {
				name += " with token"
			}
			t.Run("SDK "+name, func(t *testing.T) {
				u, _ := url.Parse(srv.URL + path)
				q := u.Query()
				q.Set("X-Amz-Expires", strconv.Itoa(300))
				u.RawQuery = q.Encode()
				req, _ := http.NewRequest("GET", u.String(), nil)
				c := interopCase{token: token}
				signed, hdr, err := awsv4.NewSigner().PresignHTTP(t.Context(), c.awsCreds(), req, hashHex(nil), "ssmmessages", "us-east-1", testTime.Add(-4*time.Minute))
				if err != nil {
					t.Fatal(err)
				}
				get, _ := http.NewRequest("GET", signed, nil)
				for k, vs := range hdr {
					if k != "Host" {
						get.Header[k] = vs
					}
				}
				if code := send(t, srv, get); code != "" {
					t.Fatalf("SDK-presigned URL rejected: %s\n%s", code, signed)
				}
			})
			t.Run("Presign "+name, func(t *testing.T) {
				u, _ := url.Parse(srv.URL + path)
				cr := Credentials{AccessKeyID: testAccessKey, SecretAccessKey: testSecret}
				if token {
					cr.SessionToken = testToken
				}
				signed, err := Presign("GET", u, cr, "us-east-1", "ssmmessages", testTime.Add(-4*time.Minute), 5*time.Minute)
				if err != nil {
					t.Fatal(err)
				}
				get, _ := http.NewRequest("GET", signed.String(), nil)
				if code := send(t, srv, get); code != "" {
					t.Fatalf("Presign URL rejected: %s\n%s", code, signed)
				}
			})
		}
	}
}

// TestVerifyRejectsUnsignedPayload documents that a body signed as
// UNSIGNED-PAYLOAD is refused (see Verify).
func TestVerifyRejectsUnsignedPayload(t *testing.T) {
	srv := verifyServer(t)
	c := interopCases[0]
	req, _ := c.build(t, srv)
	req.Header.Set("X-Amz-Content-Sha256", unsignedPayload)
	if err := awsv4.NewSigner().SignHTTP(t.Context(), c.awsCreds(), req, unsignedPayload, "ssm", "us-east-1", testTime); err != nil {
		t.Fatal(err)
	}
	if code := send(t, srv, req); code != CodeInvalidSignature {
		t.Fatalf("code = %q, want %s", code, CodeInvalidSignature)
	}
}

func TestVerifyRejectsSDKRequestWithWrongSecret(t *testing.T) {
	srv := verifyServer(t)
	c := interopCases[0]
	req, body := c.build(t, srv)
	cr := c.awsCreds()
	cr.SecretAccessKey = "not-the-secret"
	if err := awsv4.NewSigner().SignHTTP(t.Context(), cr, req, hashHex(body), "ssm", "us-east-1", testTime); err != nil {
		t.Fatal(err)
	}
	if code := send(t, srv, req); code != CodeInvalidSignature {
		t.Fatalf("code = %q, want %s", code, CodeInvalidSignature)
	}
}
