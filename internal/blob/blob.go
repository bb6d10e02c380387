// Package blob stores session recordings (DESIGN.md D8): one object per
// session, in a local folder (the default) or in an S3 bucket under a key
// prefix.
//
// # Contract
//
// A [Store] maps keys to immutable byte objects:
//
//   - Put stores the whole body under key, or nothing. It reads r to EOF; when
//     size is not negative the body must be exactly size bytes, or Put fails
//     with [ErrSizeMismatch]. A Put that fails for any reason (the body's
//     reader errors, the context is cancelled, the network breaks, the
//     process dies) leaves no partial object visible, and the object that
//     was under key before, if any, is still there, whole. A Put that
//     succeeds replaces the previous object atomically: readers see the old
//     bytes or the new bytes, never a mix. Concurrent Puts to one key end
//     with one of them, whole.
//   - Get returns the object's content and metadata; the caller closes it.
//     Get and Stat of a missing key return an error that
//     errors.Is(err, [ErrNotFound]).
//   - Delete removes the object. Deleting a missing key is not an error (as
//     in S3).
//   - URL names the object for humans and for DescribeSessions'
//     OutputUrl: file:// for [Local], the path-style https (or http) URL of
//     the endpoint for [S3]. It returns "" for an invalid key.
//
// # Keys
//
// Keys are slash-separated, relative, UTF-8 (see [ValidateKey]): at most
// [MaxKeyLen] bytes, segments of at most [MaxSegmentLen] bytes, no empty,
// "." or ".." segment, no leading or trailing slash, no backslash, no
// control characters, and no segment starting with ".tether-" (reserved for
// [Local]'s temporary files). Every method refuses any other key with an
// error that errors.Is(err, [ErrInvalidKey]) before touching storage, so a
// hostile key can never name a path outside the store. Sessions use
// "<s3KeyPrefix>/<SessionId>.cast" and ".log"; [JoinKey] builds that.
//
// # Metadata
//
// [Object] carries the key, the size, an ETag (opaque: it changes when the
// object is replaced) and the modification time. Put also returns the
// SHA-256 of the bytes it stored, computed while reading the body. S3 keeps
// the content type and reports server-side encryption; Local keeps neither:
// its files are mode 0600 in directories of mode 0700, and encryption at
// rest is the disk's business, so [PutOptions.ServerSideEncryption] is
// ignored there.
package blob

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// Store is the storage for session recordings. Implementations are safe for
// concurrent use.
type Store interface {
	// Put stores r under key (see the package doc for the atomicity
	// guarantees). size is the body's length, or -1 if unknown.
	Put(ctx context.Context, key string, r io.Reader, size int64, opts PutOptions) (Object, error)
	// Get opens the object for reading; the caller closes the reader.
	Get(ctx context.Context, key string) (io.ReadCloser, Object, error)
	// Stat returns the object's metadata.
	Stat(ctx context.Context, key string) (Object, error)
	// Delete removes the object; a missing key is not an error.
	Delete(ctx context.Context, key string) error
	// URL names the object ("" for an invalid key).
	URL(key string) string
}

// PutOptions are per-object settings.
type PutOptions struct {
	// ContentType is stored with the object where the backend keeps it
	// (S3); "" means application/octet-stream.
	ContentType string
	// ServerSideEncryption asks S3 to encrypt the object at rest with
	// SSE-S3 (AES256), as the preference s3EncryptionEnabled does. Local
	// ignores it.
	ServerSideEncryption bool
}

// Object describes a stored object.
type Object struct {
	Key     string    // the key as given to the Store (without the S3 prefix)
	Size    int64     // bytes
	ETag    string    // opaque version tag, unquoted; changes when the object is replaced
	ModTime time.Time // last modification, as the backend reports it (zero from S3's Put)
	// SHA256 is the hex SHA-256 of the content; Put sets it, Get and Stat
	// leave it empty.
	SHA256 string
	// ContentType is what Put stored (S3 only).
	ContentType string
	// ServerSideEncryption is the encryption the server reports, e.g.
	// "AES256" (S3 only; "" when none or unknown).
	ServerSideEncryption string
}

// Errors. Test with errors.Is: the errors returned wrap these with the key
// and the operation.
var (
	ErrNotFound     = errors.New("blob: object not found")
	ErrInvalidKey   = errors.New("blob: invalid key")
	ErrSizeMismatch = errors.New("blob: body length differs from the declared size")
)

// Key limits. 1024 bytes is S3's limit for a whole key; 255 is the usual
// file-name limit (NAME_MAX), which Local's segments become.
const (
	MaxKeyLen     = 1024
	MaxSegmentLen = 255
)

// reservedPrefix starts the names of Local's temporary files; no key
// segment may start with it, so a temporary file is never an object.
const reservedPrefix = ".tether-"

// ValidateKey reports whether key is acceptable to every Store; the error
// wraps [ErrInvalidKey] and says why.
func ValidateKey(key string) error {
	if reason := keyProblem(key); reason != "" {
		return &keyError{key: key, reason: reason}
	}
	return nil
}

func keyProblem(key string) string {
	switch {
	case key == "":
		return "empty"
	case len(key) > MaxKeyLen:
		return fmt.Sprintf("longer than %d bytes", MaxKeyLen)
	case !utf8.ValidString(key):
		return "not valid UTF-8"
	case key[0] == '/':
		return "starts with a slash"
	case key[len(key)-1] == '/':
		return "ends with a slash"
	}
	for _, r := range key {
		switch {
		case r == '\\':
			return "contains a backslash"
		case unicode.IsControl(r):
			return "contains a control character"
		case r == utf8.RuneError:
			return "contains U+FFFD"
		}
	}
	for seg := range strings.SplitSeq(key, "/") {
		switch {
		case seg == "":
			return "has an empty segment"
		case seg == "." || seg == "..":
			return "has a . or .. segment"
		case len(seg) > MaxSegmentLen:
			return fmt.Sprintf("has a segment longer than %d bytes", MaxSegmentLen)
		case strings.HasPrefix(seg, reservedPrefix):
			return "has a segment starting with the reserved " + reservedPrefix
		}
	}
	return ""
}

type keyError struct {
	key, reason string
}

func (e *keyError) Error() string {
	// A hostile key may be huge, or quote to four times its length: name
	// its start only.
	q := strconv.Quote(e.key)
	if len(q) > 100 {
		q = q[:100] + "..."
	}
	return "blob: invalid key " + q + ": " + e.reason
}

func (e *keyError) Unwrap() error { return ErrInvalidKey }

// JoinKey joins a key prefix (such as the preference s3KeyPrefix, which may
// be empty or carry leading or trailing slashes) and a name into a key, and
// validates it.
func JoinKey(prefix, name string) (string, error) {
	prefix = strings.Trim(prefix, "/")
	key := name
	if prefix != "" {
		key = prefix + "/" + name
	}
	if err := ValidateKey(key); err != nil {
		return "", err
	}
	return key, nil
}

// ctxReader fails reads once ctx is done, so a Put of a slow or endless body
// stops when its context does.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}
