package blob

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"syscall"
)

// Local is a Store in a folder: key "a/b.cast" is the file <dir>/a/b.cast.
//
// Put writes a temporary file (".tether-tmp-*") in the object's directory,
// fsyncs it, renames it over the key and fsyncs the directory: the object
// appears whole or not at all, survives a crash once Put has returned, and a
// failed Put leaves the previous object untouched. A process killed mid-Put
// may leave a temporary file behind; it is never visible as an object.
// Files are created with mode 0600 and directories with 0700. All file
// operations go through an os.Root, so not even a symbolic link inside the
// folder can lead a key outside it.
//
// S3 allows both "a" and "a/b" as keys; a folder cannot, so the second of
// those Puts fails here. Session keys never collide that way.
type Local struct {
	dir  string // absolute
	root *os.Root
}

var _ Store = (*Local)(nil)

// NewLocal opens (creating it with mode 0700 if needed) the folder dir.
func NewLocal(dir string) (*Local, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("blob: local folder %s: %w", dir, err)
	}
	if err := os.MkdirAll(abs, 0o700); err != nil {
		return nil, fmt.Errorf("blob: local folder: %w", err)
	}
	root, err := os.OpenRoot(abs)
	if err != nil {
		return nil, fmt.Errorf("blob: local folder: %w", err)
	}
	return &Local{dir: abs, root: root}, nil
}

// Dir is the folder's absolute path.
func (l *Local) Dir() string { return l.dir }

// Close releases the folder.
func (l *Local) Close() error { return l.root.Close() }

// Put implements Store.
func (l *Local) Put(ctx context.Context, key string, r io.Reader, size int64, _ PutOptions) (Object, error) {
	if err := ValidateKey(key); err != nil {
		return Object{}, err
	}
	if err := ctx.Err(); err != nil {
		return Object{}, fmt.Errorf("blob: put %s: %w", key, err)
	}
	obj, err := l.put(ctx, key, r, size)
	if err != nil {
		return Object{}, fmt.Errorf("blob: put %s: %w", key, err)
	}
	return obj, nil
}

func (l *Local) put(ctx context.Context, key string, r io.Reader, size int64) (Object, error) {
	dir := path.Dir(key)
	if dir != "." {
		if err := l.root.MkdirAll(dir, 0o700); err != nil {
			return Object{}, err
		}
	}
	var rnd [12]byte
	rand.Read(rnd[:])
	tmp := path.Join(dir, reservedPrefix+"tmp-"+hex.EncodeToString(rnd[:]))
	f, err := l.root.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return Object{}, err
	}
	done := false
	defer func() {
		if !done {
			f.Close()
			l.root.Remove(tmp)
		}
	}()

	h := sha256.New()
	n, err := copyBody(io.MultiWriter(f, h), ctxReader{ctx, r}, size)
	if err != nil {
		return Object{}, err
	}
	if err := f.Sync(); err != nil {
		return Object{}, err
	}
	if err := f.Close(); err != nil {
		return Object{}, err
	}
	if err := ctx.Err(); err != nil {
		return Object{}, err
	}
	if err := l.root.Rename(tmp, key); err != nil {
		return Object{}, err
	}
	done = true
	// The rename is durable once the directory is.
	if d, err := l.root.Open(dir); err == nil {
		err = d.Sync()
		d.Close()
		if err != nil {
			return Object{}, fmt.Errorf("sync directory: %w", err)
		}
	}
	fi, err := l.root.Stat(key)
	if err != nil {
		return Object{}, err
	}
	obj := localObject(key, fi)
	obj.Size = n
	obj.SHA256 = hex.EncodeToString(h.Sum(nil))
	return obj, nil
}

// copyBody copies r to w. With size >= 0 the body must be exactly size
// bytes.
func copyBody(w io.Writer, r io.Reader, size int64) (int64, error) {
	if size < 0 {
		return io.Copy(w, r)
	}
	n, err := io.Copy(w, io.LimitReader(r, size))
	if err != nil {
		return n, err
	}
	if n < size {
		return n, fmt.Errorf("%w: body ended after %d of %d bytes", ErrSizeMismatch, n, size)
	}
	var one [1]byte
	for {
		m, err := r.Read(one[:])
		if m > 0 {
			return n, fmt.Errorf("%w: body is longer than %d bytes", ErrSizeMismatch, size)
		}
		if err == io.EOF {
			return n, nil
		}
		if err != nil {
			return n, err
		}
	}
}

// Get implements Store.
func (l *Local) Get(ctx context.Context, key string) (io.ReadCloser, Object, error) {
	if err := ValidateKey(key); err != nil {
		return nil, Object{}, err
	}
	if err := ctx.Err(); err != nil {
		return nil, Object{}, fmt.Errorf("blob: get %s: %w", key, err)
	}
	f, err := l.root.Open(key)
	if err != nil {
		return nil, Object{}, l.opErr("get", key, err)
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, Object{}, fmt.Errorf("blob: get %s: %w", key, err)
	}
	if !fi.Mode().IsRegular() {
		f.Close()
		return nil, Object{}, fmt.Errorf("blob: get %s: %w", key, ErrNotFound)
	}
	return f, localObject(key, fi), nil
}

// Stat implements Store.
func (l *Local) Stat(ctx context.Context, key string) (Object, error) {
	if err := ValidateKey(key); err != nil {
		return Object{}, err
	}
	if err := ctx.Err(); err != nil {
		return Object{}, fmt.Errorf("blob: stat %s: %w", key, err)
	}
	fi, err := l.root.Stat(key)
	if err != nil {
		return Object{}, l.opErr("stat", key, err)
	}
	if !fi.Mode().IsRegular() {
		return Object{}, fmt.Errorf("blob: stat %s: %w", key, ErrNotFound)
	}
	return localObject(key, fi), nil
}

// Delete implements Store. Emptied directories stay.
func (l *Local) Delete(ctx context.Context, key string) error {
	if err := ValidateKey(key); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("blob: delete %s: %w", key, err)
	}
	fi, err := l.root.Lstat(key)
	if err == nil && fi.IsDir() {
		return nil // a directory is no object
	}
	if err == nil {
		err = l.root.Remove(key)
	}
	if err != nil && !errors.Is(err, fs.ErrNotExist) && !errors.Is(err, syscall.ENOTDIR) {
		return fmt.Errorf("blob: delete %s: %w", key, err)
	}
	return nil
}

// URL implements Store: the file:// URL of the object's file.
func (l *Local) URL(key string) string {
	if ValidateKey(key) != nil {
		return ""
	}
	u := url.URL{Scheme: "file", Path: filepath.ToSlash(filepath.Join(l.dir, filepath.FromSlash(key)))}
	return u.String()
}

// opErr maps a missing file (or a file where a directory should be) to
// ErrNotFound.
func (l *Local) opErr(op, key string, err error) error {
	if errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENOTDIR) {
		return fmt.Errorf("blob: %s %s: %w", op, key, ErrNotFound)
	}
	return fmt.Errorf("blob: %s %s: %w", op, key, err)
}

// localObject describes a file. The ETag combines size, modification time
// and inode: a Put always writes a new file, so replacing an object changes
// it.
func localObject(key string, fi fs.FileInfo) Object {
	etag := strconv.FormatInt(fi.Size(), 16) + "-" + strconv.FormatInt(fi.ModTime().UnixNano(), 16)
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		etag += "-" + strconv.FormatUint(st.Ino, 16)
	}
	return Object{Key: key, Size: fi.Size(), ETag: etag, ModTime: fi.ModTime()}
}
