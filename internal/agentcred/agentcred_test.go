package agentcred

import (
	"bytes"
	"crypto/ed25519"
	"encoding/base64"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

const testInstance = "mi-0123456789abcdef0"

var signTime = time.Date(2026, 1, 31, 12, 0, 0, 0, time.UTC)

func newKey(t testing.TB) (ed25519.PublicKey, ed25519.PrivateKey) {
	t.Helper()
	pub, priv, err := GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	return pub, priv
}

func TestSaveLoad(t *testing.T) {
	_, priv := newKey(t)
	dir := filepath.Join(t.TempDir(), "state")
	want := Identity{InstanceID: testInstance, Endpoint: "https://tether.example.com", Region: "eu-west-1", PrivateKey: priv}
	if err := Save(dir, want); err != nil {
		t.Fatal(err)
	}
	got, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	if got.InstanceID != want.InstanceID || got.Endpoint != want.Endpoint || got.Region != want.Region || !got.PrivateKey.Equal(want.PrivateKey) {
		t.Errorf("Load = %+v; want %+v", got, want)
	}

	modes := map[string]os.FileMode{dir: 0o700 | os.ModeDir, filepath.Join(dir, FileName): 0o600}
	for p, m := range modes {
		st, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		if st.Mode() != m {
			t.Errorf("%s has mode %v; want %v", p, st.Mode(), m)
		}
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 1 {
		t.Errorf("state dir holds %d entries; want only %s", len(entries), FileName)
	}

	// Saving again replaces the identity.
	_, priv2 := newKey(t)
	want.PrivateKey = priv2
	if err := Save(dir, want); err != nil {
		t.Fatal(err)
	}
	if got, err := Load(dir); err != nil || !got.PrivateKey.Equal(priv2) {
		t.Errorf("after a second Save, Load = %v, %v; want the new key", got.InstanceID, err)
	}
}

func TestLoadRefuses(t *testing.T) {
	_, priv := newKey(t)
	good := Identity{InstanceID: testInstance, Endpoint: "https://tether.example.com", PrivateKey: priv}
	tests := []struct {
		name    string
		prepare func(t *testing.T, dir string)
		wantErr []string
	}{
		{name: "no file", prepare: func(t *testing.T, dir string) {}, wantErr: []string{"tether-agent register"}},
		{name: "readable by others", prepare: func(t *testing.T, dir string) {
			saveOrFail(t, dir, good)
			chmodOrFail(t, filepath.Join(dir, FileName), 0o644)
		}, wantErr: []string{"0600", "chmod 600 " + filepath.Join("DIR", FileName)}},
		{name: "writable by group", prepare: func(t *testing.T, dir string) {
			saveOrFail(t, dir, good)
			chmodOrFail(t, filepath.Join(dir, FileName), 0o620)
		}, wantErr: []string{"chmod 600"}},
		{name: "not JSON", prepare: func(t *testing.T, dir string) {
			writeOrFail(t, filepath.Join(dir, FileName), "{")
		}, wantErr: []string{"parse identity"}},
		{name: "short key", prepare: func(t *testing.T, dir string) {
			writeOrFail(t, filepath.Join(dir, FileName), `{"InstanceId":"mi-0123456789abcdef0","Endpoint":"https://x","PrivateKey":"AAAA"}`)
		}, wantErr: []string{"incomplete", "register again"}},
		{name: "no instance id", prepare: func(t *testing.T, dir string) {
			saveOrFail(t, dir, Identity{Endpoint: good.Endpoint, PrivateKey: priv})
		}, wantErr: []string{"incomplete"}},
		{name: "no endpoint", prepare: func(t *testing.T, dir string) {
			saveOrFail(t, dir, Identity{InstanceID: testInstance, PrivateKey: priv})
		}, wantErr: []string{"incomplete"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			tt.prepare(t, dir)
			_, err := Load(dir)
			if err == nil {
				t.Fatal("Load accepted it")
			}
			for _, s := range tt.wantErr {
				s = strings.ReplaceAll(s, "DIR", dir)
				if !strings.Contains(err.Error(), s) {
					t.Errorf("error %q does not say %q", err, s)
				}
			}
		})
	}
}

func saveOrFail(t *testing.T, dir string, id Identity) {
	t.Helper()
	if err := Save(dir, id); err != nil {
		t.Fatal(err)
	}
}

func chmodOrFail(t *testing.T, path string, m os.FileMode) {
	t.Helper()
	if err := os.Chmod(path, m); err != nil {
		t.Fatal(err)
	}
}

func writeOrFail(t *testing.T, path, s string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(s), 0o600); err != nil {
		t.Fatal(err)
	}
}

// signed returns a POST to path carrying body, signed at signTime.
func signed(t testing.TB, priv ed25519.PrivateKey, method, path string, body []byte) *http.Request {
	t.Helper()
	req, err := http.NewRequest(method, "https://tether.example.com"+path, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	Sign(req, body, testInstance, priv, signTime)
	return req
}

func TestSignParseVerify(t *testing.T) {
	pub, priv := newKey(t)
	body := []byte(`{"AgentVersion":"3.3.0.0"}`)
	req := signed(t, priv, http.MethodPost, "/agent/v1/instances/"+testInstance+"/control-token", body)
	p, err := Parse(req)
	if err != nil {
		t.Fatal(err)
	}
	if p.InstanceID != testInstance || p.Date != "20260131T120000Z" || len(p.Signature) != ed25519.SignatureSize {
		t.Errorf("Parse = %+v", p)
	}
	if err := NewVerifier().Verify(req, body, p, pub, signTime.Add(time.Second)); err != nil {
		t.Errorf("Verify: %v", err)
	}
}

func TestVerifyRejects(t *testing.T) {
	pub, priv := newKey(t)
	otherPub, _ := newKey(t)
	const path = "/agent/v1/instances/" + testInstance + "/control-token"
	body := []byte(`{"a":1}`)
	tests := []struct {
		name string
		// change returns the request as the server sees it, its body,
		// the key it checks with and its clock.
		change  func(req *http.Request) (*http.Request, []byte, ed25519.PublicKey, time.Time)
		wantErr string
	}{
		{name: "tampered body", change: func(req *http.Request) (*http.Request, []byte, ed25519.PublicKey, time.Time) {
			return req, []byte(`{"a":2}`), pub, signTime
		}, wantErr: "does not verify"},
		{name: "empty body", change: func(req *http.Request) (*http.Request, []byte, ed25519.PublicKey, time.Time) {
			return req, nil, pub, signTime
		}, wantErr: "does not verify"},
		{name: "another path", change: func(req *http.Request) (*http.Request, []byte, ed25519.PublicKey, time.Time) {
			req.URL.Path = "/agent/v1/instances/mi-00000000000000000/control-token"
			return req, body, pub, signTime
		}, wantErr: "does not verify"},
		{name: "another method", change: func(req *http.Request) (*http.Request, []byte, ed25519.PublicKey, time.Time) {
			req.Method = http.MethodPut
			return req, body, pub, signTime
		}, wantErr: "does not verify"},
		{name: "another key", change: func(req *http.Request) (*http.Request, []byte, ed25519.PublicKey, time.Time) {
			return req, body, otherPub, signTime
		}, wantErr: "does not verify"},
		{name: "truncated key", change: func(req *http.Request) (*http.Request, []byte, ed25519.PublicKey, time.Time) {
			return req, body, pub[:16], signTime
		}, wantErr: "does not verify"},
		{name: "no key", change: func(req *http.Request) (*http.Request, []byte, ed25519.PublicKey, time.Time) {
			return req, body, nil, signTime
		}, wantErr: "does not verify"},
		{name: "date changed after signing", change: func(req *http.Request) (*http.Request, []byte, ed25519.PublicKey, time.Time) {
			req.Header.Set(DateHeader, "20260131T120001Z")
			return req, body, pub, signTime
		}, wantErr: "does not verify"},
		{name: "stale", change: func(req *http.Request) (*http.Request, []byte, ed25519.PublicKey, time.Time) {
			return req, body, pub, signTime.Add(MaxSkew + time.Second)
		}, wantErr: "from the server's clock"},
		{name: "future", change: func(req *http.Request) (*http.Request, []byte, ed25519.PublicKey, time.Time) {
			return req, body, pub, signTime.Add(-MaxSkew - time.Second)
		}, wantErr: "from the server's clock"},
		{name: "unparsable date", change: func(req *http.Request) (*http.Request, []byte, ed25519.PublicKey, time.Time) {
			req.Header.Set(DateHeader, "2026-01-31T12:00:00Z")
			return req, body, pub, signTime
		}, wantErr: "bad " + DateHeader},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, b, key, now := tt.change(signed(t, priv, http.MethodPost, path, body))
			p, err := Parse(req)
			if err != nil {
				t.Fatal(err)
			}
			err = NewVerifier().Verify(req, b, p, key, now)
			if !errors.Is(err, ErrUnauthenticated) || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("Verify = %v; want ErrUnauthenticated saying %q", err, tt.wantErr)
			}
		})
	}
}

func TestVerifySkewBoundary(t *testing.T) {
	pub, priv := newKey(t)
	for _, d := range []time.Duration{-MaxSkew, -time.Minute, 0, time.Minute, MaxSkew} {
		t.Run(d.String(), func(t *testing.T) {
			req := signed(t, priv, http.MethodPost, "/x", nil)
			p, err := Parse(req)
			if err != nil {
				t.Fatal(err)
			}
			if err := NewVerifier().Verify(req, nil, p, pub, signTime.Add(d)); err != nil {
				t.Errorf("clock off by %v: %v; want accepted", d, err)
			}
		})
	}
}

func TestVerifyRefusesReplay(t *testing.T) {
	pub, priv := newKey(t)
	v := NewVerifier()
	body := []byte(`{}`)
	verify := func(req *http.Request, now time.Time) error {
		t.Helper()
		p, err := Parse(req)
		if err != nil {
			t.Fatal(err)
		}
		return v.Verify(req, body, p, pub, now)
	}
	first := signed(t, priv, http.MethodPost, "/a", body)
	if err := verify(first, signTime); err != nil {
		t.Fatalf("first: %v", err)
	}
	replay := first.Clone(t.Context())
	if err := verify(replay, signTime.Add(time.Second)); !errors.Is(err, ErrUnauthenticated) || !strings.Contains(err.Error(), "replayed") {
		t.Errorf("replay: %v; want a replayed-request error", err)
	}
	// Still refused at the edge of the skew window, when it could otherwise pass.
	if err := verify(replay, signTime.Add(MaxSkew)); !errors.Is(err, ErrUnauthenticated) || !strings.Contains(err.Error(), "replayed") {
		t.Errorf("replay at the edge of the window: %v; want a replayed-request error", err)
	}
	// A different request by the same agent is not a replay.
	if err := verify(signed(t, priv, http.MethodPost, "/b", body), signTime.Add(time.Second)); err != nil {
		t.Errorf("second request: %v", err)
	}
	// A failed verification does not poison the cache for the real request.
	other := signed(t, priv, http.MethodPost, "/c", body)
	p, err := Parse(other)
	if err != nil {
		t.Fatal(err)
	}
	if err := v.Verify(other, []byte("tampered"), p, pub, signTime); err == nil {
		t.Fatal("tampered request verified")
	}
	if err := verify(other, signTime); err != nil {
		t.Errorf("genuine request after a tampered copy: %v", err)
	}
}

func TestParseRejects(t *testing.T) {
	_, priv := newKey(t)
	good := signed(t, priv, http.MethodPost, "/x", nil)
	auth, date := good.Header.Get("Authorization"), good.Header.Get(DateHeader)
	sig := base64.StdEncoding.EncodeToString(make([]byte, ed25519.SignatureSize))
	tests := []struct {
		name    string
		auth    string
		date    string
		wantErr string
	}{
		{"no header", "", date, "missing"},
		{"other scheme", "AWS4-HMAC-SHA256 Credential=x", date, "missing"},
		{"scheme without space", Scheme + "InstanceId=" + testInstance, date, "missing"},
		{"lower-case scheme", strings.ToLower(Scheme) + " InstanceId=" + testInstance + ", Signature=" + sig, date, "missing"},
		{"scheme only", Scheme + " ", date, "malformed authorization"},
		{"part without equals", Scheme + " InstanceId=" + testInstance + ", Signature", date, "malformed authorization"},
		{"no signature", Scheme + " InstanceId=" + testInstance, date, "incomplete"},
		{"no instance", Scheme + " Signature=" + sig, date, "incomplete"},
		{"empty instance", Scheme + " InstanceId=, Signature=" + sig, date, "incomplete"},
		{"no date", auth, "", "incomplete"},
		{"signature not base64", Scheme + " InstanceId=" + testInstance + ", Signature=!!!!", date, "malformed signature"},
		{"signature too short", Scheme + " InstanceId=" + testInstance + ", Signature=" + base64.StdEncoding.EncodeToString(make([]byte, 63)), date, "malformed signature"},
		{"signature too long", Scheme + " InstanceId=" + testInstance + ", Signature=" + base64.StdEncoding.EncodeToString(make([]byte, 65)), date, "malformed signature"},
		{"signature url-safe base64", Scheme + " InstanceId=" + testInstance + ", Signature=" + base64.RawURLEncoding.EncodeToString(make([]byte, 64)), date, "malformed signature"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, _ := http.NewRequest(http.MethodPost, "https://tether.example.com/x", nil)
			if tt.auth != "" {
				req.Header.Set("Authorization", tt.auth)
			}
			if tt.date != "" {
				req.Header.Set(DateHeader, tt.date)
			}
			p, err := Parse(req)
			if !errors.Is(err, ErrUnauthenticated) || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("Parse(%q) = %+v, %v; want ErrUnauthenticated saying %q", tt.auth, p, err, tt.wantErr)
			}
		})
	}
}

func TestParseToleratesSpacing(t *testing.T) {
	sig := base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{7}, ed25519.SignatureSize))
	for _, h := range []string{
		Scheme + " InstanceId=" + testInstance + ", Signature=" + sig,
		Scheme + " InstanceId=" + testInstance + ",Signature=" + sig,
		Scheme + " Signature=" + sig + ",  InstanceId=" + testInstance + " ",
	} {
		req, _ := http.NewRequest(http.MethodPost, "https://tether.example.com/x", nil)
		req.Header.Set("Authorization", h)
		req.Header.Set(DateHeader, "20260131T120000Z")
		p, err := Parse(req)
		if err != nil || p.InstanceID != testInstance || !bytes.Equal(p.Signature, bytes.Repeat([]byte{7}, ed25519.SignatureSize)) {
			t.Errorf("Parse(%q) = %+v, %v", h, p, err)
		}
	}
}
