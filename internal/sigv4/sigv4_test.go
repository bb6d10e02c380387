package sigv4

import (
	"errors"
	"go/parser"
	"go/token"
	"net/http"
	"net/textproto"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// The AWS documentation's example key, used by the published test suite.
const (
	suiteAccessKey = "AKIDEXAMPLE"
	suiteSecret    = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
)

var suiteTime = time.Date(2015, 8, 30, 12, 36, 0, 0, time.UTC)

// readRawRequest turns a test-suite request into what net/http's server
// would hand a handler: Host in req.Host, canonical header keys, folded
// continuation lines, RequestURI byte for byte. The suite's request lines
// hold raw spaces and UTF-8 that http.ReadRequest refuses, hence this.
func readRawRequest(t *testing.T, raw string) (*http.Request, []byte) {
	t.Helper()
	head, body, _ := strings.Cut(raw, "\n\n")
	lines := strings.Split(head, "\n")
	method, rest, ok := strings.Cut(lines[0], " ")
	i := strings.LastIndexByte(rest, ' ')
	if !ok || i < 0 {
		t.Fatalf("bad request line %q", lines[0])
	}
	uri := rest[:i]
	path, query, _ := strings.Cut(uri, "?")
	req := &http.Request{
		Method:        method,
		RequestURI:    uri,
		URL:           &url.URL{Path: path, RawQuery: query},
		Proto:         "HTTP/1.1",
		ProtoMajor:    1,
		ProtoMinor:    1,
		Header:        make(http.Header),
		ContentLength: int64(len(body)),
	}
	var last string
	for _, line := range lines[1:] {
		if line == "" {
			continue
		}
		if line[0] == ' ' || line[0] == '\t' { // obs-fold, joined as net/textproto does
			vs := req.Header[last]
			vs[len(vs)-1] += " " + strings.TrimSpace(line)
			continue
		}
		name, value, ok := strings.Cut(line, ":")
		if !ok {
			t.Fatalf("bad header line %q", line)
		}
		last = textproto.CanonicalMIMEHeaderKey(name)
		req.Header.Add(last, strings.TrimSpace(value))
	}
	req.Host = req.Header.Get("Host")
	req.Header.Del("Host")
	return req, []byte(body)
}

func suiteOptions() VerifyOptions {
	return VerifyOptions{Region: "us-east-1", Services: []string{"service"}, Now: suiteTime}
}

func TestSuiteVectorsVerify(t *testing.T) {
	for _, v := range suiteVectors {
		for _, form := range []struct{ name, raw string }{{"header", v.header}, {"query", v.query}} {
			if form.raw == "" {
				continue
			}
			t.Run(v.name+"/"+form.name, func(t *testing.T) {
				req, body := readRawRequest(t, form.raw)
				a, err := Parse(req)
				if err != nil {
					t.Fatalf("Parse: %v", err)
				}
				if a.Presigned != (form.name == "query") || a.AccessKeyID != suiteAccessKey {
					t.Fatalf("Parse = %+v", a)
				}
				if err := Verify(req, body, a, suiteSecret, suiteOptions()); err != nil {
					t.Fatalf("Verify: %v", err)
				}
				// The same request under another method must not verify:
				// proves the vector is checked, not waved through.
				req.Method = "PATCH"
				if err := Verify(req, body, a, suiteSecret, suiteOptions()); !hasCode(err, CodeInvalidSignature) {
					t.Fatalf("Verify with another method = %v, want %s", err, CodeInvalidSignature)
				}
			})
		}
	}
}

// TestSuiteVectorsSign re-signs every suite request that Sign and Presign
// can express (no normalised or raw non-ASCII paths, the headers Sign picks)
// and expects the published signature.
func TestSuiteVectorsSign(t *testing.T) {
	var signed, presigned int
	for _, v := range suiteVectors {
		want, _ := readRawRequest(t, v.header)
		uri := want.RequestURI
		if strings.HasSuffix(v.name, "-normalized") || strings.ContainsFunc(uri, func(r rune) bool { return r == ' ' || r > 0x7f }) {
			continue
		}
		creds := Credentials{AccessKeyID: suiteAccessKey, SecretAccessKey: suiteSecret}
		wantAuth, err := Parse(want)
		if err != nil {
			t.Fatal(err)
		}

		if slices.Equal(wantAuth.SignedHeaders, signHeaderChoice(want.Header)) {
			t.Run(v.name+"/Sign", func(t *testing.T) {
				_, body := readRawRequest(t, v.header)
				req, err := http.NewRequest(want.Method, "https://"+want.Host+uri, nil)
				if err != nil {
					t.Fatal(err)
				}
				for k, vs := range want.Header {
					if k != "Authorization" && k != "X-Amz-Date" && k != "X-Amz-Security-Token" {
						req.Header[k] = vs
					}
				}
				c := creds
				c.SessionToken = want.Header.Get("X-Amz-Security-Token")
				if err := Sign(req, body, c, "us-east-1", "service", suiteTime); err != nil {
					t.Fatal(err)
				}
				if got, w := req.Header.Get("Authorization"), want.Header.Get("Authorization"); got != w {
					t.Errorf("Authorization\n got %s\nwant %s", got, w)
				}
			})
			signed++
		}

		if v.query == "" {
			continue
		}
		wantQ, body := readRawRequest(t, v.query)
		q := wantQ.URL.Query()
		if q.Get("X-Amz-SignedHeaders") != "host" || len(body) != 0 {
			continue
		}
		t.Run(v.name+"/Presign", func(t *testing.T) {
			c := creds
			c.SessionToken = q.Get("X-Amz-Security-Token")
			for k := range q {
				if strings.HasPrefix(k, "X-Amz-") {
					q.Del(k)
				}
			}
			u := &url.URL{Scheme: "https", Host: wantQ.Host, Path: wantQ.URL.Path, RawQuery: q.Encode()}
			got, err := Presign(wantQ.Method, u, c, "us-east-1", "service", suiteTime, time.Hour)
			if err != nil {
				t.Fatal(err)
			}
			if g, w := got.Query().Get("X-Amz-Signature"), wantQ.URL.Query().Get("X-Amz-Signature"); g != w {
				t.Errorf("X-Amz-Signature = %s, want %s", g, w)
			}
		})
		presigned++
	}
	// Guard against the filters above silently skipping everything.
	if signed < 15 || presigned < 15 {
		t.Errorf("compared %d Sign and %d Presign vectors, want at least 15 each", signed, presigned)
	}
}

// signHeaderChoice is the header list Sign would produce for h.
func signHeaderChoice(h http.Header) []string {
	names := []string{"host"}
	for k := range lowerHeaders(h) {
		if k == "content-type" || strings.HasPrefix(k, "x-amz-") {
			names = append(names, k)
		}
	}
	slices.Sort(names)
	return names
}

func TestSignErrors(t *testing.T) {
	good := Credentials{AccessKeyID: "AKID", SecretAccessKey: "secret"}
	for _, tc := range []struct {
		name            string
		url             string
		c               Credentials
		region, service string
	}{
		{"no host", "/path", good, "us-east-1", "ssm"},
		{"no key", "http://h/", Credentials{SecretAccessKey: "s"}, "us-east-1", "ssm"},
		{"no secret", "http://h/", Credentials{AccessKeyID: "AKID"}, "us-east-1", "ssm"},
		{"slash in key", "http://h/", Credentials{AccessKeyID: "A/B", SecretAccessKey: "s"}, "us-east-1", "ssm"},
		{"no region", "http://h/", good, "", "ssm"},
		{"no service", "http://h/", good, "us-east-1", ""},
		{"bad query", "http://h/?a=%zz", good, "us-east-1", "ssm"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req, err := http.NewRequest("GET", tc.url, nil)
			if err != nil {
				t.Fatal(err)
			}
			if err := Sign(req, nil, tc.c, tc.region, tc.service, suiteTime); err == nil {
				t.Error("Sign succeeded")
			}
		})
	}
	u, _ := url.Parse("wss://h/x")
	for _, exp := range []time.Duration{0, 999 * time.Millisecond, -time.Second, 7*24*time.Hour + time.Second} {
		if _, err := Presign("GET", u, good, "us-east-1", "ssm", suiteTime, exp); err == nil {
			t.Errorf("Presign with expiry %v succeeded", exp)
		}
	}
	if _, err := Presign("GET", &url.URL{Path: "/x"}, good, "us-east-1", "ssm", suiteTime, time.Minute); err == nil {
		t.Error("Presign without host succeeded")
	}
}

func TestSignSetsHost(t *testing.T) {
	for _, tc := range []struct{ url, host string }{
		{"https://ssm.example:443/", "ssm.example"},
		{"http://ssm.example:80/", "ssm.example"},
		{"http://ssm.example:8080/", "ssm.example:8080"},
		{"https://[::1]:443/", "[::1]"},
	} {
		req, _ := http.NewRequest("POST", tc.url, nil)
		if err := Sign(req, nil, Credentials{AccessKeyID: "A", SecretAccessKey: "s"}, "us-east-1", "ssm", suiteTime); err != nil {
			t.Fatal(err)
		}
		if req.Host != tc.host {
			t.Errorf("%s: Host = %q, want %q", tc.url, req.Host, tc.host)
		}
	}
}

func TestCanonicalPieces(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"", "/"},
		{"/", "/"},
		{"//", "/"},
		{"/./", "/"},
		{"/example/..", "/"},
		{"/a/b/../../..", "/"},
		{"//example//", "/example/"},
		{"/./example", "/example"},
		{"/a/./b/../c/", "/a/c/"},
	} {
		if got := normalizePath(tc.in); got != tc.want {
			t.Errorf("normalizePath(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
	for _, tc := range []struct{ in, want string }{
		{"a", "a"},
		{"  a   b  ", "a b"},
		{"\ta  b\t", "a b"},
		{"a\t\tb", "a\t\tb"}, // only spaces collapse, as in aws-sdk-go-v2
	} {
		if got := canonicalHeaderValue([]string{tc.in}); got != tc.want {
			t.Errorf("canonicalHeaderValue(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
	if got, want := canonicalURI("/a%20b/c~d:e", "ssm"), "/a%2520b/c~d%3Ae"; got != want {
		t.Errorf("canonicalURI ssm = %q, want %q", got, want)
	}
	if got, want := canonicalURI("/a%20b/c", "s3"), "/a%20b/c"; got != want {
		t.Errorf("canonicalURI s3 = %q, want %q", got, want)
	}
	// Sorting happens after encoding: "a-b" sorts after "a%2Fb".
	q := url.Values{"k": {"a/b", "a-b"}, "a b": {"+"}}
	if got, want := canonicalQuery(q, false), "a%20b=%2B&k=a%2Fb&k=a-b"; got != want {
		t.Errorf("canonicalQuery = %q, want %q", got, want)
	}
}

// TestStandardLibraryOnly keeps the package a leaf (STYLE.md "Layout").
func TestStandardLibraryOnly(t *testing.T) {
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	fset := token.NewFileSet()
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		src, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		f, err := parser.ParseFile(fset, name, src, parser.ImportsOnly)
		if err != nil {
			t.Fatal(err)
		}
		for _, imp := range f.Imports {
			path := strings.Trim(imp.Path.Value, `"`)
			first, _, _ := strings.Cut(path, "/")
			if strings.Contains(first, ".") {
				t.Errorf("%s imports %s: sigv4 must use the standard library only", name, path)
			}
		}
	}
}

func hasCode(err error, code string) bool {
	var e *Error
	return errors.As(err, &e) && e.Code == code
}
