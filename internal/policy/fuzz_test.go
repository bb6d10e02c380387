package policy

import (
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// FuzzPolicy checks that Parse never panics on arbitrary bytes, that its
// errors are positioned *ParseErrors, and that Evaluate never panics on
// whatever parses. Seeds live in testdata/fuzz/FuzzPolicy.
func FuzzPolicy(f *testing.F) {
	f.Add([]byte(seedPolicy))
	requests := []Request{
		{Action: "ssm:StartSession", Resource: "arn:aws:ssm:us-east-1:123456789012:managed-instance/mi-0123456789abcdef0",
			Context: ctx("aws:username=alice", "ssm:resourceTag/Environment=Development", "aws:SourceIp=192.0.2.1",
				"aws:CurrentTime=2026-01-31T12:00:00Z", "aws:TagKeys=a", "aws:TagKeys=b")},
		{Action: "ssm:TerminateSession", Resource: "arn:aws:ssm:us-east-1:123456789012:session/alice-0123456789abcdef0",
			Context: ctx("AWS:UserName=alice", "aws:SourceIp=2001:db8::1", "s3:max-keys=10", "aws:SecureTransport=true")},
		{Action: "", Resource: "", Context: nil},
		{Action: "*", Resource: "*", Context: map[string][]string{"aws:username": {}, "": {""}}},
		{Action: "iam:Get?", Resource: "arn:*:*:*:*:*", Context: ctx("aws:PrincipalTag/team=*", "custom:k=${*}")},
	}
	f.Fuzz(func(t *testing.T, doc []byte) {
		d, err := Parse(doc)
		if err != nil {
			var pe *ParseError
			if !errors.As(err, &pe) {
				t.Fatalf("error %v is %T, want *ParseError", err, err)
			}
			if pe.Line < 1 || pe.Column < 1 || pe.Offset < 0 || pe.Offset > len(doc) || pe.Msg == "" {
				t.Fatalf("bad position or message in %#v", pe)
			}
			return
		}
		if len(d.Statements) == 0 {
			t.Fatal("parsed a document with no statements")
		}
		ps := []NamedPolicy{{Name: "fuzz", Doc: d}, {Name: "seed", Doc: nil}}
		for _, r := range requests {
			res := Evaluate(ps, r)
			if res.Decision == ImplicitDeny && res != (Result{}) {
				t.Fatalf("implicit deny with details: %+v", res)
			}
			if res.Decision != ImplicitDeny && (res.Policy != "fuzz" || res.Statement >= len(d.Statements)) {
				t.Fatalf("result names no statement: %+v", res)
			}
		}
	})
}

// TestFuzzCorpus keeps the seed corpus honest: files named valid-* must
// parse and files named broken-* must not.
func TestFuzzCorpus(t *testing.T) {
	dir := filepath.Join("testdata", "fuzz", "FuzzPolicy")
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		t.Run(e.Name(), func(t *testing.T) {
			raw, err := os.ReadFile(filepath.Join(dir, e.Name()))
			if err != nil {
				t.Fatal(err)
			}
			body, ok := strings.CutPrefix(string(raw), "go test fuzz v1\n[]byte(")
			body, ok2 := strings.CutSuffix(strings.TrimSpace(body), ")")
			if !ok || !ok2 {
				t.Fatalf("not a corpus file: %q", raw)
			}
			doc, err := strconv.Unquote(body)
			if err != nil {
				t.Fatal(err)
			}
			_, err = Parse([]byte(doc))
			switch {
			case strings.HasPrefix(e.Name(), "valid-") && err != nil:
				t.Errorf("valid seed does not parse: %v", err)
			case strings.HasPrefix(e.Name(), "broken-") && err == nil:
				t.Error("broken seed parses")
			}
		})
	}
}
