package blob_test

import (
	"errors"
	"net/url"
	"path"
	"path/filepath"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"

	"github.com/tetherhq/tether/internal/blob"
	"github.com/tetherhq/tether/internal/blob/blobtest"
)

func TestValidateKey(t *testing.T) {
	for _, key := range []string{
		"a",
		"logs/alice-0123456789abcdef0.cast",
		"sessions/2026/bob-0123456789abcdef0.log",
		"with space",
		"日本語/ключ",
		"a..b/...",
		".hidden/x",
		".tether", // only ".tether-" is reserved
		strings.Repeat("s", blob.MaxSegmentLen),
		strings.Repeat(strings.Repeat("s", 100)+"/", 10) + strings.Repeat("s", 13),
	} {
		if err := blob.ValidateKey(key); err != nil {
			t.Errorf("ValidateKey(%.40q): %v", key, err)
		}
	}
	for _, key := range blobtest.HostileKeys {
		err := blob.ValidateKey(key)
		if !errors.Is(err, blob.ErrInvalidKey) {
			t.Errorf("ValidateKey(%.40q) = %v; want ErrInvalidKey", key, err)
			continue
		}
		if len(err.Error()) > 200 {
			t.Errorf("ValidateKey(%.40q): %d-byte error", key, len(err.Error()))
		}
	}
}

func TestJoinKey(t *testing.T) {
	for _, c := range []struct{ prefix, name, want string }{
		{"", "s.cast", "s.cast"},
		{"logs", "s.cast", "logs/s.cast"},
		{"/logs/", "s.cast", "logs/s.cast"},
		{"a/b/", "s.log", "a/b/s.log"},
		{"/", "s.log", "s.log"},
	} {
		got, err := blob.JoinKey(c.prefix, c.name)
		if err != nil || got != c.want {
			t.Errorf("JoinKey(%q, %q) = %q, %v; want %q", c.prefix, c.name, got, err, c.want)
		}
	}
	for _, c := range []struct{ prefix, name string }{
		{"../x", "s.cast"},
		{"a//b", "s.cast"},
		{"logs", "../s.cast"},
		{"logs", ""},
		{"logs", "a/"},
	} {
		if got, err := blob.JoinKey(c.prefix, c.name); !errors.Is(err, blob.ErrInvalidKey) {
			t.Errorf("JoinKey(%q, %q) = %q, %v; want ErrInvalidKey", c.prefix, c.name, got, err)
		}
	}
}

// FuzzValidateKey checks that every key ValidateKey accepts is a clean,
// local, printable path that stays inside a Local store's folder, and that
// every refusal is ErrInvalidKey with a bounded message.
func FuzzValidateKey(f *testing.F) {
	for _, k := range blobtest.HostileKeys {
		f.Add(k)
	}
	f.Add("logs/alice-0123456789abcdef0.cast")
	f.Add("a/b/c")
	dir := f.TempDir()
	l, err := blob.NewLocal(dir)
	if err != nil {
		f.Fatal(err)
	}
	defer l.Close()
	f.Fuzz(func(t *testing.T, key string) {
		err := blob.ValidateKey(key)
		if err != nil {
			if !errors.Is(err, blob.ErrInvalidKey) {
				t.Fatalf("ValidateKey(%q) = %v, not ErrInvalidKey", key, err)
			}
			if len(err.Error()) > 200 {
				t.Fatalf("ValidateKey(%q): %d-byte error", key, len(err.Error()))
			}
			if l.URL(key) != "" {
				t.Fatalf("URL of the invalid key %q is not empty", key)
			}
			return
		}
		if len(key) > blob.MaxKeyLen || !utf8.ValidString(key) {
			t.Fatalf("accepted %q: too long or not UTF-8", key)
		}
		if !filepath.IsLocal(key) || path.Clean(key) != key || strings.HasPrefix(key, "/") {
			t.Fatalf("accepted %q: not a clean local path", key)
		}
		for _, r := range key {
			if unicode.IsControl(r) || r == '\\' {
				t.Fatalf("accepted %q: control character or backslash", key)
			}
		}
		for seg := range strings.SplitSeq(key, "/") {
			if seg == "" || seg == "." || seg == ".." || len(seg) > blob.MaxSegmentLen || strings.HasPrefix(seg, ".tether-") {
				t.Fatalf("accepted %q: bad segment %q", key, seg)
			}
		}
		u, err := url.Parse(l.URL(key))
		if err != nil {
			t.Fatalf("URL(%q) = %q: %v", key, l.URL(key), err)
		}
		if rel, err := filepath.Rel(dir, u.Path); err != nil || rel != key {
			t.Fatalf("URL(%q) = %q: path %q is not <dir>/<key>", key, l.URL(key), u.Path)
		}
	})
}
