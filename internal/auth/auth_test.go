package auth

import (
	"bytes"
	"errors"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tetherhq/tether/internal/api"
	"github.com/tetherhq/tether/internal/sigv4"
	"github.com/tetherhq/tether/internal/store"
	"github.com/tetherhq/tether/internal/store/sqlite"
)

func newAuthority(t *testing.T) (*Authority, store.Store) {
	t.Helper()
	st, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "t.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	key, err := LoadOrCreateKey(filepath.Join(t.TempDir(), "server.key"))
	if err != nil {
		t.Fatal(err)
	}
	sealer, err := NewSealer(key)
	if err != nil {
		t.Fatal(err)
	}
	a, err := New(Config{Store: st, Sealer: sealer, Region: "us-east-1", Account: "123456789012"})
	if err != nil {
		t.Fatal(err)
	}
	return a, st
}

func signed(t *testing.T, id, secret string, at time.Time) (*http.Request, []byte) {
	body := []byte(`{"State":"Active"}`)
	req, _ := http.NewRequest(http.MethodPost, "http://127.0.0.1:7443/", bytes.NewReader(body))
	req.Header.Set("X-Amz-Target", "AmazonSSM.DescribeSessions")
	req.RemoteAddr = "192.0.2.7:5555"
	if err := sigv4.Sign(req, body, sigv4.Credentials{AccessKeyID: id, SecretAccessKey: secret}, "us-east-1", "ssm", at); err != nil {
		t.Fatal(err)
	}
	return req, body
}

func code(err error) string {
	var ae *api.Error
	if errors.As(err, &ae) {
		return ae.Code
	}
	return ""
}

func TestDenyByDefaultAndAdminAllows(t *testing.T) {
	a, st := newAuthority(t)
	ctx := t.Context()
	for _, name := range []string{"admin", "nobody"} {
		if _, err := a.CreateUser(ctx, name); err != nil {
			t.Fatal(err)
		}
	}
	if err := st.PutUserPolicy(ctx, "admin", store.Policy{Name: "AdministratorAccess", Document: AdminPolicy}); err != nil {
		t.Fatal(err)
	}
	principal := func(user string) *Principal {
		id, secret, err := a.CreateAccessKey(ctx, user)
		if err != nil {
			t.Fatal(err)
		}
		req, body := signed(t, id, secret, time.Now())
		p, err := a.Authenticate(ctx, req, body)
		if err != nil {
			t.Fatalf("authenticate %s: %v", user, err)
		}
		if p.SourceIP != "192.0.2.7" || p.ARN != "arn:aws:iam::123456789012:user/"+user {
			t.Fatalf("principal %+v", p)
		}
		return p
	}
	admin, nobody := principal("admin"), principal("nobody")
	for _, action := range []string{"ssm:StartSession", "ssm:DescribeSessions", "ssm:DeregisterManagedInstance", "iam:CreateUser"} {
		if err := a.Authorize(admin, action, "arn:aws:ssm:us-east-1:123456789012:managed-instance/mi-0123456789abcdef0", nil); err != nil {
			t.Errorf("admin denied %s: %v", action, err)
		}
		err := a.Authorize(nobody, action, "arn:aws:ssm:us-east-1:123456789012:managed-instance/mi-0123456789abcdef0", nil)
		want := "User: arn:aws:iam::123456789012:user/nobody is not authorized to perform: " + action +
			" on resource: arn:aws:ssm:us-east-1:123456789012:managed-instance/mi-0123456789abcdef0 because no identity-based policy allows the " + action + " action"
		var ae *api.Error
		if !errors.As(err, &ae) || ae.Code != "AccessDeniedException" || ae.Message != want {
			t.Errorf("nobody %s: got %v\nwant AccessDeniedException: %s", action, err, want)
		}
	}
	// An explicit deny beats the admin's allow, with AWS's wording.
	if err := st.PutUserPolicy(ctx, "admin", store.Policy{Name: "NoDeregister", Document: `{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Action":"ssm:DeregisterManagedInstance","Resource":"*"}]}`}); err != nil {
		t.Fatal(err)
	}
	admin = principal("admin")
	err := a.Authorize(admin, "ssm:DeregisterManagedInstance", "arn:aws:ssm:us-east-1:123456789012:managed-instance/mi-0123456789abcdef0", nil)
	if err == nil || !strings.HasSuffix(err.Error(), "with an explicit deny") {
		t.Fatalf("explicit deny: %v", err)
	}
}

func TestAuthenticateRejects(t *testing.T) {
	a, st := newAuthority(t)
	ctx := t.Context()
	if _, err := a.CreateUser(ctx, "alice"); err != nil {
		t.Fatal(err)
	}
	id, secret, err := a.CreateAccessKey(ctx, "alice")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		req  func() (*http.Request, []byte)
		code string
	}{
		{"unknown key", func() (*http.Request, []byte) { return signed(t, "AKIAUNKNOWNUNKNOWN00", secret, time.Now()) }, "UnrecognizedClientException"},
		{"wrong secret", func() (*http.Request, []byte) { return signed(t, id, "wrong", time.Now()) }, "InvalidSignatureException"},
		{"stale", func() (*http.Request, []byte) { return signed(t, id, secret, time.Now().Add(-6*time.Minute)) }, "InvalidSignatureException"},
		{"unsigned", func() (*http.Request, []byte) {
			req, _ := http.NewRequest(http.MethodPost, "http://127.0.0.1/", nil)
			return req, nil
		}, "MissingAuthenticationTokenException"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req, body := tc.req()
			_, err := a.Authenticate(ctx, req, body)
			if code(err) != tc.code {
				t.Fatalf("got %v, want %s", err, tc.code)
			}
		})
	}
	t.Run("deactivated key", func(t *testing.T) {
		if err := st.SetAccessKeyStatus(ctx, id, store.KeyInactive); err != nil {
			t.Fatal(err)
		}
		req, body := signed(t, id, secret, time.Now())
		if _, err := a.Authenticate(ctx, req, body); code(err) != "UnrecognizedClientException" {
			t.Fatalf("got %v", err)
		}
	})
	t.Run("deleted user", func(t *testing.T) {
		if err := st.DeleteUser(ctx, "alice"); err != nil {
			t.Fatal(err)
		}
		req, body := signed(t, id, secret, time.Now())
		if _, err := a.Authenticate(ctx, req, body); code(err) != "UnrecognizedClientException" {
			t.Fatalf("got %v", err)
		}
	})
}

func TestSecretsAreSealed(t *testing.T) {
	a, st := newAuthority(t)
	ctx := t.Context()
	a.CreateUser(ctx, "bob")
	id, secret, err := a.CreateAccessKey(ctx, "bob")
	if err != nil {
		t.Fatal(err)
	}
	k, err := st.GetAccessKey(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(k.SealedSecret, []byte(secret)) || len(secret) != 40 || !strings.HasPrefix(id, "AKIA") || len(id) != 20 {
		t.Fatalf("key %s secret %q sealed %x", id, secret, k.SealedSecret)
	}
	// A sealed secret moved to another key id does not open.
	if _, err := a.cfg.Sealer.Open(k.SealedSecret, []byte("AKIAOTHER")); err == nil {
		t.Fatal("sealed secret opened under another key id")
	}
	got, err := a.RevealSecret(ctx, id)
	if err != nil || got != secret {
		t.Fatalf("reveal: %q %v", got, err)
	}
	// The server key file is private and stable.
	p := filepath.Join(t.TempDir(), "k")
	k1, _ := LoadOrCreateKey(p)
	k2, _ := LoadOrCreateKey(p)
	st2, _ := os.Stat(p)
	if !bytes.Equal(k1, k2) || st2.Mode().Perm() != 0o600 {
		t.Fatalf("key file mode %v, stable %v", st2.Mode().Perm(), bytes.Equal(k1, k2))
	}
}

func TestSourceIPTrustsOnlyConfiguredProxies(t *testing.T) {
	a, _ := newAuthority(t)
	a.cfg.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("::1/128")}
	for _, tc := range []struct {
		name, remote, xff, want string
	}{
		{"direct client, header ignored", "192.0.2.7:1234", "203.0.113.9", "192.0.2.7"},
		{"through a trusted proxy", "10.1.2.3:443", "203.0.113.9", "203.0.113.9"},
		{"spoofed left-most hop ignored", "10.1.2.3:443", "198.51.100.1, 203.0.113.9", "203.0.113.9"},
		{"chain of trusted proxies", "10.1.2.3:443", "203.0.113.9, 10.9.9.9", "203.0.113.9"},
		{"garbage stops the chain", "10.1.2.3:443", "203.0.113.9, not-an-ip", "10.1.2.3"},
		{"IPv6 loopback proxy", "[::1]:443", "2001:db8::5", "2001:db8::5"},
		{"all hops trusted", "10.1.2.3:443", "10.4.4.4", "10.4.4.4"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, _ := http.NewRequest(http.MethodPost, "http://x/", nil)
			r.RemoteAddr = tc.remote
			if tc.xff != "" {
				r.Header.Set("X-Forwarded-For", tc.xff)
			}
			if got := a.SourceIP(r); got != tc.want {
				t.Fatalf("SourceIP = %q, want %q", got, tc.want)
			}
		})
	}
}
