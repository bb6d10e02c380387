package blob_test

import (
	"context"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tetherhq/tether/internal/blob"
	"github.com/tetherhq/tether/internal/blob/blobtest"
)

func newLocal(t *testing.T) (*blob.Local, blobtest.Env) {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "blobs")
	l, err := blob.NewLocal(dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return l, blobtest.Env{
		Store: l,
		Incomplete: func(t *testing.T) []string {
			var left []string
			filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
				if err == nil && strings.HasPrefix(d.Name(), ".tether-") {
					left = append(left, path)
				}
				return nil
			})
			return left
		},
	}
}

func TestLocalConformance(t *testing.T) {
	blobtest.Run(t, func(t *testing.T) blobtest.Env {
		_, e := newLocal(t)
		return e
	})
}

func TestLocalModes(t *testing.T) {
	l, _ := newLocal(t)
	blobtest.Put(t, l, "a/b/c.cast", []byte("x"))
	for _, c := range []struct {
		path string
		want fs.FileMode
	}{
		{"", 0o700},
		{"a", 0o700},
		{"a/b", 0o700},
		{"a/b/c.cast", 0o600},
	} {
		fi, err := os.Stat(filepath.Join(l.Dir(), c.path))
		if err != nil {
			t.Fatal(err)
		}
		if got := fi.Mode().Perm(); got != c.want {
			t.Errorf("%s: mode %o, want %o", c.path, got, c.want)
		}
	}
	if u, want := l.URL("a/b/c.cast"), "file://"+l.Dir()+"/a/b/c.cast"; u != want {
		t.Errorf("URL = %q, want %q", u, want)
	}
}

// A symbolic link inside the folder cannot lead a Put or a Get outside it.
func TestLocalSymlinkEscape(t *testing.T) {
	l, _ := newLocal(t)
	outside := t.TempDir()
	secret := filepath.Join(outside, "secret")
	if err := os.WriteFile(secret, []byte("secret"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(outside, filepath.Join(l.Dir(), "link")); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if _, _, err := l.Get(ctx, "link/secret"); err == nil {
		t.Error("Get through a symlink to outside the folder succeeded")
	}
	if _, err := l.Put(ctx, "link/planted", strings.NewReader("x"), 1, blob.PutOptions{}); err == nil {
		t.Error("Put through a symlink to outside the folder succeeded")
	}
	if _, err := os.Stat(filepath.Join(outside, "planted")); err == nil {
		t.Error("a file was planted outside the folder")
	}
}

// Hostile keys create nothing anywhere.
func TestLocalHostileKeysTouchNothing(t *testing.T) {
	parent := t.TempDir()
	l, err := blob.NewLocal(filepath.Join(parent, "blobs"))
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	for _, key := range blobtest.HostileKeys {
		l.Put(context.Background(), key, strings.NewReader("evil"), 4, blob.PutOptions{})
	}
	var found []string
	filepath.WalkDir(parent, func(path string, d fs.DirEntry, err error) error {
		found = append(found, strings.TrimPrefix(path, parent))
		return nil
	})
	if len(found) != 2 { // parent and parent/blobs
		t.Errorf("hostile keys created %q", found)
	}
}
