package sigv4

import (
	"bytes"
	"encoding/hex"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"
)

const (
	testBody   = `{"Target":"i-0123456789abcdef0"}`
	wantExpiry = "Signature expired: "
)

// signedPost is an SSM API call signed at signAt, as a handler receives it.
// edit runs before signing.
func signedPost(t *testing.T, signAt time.Time, region, service string, edit func(*http.Request)) (*http.Request, []byte) {
	t.Helper()
	body := []byte(testBody)
	req := httptest.NewRequest("POST", "/", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/x-amz-json-1.1")
	req.Header.Set("X-Amz-Target", "AmazonSSM.StartSession")
	if edit != nil {
		edit(req)
	}
	c := Credentials{AccessKeyID: testAccessKey, SecretAccessKey: testSecret, SessionToken: testToken}
	if err := Sign(req, body, c, region, service, signAt); err != nil {
		t.Fatal(err)
	}
	return req, body
}

// presignedGet is a WebSocket upgrade to a URL presigned at signAt.
func presignedGet(t *testing.T, signAt time.Time, expires time.Duration) *http.Request {
	t.Helper()
	u, _ := url.Parse("wss://example.com/v1/data-channel/sess-1?role=publish_subscribe")
	c := Credentials{AccessKeyID: testAccessKey, SecretAccessKey: testSecret}
	p, err := Presign("GET", u, c, "us-east-1", "ssmmessages", signAt, expires)
	if err != nil {
		t.Fatal(err)
	}
	return httptest.NewRequest("GET", p.RequestURI(), nil)
}

func ok(t *testing.T) (*http.Request, []byte) {
	return signedPost(t, testTime, "us-east-1", "ssm", nil)
}

// withAuth replaces old by new in the Authorization header.
func withAuth(old, new string) func(t *testing.T) (*http.Request, []byte) {
	return func(t *testing.T) (*http.Request, []byte) {
		req, body := ok(t)
		a := req.Header.Get("Authorization")
		if !strings.Contains(a, old) {
			t.Fatalf("%q not in %q", old, a)
		}
		req.Header.Set("Authorization", strings.Replace(a, old, new, 1))
		return req, body
	}
}

// withQuery edits a presigned request's query.
func withQuery(edit func(q url.Values)) func(t *testing.T) (*http.Request, []byte) {
	return func(t *testing.T) (*http.Request, []byte) {
		req := presignedGet(t, testTime, 5*time.Minute)
		q := req.URL.Query()
		edit(q)
		return httptest.NewRequest("GET", "/v1/data-channel/sess-1?"+q.Encode(), nil), nil
	}
}

func sigOf(t *testing.T, req *http.Request) string {
	t.Helper()
	_, sig, _ := strings.Cut(req.Header.Get("Authorization"), "Signature=")
	return sig
}

func TestVerify(t *testing.T) {
	const mismatch = "The request signature we calculated does not match the signature you provided."
	at := func(d time.Duration) func(t *testing.T) (*http.Request, []byte) {
		return func(t *testing.T) (*http.Request, []byte) {
			return signedPost(t, testTime.Add(d), "us-east-1", "ssm", nil)
		}
	}
	tests := []struct {
		name   string
		build  func(t *testing.T) (*http.Request, []byte)
		secret string               // default testSecret
		opts   func(*VerifyOptions) // edits the default options
		code   string               // empty: must verify
		msg    string               // prefix of the message
		exact  bool                 // msg is the whole message
	}{
		{name: "valid", build: ok},
		{name: "unsigned header added", build: func(t *testing.T) (*http.Request, []byte) {
			req, body := ok(t)
			req.Header.Set("User-Agent", "changed in transit")
			req.Header.Set("X-Forwarded-For", "192.0.2.1")
			req.Header.Add("Accept-Encoding", "gzip")
			return req, body
		}},
		{name: "second service accepted", build: func(t *testing.T) (*http.Request, []byte) {
			return signedPost(t, testTime, "us-east-1", "ssmmessages", nil)
		}},
		{name: "content sha256 header matches", build: func(t *testing.T) (*http.Request, []byte) {
			return signedPost(t, testTime, "us-east-1", "ssm", func(r *http.Request) {
				r.Header.Set("X-Amz-Content-Sha256", hashHex([]byte(testBody)))
			})
		}},
		{name: "Date header instead of X-Amz-Date", build: func(t *testing.T) (*http.Request, []byte) {
			return signWithDateHeader(t, testTime)
		}},

		// Parse: nothing there.
		{name: "no authorization", build: func(t *testing.T) (*http.Request, []byte) {
			req, body := ok(t)
			req.Header.Del("Authorization")
			return req, body
		}, code: CodeMissingAuthenticationToken, msg: "Missing Authentication Token", exact: true},
		{name: "blank authorization", build: func(t *testing.T) (*http.Request, []byte) {
			req, body := ok(t)
			req.Header.Set("Authorization", " ")
			return req, body
		}, code: CodeMissingAuthenticationToken, msg: "Missing Authentication Token", exact: true},

		// Parse: malformed header.
		{name: "missing Signature", build: func(t *testing.T) (*http.Request, []byte) {
			req, body := ok(t)
			a := req.Header.Get("Authorization")
			req.Header.Set("Authorization", a[:strings.Index(a, ", Signature=")])
			return req, body
		}, code: CodeIncompleteSignature, msg: "Authorization header requires 'Signature' parameter. Authorization=AWS4-HMAC-SHA256 Credential=" + testAccessKey},
		{name: "missing Credential", build: withAuth("Credential=", "Kredential="),
			code: CodeIncompleteSignature, msg: "Authorization header has an unexpected element 'Kredential="},
		{name: "missing Credential and SignedHeaders", build: func(t *testing.T) (*http.Request, []byte) {
			req, body := ok(t)
			req.Header.Set("Authorization", "AWS4-HMAC-SHA256 Signature="+sigOf(t, req))
			return req, body
		}, code: CodeIncompleteSignature, msg: "Authorization header requires 'Credential' parameter. Authorization header requires 'SignedHeaders' parameter. Authorization="},
		{name: "empty SignedHeaders", build: withAuth("SignedHeaders=content-type;host;x-amz-date;x-amz-security-token;x-amz-target", "SignedHeaders="),
			code: CodeIncompleteSignature, msg: "Authorization header requires 'SignedHeaders' parameter. Authorization="},
		{name: "empty name in SignedHeaders", build: withAuth("SignedHeaders=content-type;", "SignedHeaders=content-type;;"),
			code: CodeIncompleteSignature, msg: "SignedHeaders must be a ';'-separated list of header names, got 'content-type;;host;"},
		{name: "duplicate parameter", build: withAuth(", Signature=", ", Signature=00, Signature="),
			code: CodeIncompleteSignature, msg: "Authorization header has more than one 'Signature' parameter."},
		{name: "no date header", build: func(t *testing.T) (*http.Request, []byte) {
			req, body := ok(t)
			req.Header.Del("X-Amz-Date")
			return req, body
		}, code: CodeIncompleteSignature, msg: "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header. Authorization="},
		{name: "unknown algorithm", build: withAuth("AWS4-HMAC-SHA256", "AWS4-HMAC-SHA512"),
			code: CodeIncompleteSignature, msg: "Unsupported AWS 'algorithm': 'AWS4-HMAC-SHA512'. Authorization="},
		{name: "SigV2 header", build: func(t *testing.T) (*http.Request, []byte) {
			req, body := ok(t)
			req.Header.Set("Authorization", "AWS "+testAccessKey+":frJIUN8DYpKDtOLCwo//yllqDzg=")
			return req, body
		}, code: CodeIncompleteSignature, msg: "Unsupported AWS 'algorithm': 'AWS'."},
		{name: "signature not hex", build: func(t *testing.T) (*http.Request, []byte) {
			req, _ := ok(t)
			return withAuth(sigOf(t, req), strings.Repeat("zz", 32))(t)
		}, code: CodeIncompleteSignature, msg: "Signature must be 64 hexadecimal characters, got 'zzzz"},
		{name: "signature too short", build: func(t *testing.T) (*http.Request, []byte) {
			req, _ := ok(t)
			return withAuth(sigOf(t, req), "abcd")(t)
		}, code: CodeIncompleteSignature, msg: "Signature must be 64 hexadecimal characters, got 4."},
		{name: "credential with 4 elements", build: withAuth("/us-east-1/ssm/", "/us-east-1/"),
			code: CodeIncompleteSignature, msg: "Credential must have exactly 5 slash-delimited elements, e.g. keyid/date/region/service/term, got '" + testAccessKey + "/20260101/us-east-1/aws4_request'", exact: true},
		{name: "credential without key", build: withAuth("Credential="+testAccessKey, "Credential="),
			code: CodeIncompleteSignature, msg: "Credential must have exactly 5 slash-delimited elements"},
		{name: "bad terminator", build: withAuth("aws4_request", "aws4_reqest"),
			code: CodeIncompleteSignature, msg: "Credential should be scoped with a valid terminator: 'aws4_request', not 'aws4_reqest'. ", exact: true},
		{name: "bad credential date", build: withAuth("/20260101/", "/2026011/"),
			code: CodeIncompleteSignature, msg: "Invalid credential date. Date is not the required format: yyyyMMdd. date=2026011", exact: true},
		{name: "malformed X-Amz-Date", build: func(t *testing.T) (*http.Request, []byte) {
			req, body := ok(t)
			req.Header.Set("X-Amz-Date", "2026-01-01T00:10:00Z")
			return req, body
		}, code: CodeIncompleteSignature, msg: "Date must be in ISO-8601 'basic format'. Got '2026-01-01T00:10:00Z'."},
		{name: "two Authorization headers", build: func(t *testing.T) (*http.Request, []byte) {
			req, body := ok(t)
			req.Header.Add("Authorization", req.Header.Get("Authorization"))
			return req, body
		}, code: CodeIncompleteSignature, msg: "Authorization header must appear only once."},
		{name: "header and presigned query", build: func(t *testing.T) (*http.Request, []byte) {
			req, body := ok(t)
			req.URL.RawQuery = "X-Amz-Signature=" + sigOf(t, req)
			return req, body
		}, code: CodeIncompleteSignature, msg: "Only one auth mechanism allowed;"},

		// Verify: scope.
		{name: "wrong region", build: func(t *testing.T) (*http.Request, []byte) {
			return signedPost(t, testTime, "us-west-2", "ssm", nil)
		}, code: CodeInvalidSignature, msg: "Credential should be scoped to a valid region. ", exact: true},
		{name: "wrong service", build: func(t *testing.T) (*http.Request, []byte) {
			return signedPost(t, testTime, "us-east-1", "ec2", nil)
		}, code: CodeInvalidSignature, msg: "Credential should be scoped to correct service: 'ssm'. ", exact: true},
		{name: "scope date not X-Amz-Date's", build: func(t *testing.T) (*http.Request, []byte) {
			req, body := ok(t)
			req.Header.Set("X-Amz-Date", "20251231T235900Z")
			return req, body
		}, code: CodeInvalidSignature, exact: true,
			msg: "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: '20260101' != '20251231', from '20251231T235900Z'."},
		{name: "host not signed", build: withAuth("SignedHeaders=content-type;host;", "SignedHeaders=content-type;"),
			code: CodeInvalidSignature, msg: "'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization.", exact: true},
		{name: "x-amz-date not signed", build: withAuth(";x-amz-date;", ";"),
			code: CodeInvalidSignature, msg: "'X-Amz-Date' must be a 'SignedHeader' in the AWS Authorization.", exact: true},

		// Verify: clock.
		{name: "stale by exactly 5 min", build: at(-5 * time.Minute)},
		{name: "stale by 5 min 1 s", build: at(-5*time.Minute - time.Second), code: CodeInvalidSignature, exact: true,
			msg: "Signature expired: 20260101T000459Z is now earlier than 20260101T000500Z (20260101T001000Z - 5 min.)"},
		{name: "future by exactly 5 min", build: at(5 * time.Minute)},
		{name: "future by 5 min 1 s", build: at(5*time.Minute + time.Second), code: CodeInvalidSignature, exact: true,
			msg: "Signature not yet current: 20260101T001501Z is still later than 20260101T001500Z (20260101T001000Z + 5 min.)"},
		{name: "custom skew", build: at(-61 * time.Second), opts: func(o *VerifyOptions) { o.MaxSkew = time.Minute },
			code: CodeInvalidSignature, msg: "Signature expired: 20260101T000859Z is now earlier than 20260101T000900Z (20260101T001000Z - 1 min.)", exact: true},

		// Verify: signature.
		{name: "tampered body", build: func(t *testing.T) (*http.Request, []byte) {
			req, _ := ok(t)
			return req, []byte(`{"Target":"i-ffffffffffffffff0"}`)
		}, code: CodeInvalidSignature, msg: mismatch},
		{name: "tampered body with content sha256", build: func(t *testing.T) (*http.Request, []byte) {
			req, _ := signedPost(t, testTime, "us-east-1", "ssm", func(r *http.Request) {
				r.Header.Set("X-Amz-Content-Sha256", hashHex([]byte(testBody)))
			})
			return req, []byte(`{}`)
		}, code: CodeInvalidSignature, msg: "The provided 'x-amz-content-sha256' header does not match what was computed.", exact: true},
		{name: "tampered signed header", build: func(t *testing.T) (*http.Request, []byte) {
			req, body := ok(t)
			req.Header.Set("X-Amz-Target", "AmazonSSM.TerminateSession")
			return req, body
		}, code: CodeInvalidSignature, msg: mismatch},
		{name: "signed header repeated", build: func(t *testing.T) (*http.Request, []byte) {
			req, body := ok(t)
			req.Header.Add("X-Amz-Target", "AmazonSSM.TerminateSession")
			return req, body
		}, code: CodeInvalidSignature, msg: mismatch},
		{name: "tampered session token", build: func(t *testing.T) (*http.Request, []byte) {
			req, body := ok(t)
			req.Header.Set("X-Amz-Security-Token", "other")
			return req, body
		}, code: CodeInvalidSignature, msg: mismatch},
		{name: "tampered host", build: func(t *testing.T) (*http.Request, []byte) {
			req, body := ok(t)
			req.Host = "evil.example"
			return req, body
		}, code: CodeInvalidSignature, msg: mismatch},
		{name: "tampered path", build: func(t *testing.T) (*http.Request, []byte) {
			req, body := ok(t)
			req.RequestURI, req.URL.Path = "/other", "/other"
			return req, body
		}, code: CodeInvalidSignature, msg: mismatch},
		{name: "tampered query", build: func(t *testing.T) (*http.Request, []byte) {
			req, body := ok(t)
			req.RequestURI, req.URL.RawQuery = "/?a=1", "a=1"
			return req, body
		}, code: CodeInvalidSignature, msg: mismatch},
		{name: "tampered method", build: func(t *testing.T) (*http.Request, []byte) {
			req, body := ok(t)
			req.Method = "PUT"
			return req, body
		}, code: CodeInvalidSignature, msg: mismatch},
		{name: "wrong secret", build: ok, secret: "wrong" + testSecret, code: CodeInvalidSignature, msg: mismatch},

		// Presigned.
		{name: "presigned", build: func(t *testing.T) (*http.Request, []byte) {
			return presignedGet(t, testTime.Add(-time.Minute), 5*time.Minute), nil
		}},
		{name: "presigned at expiry", build: func(t *testing.T) (*http.Request, []byte) {
			return presignedGet(t, testTime.Add(-time.Hour), time.Hour), nil
		}},
		{name: "presigned with unsigned header", build: func(t *testing.T) (*http.Request, []byte) {
			req := presignedGet(t, testTime, time.Minute)
			req.Header.Set("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ==")
			return req, nil
		}},
		{name: "presigned expired", build: func(t *testing.T) (*http.Request, []byte) {
			return presignedGet(t, testTime.Add(-time.Hour-time.Second), time.Hour), nil
		}, code: CodeInvalidSignature, exact: true,
			msg: "Signature expired: 20251231T230959Z is now earlier than 20251231T231000Z (20260101T001000Z - 60 min.)"},
		{name: "presigned in the future", build: func(t *testing.T) (*http.Request, []byte) {
			return presignedGet(t, testTime.Add(5*time.Minute+time.Second), time.Hour), nil
		}, code: CodeInvalidSignature, msg: "Signature not yet current: 20260101T001501Z is still later than"},
		{name: "presigned longer than 7 days", build: withQuery(func(q url.Values) { q.Set("X-Amz-Expires", "604801") }),
			code: CodeInvalidSignature, msg: "X-Amz-Expires must be less than a week (in seconds) that is 604800", exact: true},
		{name: "presigned expires not a number", build: withQuery(func(q url.Values) { q.Set("X-Amz-Expires", "-1") }),
			code: CodeIncompleteSignature, msg: "X-Amz-Expires should be a number of seconds. Got '-1'."},
		{name: "presigned without expires", build: withQuery(func(q url.Values) { q.Del("X-Amz-Expires") }),
			code: CodeIncompleteSignature, msg: "AWS query-string parameters must include 'X-Amz-Expires'. Re-examine the query-string parameters.", exact: true},
		{name: "presigned with only a signature", build: withQuery(func(q url.Values) {
			for k := range q {
				if k != "X-Amz-Signature" {
					q.Del(k)
				}
			}
		}), code: CodeIncompleteSignature, exact: true,
			msg: "AWS query-string parameters must include 'X-Amz-Algorithm', 'X-Amz-Credential', 'X-Amz-Date', 'X-Amz-SignedHeaders', 'X-Amz-Expires'. Re-examine the query-string parameters."},
		{name: "presigned duplicate signature", build: withQuery(func(q url.Values) { q.Add("X-Amz-Signature", strings.Repeat("0", 64)) }),
			code: CodeIncompleteSignature, msg: "AWS query-string parameter 'X-Amz-Signature' must appear only once."},
		{name: "presigned unknown algorithm", build: withQuery(func(q url.Values) { q.Set("X-Amz-Algorithm", "AWS4-ECDSA-P256-SHA256") }),
			code: CodeIncompleteSignature, msg: "Unsupported AWS 'algorithm': 'AWS4-ECDSA-P256-SHA256'."},
		{name: "presigned tampered query", build: withQuery(func(q url.Values) { q.Set("role", "subscribe") }),
			code: CodeInvalidSignature, msg: mismatch},
		{name: "presigned extra query parameter", build: withQuery(func(q url.Values) { q.Set("extra", "1") }),
			code: CodeInvalidSignature, msg: mismatch},
		{name: "presigned tampered expiry", build: withQuery(func(q url.Values) { q.Set("X-Amz-Expires", "3600") }),
			code: CodeInvalidSignature, msg: mismatch},
		{name: "presigned tampered path", build: func(t *testing.T) (*http.Request, []byte) {
			req := presignedGet(t, testTime, time.Minute)
			return httptest.NewRequest("GET", "/v1/data-channel/sess-2?"+req.URL.RawQuery, nil), nil
		}, code: CodeInvalidSignature, msg: mismatch},
		{name: "presigned wrong secret", build: func(t *testing.T) (*http.Request, []byte) {
			return presignedGet(t, testTime, time.Minute), nil
		}, secret: "wrong-secret", code: CodeInvalidSignature, msg: mismatch},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			req, body := tc.build(t)
			secret := tc.secret
			if secret == "" {
				secret = testSecret
			}
			o := VerifyOptions{Region: "us-east-1", Services: []string{"ssm", "ssmmessages"}, Now: testTime}
			if tc.opts != nil {
				tc.opts(&o)
			}
			a, err := Parse(req)
			if err == nil {
				err = Verify(req, body, a, secret, o)
			}
			if tc.code == "" {
				if err != nil {
					t.Fatalf("rejected: %v", err)
				}
				return
			}
			e, isErr := err.(*Error)
			if !isErr {
				t.Fatalf("err = %#v, want *Error with code %s", err, tc.code)
			}
			if e.Code != tc.code {
				t.Errorf("Code = %s, want %s (message %q)", e.Code, tc.code, e.Message)
			}
			if tc.exact && e.Message != tc.msg || !strings.HasPrefix(e.Message, tc.msg) {
				t.Errorf("Message = %q\n    want %q (exact: %v)", e.Message, tc.msg, tc.exact)
			}
			for _, leak := range []string{testSecret, secret, "AWS4-HMAC-SHA256\n"} {
				if strings.Contains(err.Error(), leak) {
					t.Errorf("error %q leaks %q", err, leak)
				}
			}
		})
	}
}

// signWithDateHeader signs the way some clients do without X-Amz-Date: the
// request time comes from the Date header, which is then signed.
func signWithDateHeader(t *testing.T, at time.Time) (*http.Request, []byte) {
	t.Helper()
	body := []byte(testBody)
	req := httptest.NewRequest("POST", "/", bytes.NewReader(body))
	req.Header.Set("Date", at.Format(http.TimeFormat))
	req.Header.Set("Content-Type", "application/x-amz-json-1.1")
	date := at.Format(scopeDateLayout)
	in := signingInput{
		method:      "POST",
		uri:         "/",
		headers:     []string{"content-type", "date", "host"},
		values:      requestHeaderValues(req, []string{"content-type", "date", "host"}),
		payloadHash: hashHex(body),
	}
	sig := signature(testSecret, date, "us-east-1", "ssm", at.Format(amzDateLayout), in.canonicalRequest())
	req.Header.Set("Authorization", "AWS4-HMAC-SHA256 Credential="+testAccessKey+"/"+scope(date, "us-east-1", "ssm")+
		",SignedHeaders=content-type;date;host,Signature="+hex.EncodeToString(sig))
	return req, body
}

// TestMismatchHidesExpectedSignature: the signature the server computed
// must not reach the client, or a tampered request could be fixed up.
func TestMismatchHidesExpectedSignature(t *testing.T) {
	req, _ := ok(t)
	tampered := []byte(`{"Target":"i-ffffffffffffffff0"}`)
	a, err := Parse(req)
	if err != nil {
		t.Fatal(err)
	}
	err = Verify(req, tampered, a, testSecret, VerifyOptions{Region: "us-east-1", Services: []string{"ssm"}, Now: testTime})
	if !hasCode(err, CodeInvalidSignature) {
		t.Fatalf("err = %v", err)
	}
	// What the server computed is what Sign produces over the tampered body.
	resigned, _ := signedPost(t, testTime, "us-east-1", "ssm", nil)
	resigned.Header.Del("Authorization")
	if err := Sign(resigned, tampered, Credentials{AccessKeyID: testAccessKey, SecretAccessKey: testSecret, SessionToken: testToken}, "us-east-1", "ssm", testTime); err != nil {
		t.Fatal(err)
	}
	expected := sigOf(t, resigned)
	if strings.Contains(err.Error(), expected) {
		t.Errorf("error %q contains the expected signature", err)
	}
}

func TestUnrecognizedClient(t *testing.T) {
	e := UnrecognizedClient()
	if e.Code != "UnrecognizedClientException" || e.Message != "The security token included in the request is invalid." {
		t.Errorf("UnrecognizedClient() = %+v", e)
	}
	if e == UnrecognizedClient() {
		t.Error("UnrecognizedClient returns a shared value callers could mutate")
	}
}

func TestVerifyOptionsRequired(t *testing.T) {
	req, body := ok(t)
	a, _ := Parse(req)
	for _, o := range []VerifyOptions{{Services: []string{"ssm"}}, {Region: "us-east-1"}} {
		err := Verify(req, body, a, testSecret, o)
		if err == nil {
			t.Fatalf("Verify(%+v) succeeded", o)
		}
		if _, isErr := err.(*Error); isErr {
			t.Errorf("misconfiguration reported as a client error: %v", err)
		}
	}
}

func TestVerifyDefaultsToNow(t *testing.T) {
	req, body := signedPost(t, time.Now(), "us-east-1", "ssm", nil)
	a, err := Parse(req)
	if err != nil {
		t.Fatal(err)
	}
	if err := Verify(req, body, a, testSecret, VerifyOptions{Region: "us-east-1", Services: []string{"ssm"}}); err != nil {
		t.Fatal(err)
	}
}

func TestParseFields(t *testing.T) {
	req, _ := ok(t)
	a, err := Parse(req)
	if err != nil {
		t.Fatal(err)
	}
	want := Authorization{
		AccessKeyID:   testAccessKey,
		Date:          "20260101",
		Region:        "us-east-1",
		Service:       "ssm",
		SignedHeaders: []string{"content-type", "host", "x-amz-date", "x-amz-security-token", "x-amz-target"},
		RequestTime:   testTime,
		SessionToken:  testToken,
	}
	if a.AccessKeyID != want.AccessKeyID || a.Date != want.Date || a.Region != want.Region || a.Service != want.Service ||
		strings.Join(a.SignedHeaders, ";") != strings.Join(want.SignedHeaders, ";") || !a.RequestTime.Equal(want.RequestTime) ||
		a.SessionToken != want.SessionToken || a.Presigned || len(a.Signature) != 32 {
		t.Errorf("Parse = %+v\nwant   %+v", a, want)
	}

	p, err := Parse(presignedGet(t, testTime, 90*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	if !p.Presigned || p.Expires != 90*time.Second || p.Service != "ssmmessages" || strings.Join(p.SignedHeaders, ";") != "host" {
		t.Errorf("Parse presigned = %+v", p)
	}
}
