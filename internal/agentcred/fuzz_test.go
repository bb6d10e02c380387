package agentcred

import (
	"bytes"
	"crypto/ed25519"
	"encoding/base64"
	"errors"
	"net/http"
	"testing"
)

// FuzzParse feeds arbitrary Authorization and date headers to Parse, which
// reads them before anything is authenticated. It must not panic, must wrap
// every failure in ErrUnauthenticated, and what it accepts must be complete
// and survive a re-encoding. Seeds live in testdata/fuzz/FuzzParse.
func FuzzParse(f *testing.F) {
	sig := base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{0xa5}, ed25519.SignatureSize))
	f.Add(Scheme+" InstanceId=mi-0123456789abcdef0, Signature="+sig, "20260131T120000Z")
	f.Add(Scheme+" InstanceId=mi-0123456789abcdef0", "20260131T120000Z")
	f.Add("", "")
	f.Fuzz(func(t *testing.T, authz, date string) {
		req := &http.Request{Method: http.MethodPost, Header: http.Header{}}
		req.Header.Set("Authorization", authz)
		req.Header.Set(DateHeader, date)
		p, err := Parse(req)
		if err != nil {
			if !errors.Is(err, ErrUnauthenticated) {
				t.Fatalf("Parse error %v does not wrap ErrUnauthenticated", err)
			}
			return
		}
		if p.InstanceID == "" || p.Date == "" || p.Date != date || len(p.Signature) != ed25519.SignatureSize {
			t.Fatalf("Parse(%q, %q) accepted an incomplete %+v", authz, date, p)
		}
		again := &http.Request{Method: http.MethodPost, Header: http.Header{}}
		again.Header.Set("Authorization", Scheme+" InstanceId="+p.InstanceID+", Signature="+base64.StdEncoding.EncodeToString(p.Signature))
		again.Header.Set(DateHeader, p.Date)
		q, err := Parse(again)
		if err != nil || q.InstanceID != p.InstanceID || q.Date != p.Date || !bytes.Equal(q.Signature, p.Signature) {
			t.Fatalf("re-encoded %+v parses as %+v, %v", p, q, err)
		}
	})
}
