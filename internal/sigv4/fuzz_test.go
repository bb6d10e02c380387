package sigv4

import (
	"net/http"
	"net/url"
	"testing"
)

// FuzzParse feeds hostile Authorization headers, query strings and dates to
// Parse, and whatever parses to Verify. Neither may panic; Parse fails only
// with an *Error, and what it accepts is well formed. Seeds are in
// testdata/fuzz/FuzzParse.
func FuzzParse(f *testing.F) {
	f.Fuzz(func(t *testing.T, authorization, query, amzDate string) {
		req := &http.Request{
			Method:     "GET",
			URL:        &url.URL{Path: "/", RawQuery: query},
			RequestURI: "/?" + query,
			Host:       "example.com",
			Header:     http.Header{},
		}
		if authorization != "" {
			req.Header.Set("Authorization", authorization)
		}
		if amzDate != "" {
			req.Header.Set("X-Amz-Date", amzDate)
		}
		a, err := Parse(req)
		if err != nil {
			if _, ok := err.(*Error); !ok {
				t.Fatalf("Parse error %T %v, want *Error", err, err)
			}
			return
		}
		if len(a.Signature) != 32 || len(a.Date) != 8 || len(a.SignedHeaders) == 0 || a.AccessKeyID == "" {
			t.Fatalf("Parse accepted a malformed signature: %+v", a)
		}
		err = Verify(req, nil, a, "secret", VerifyOptions{Region: a.Region, Services: []string{a.Service}, Now: a.RequestTime})
		if _, ok := err.(*Error); err != nil && !ok {
			t.Fatalf("Verify error %T %v, want *Error", err, err)
		}
	})
}
