// Package blobtest is the conformance suite for blob.Store. Every
// implementation runs it from its own tests:
//
//	func TestConformance(t *testing.T) {
//		blobtest.Run(t, func(t *testing.T) blobtest.Env { ... })
//	}
//
// The suite pins down the contract the package doc states: whole objects or
// nothing, the previous object surviving every failed Put (a body that
// errors part way, a wrong declared size, a cancelled context, a transport
// that resets or answers 500), ErrNotFound, hostile keys refused, and
// concurrent Puts ending with one whole object. Implementations that talk
// HTTP plug a FaultTransport into their client so the suite can break
// requests below the Store. Only tests may import this package.
package blobtest

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/tetherhq/tether/internal/blob"
)

// Env is one Store under test.
type Env struct {
	Store blob.Store
	// Faults, when not nil, sits in the Store's HTTP client; the suite
	// injects transport failures through it.
	Faults *FaultTransport
	// Incomplete, when not nil, lists what failed Puts left behind in the
	// backend, invisible as objects (temporary files, unfinished multipart
	// uploads); the suite expects none.
	Incomplete func(t *testing.T) []string
}

// LargeSize is the size of the suite's large objects: more than two parts
// for an S3 store with 5 MiB parts.
const LargeSize = 20 << 20

// Run runs the suite. newEnv must return a new, empty store each time it is
// called; the subtests run in parallel, each on its own store.
func Run(t *testing.T, newEnv func(t *testing.T) Env) {
	tests := []struct {
		name string
		fn   func(t *testing.T, e Env)
	}{
		{"RoundTrip", testRoundTrip},
		{"UnknownSize", testUnknownSize},
		{"Empty", testEmpty},
		{"Overwrite", testOverwrite},
		{"NotFound", testNotFound},
		{"HostileKeys", testHostileKeys},
		{"UnusualKeys", testUnusualKeys},
		{"Large", testLarge},
		{"SizeMismatch", testSizeMismatch},
		{"FailingBody", testFailingBody},
		{"CancelledContext", testCancelledContext},
		{"Options", testOptions},
		{"ConcurrentPuts", testConcurrentPuts},
		{"ConcurrentOverwriteAndRead", testConcurrentOverwriteAndRead},
		{"TransientFaults", testTransientFaults},
		{"TransientFaultsMultipart", testTransientFaultsMultipart},
		{"PersistentFaults", testPersistentFaults},
		{"PersistentFaultsMultipart", testPersistentFaultsMultipart},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t)
			tc.fn(t, e)
			if e.Incomplete != nil && !t.Failed() {
				if left := e.Incomplete(t); len(left) > 0 {
					t.Errorf("failed Puts left %d incomplete uploads or temporary files: %q", len(left), left)
				}
			}
		})
	}
}

// Data returns n deterministic pseudo-random bytes for seed.
func Data(seed uint64, n int) []byte {
	b := make([]byte, n)
	r := rand.NewChaCha8([32]byte{byte(seed), byte(seed >> 8), byte(seed >> 16), byte(seed >> 24)})
	r.Read(b)
	return b
}

func sum(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// onlyReader hides every method but Read (no Seek, no WriterTo), so a Store
// cannot depend on them.
type onlyReader struct{ r io.Reader }

func (o onlyReader) Read(p []byte) (int, error) { return o.r.Read(p) }

func body(b []byte) io.Reader { return onlyReader{bytes.NewReader(b)} }

// Put stores data under key with its size, failing the test on error.
func Put(t *testing.T, s blob.Store, key string, data []byte) blob.Object {
	t.Helper()
	obj, err := s.Put(context.Background(), key, body(data), int64(len(data)), blob.PutOptions{})
	if err != nil {
		t.Fatalf("Put %s (%d bytes): %v", key, len(data), err)
	}
	if obj.Key != key || obj.Size != int64(len(data)) || obj.SHA256 != sum(data) {
		t.Fatalf("Put %s returned %+v; want key %s, size %d, sha256 %s", key, obj, key, len(data), sum(data))
	}
	if obj.ETag == "" {
		t.Errorf("Put %s returned no ETag", key)
	}
	return obj
}

// Content reads the object under key, failing the test on error.
func Content(t *testing.T, s blob.Store, key string) []byte {
	t.Helper()
	rc, obj, err := s.Get(context.Background(), key)
	if err != nil {
		t.Fatalf("Get %s: %v", key, err)
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		t.Fatalf("Get %s: read: %v", key, err)
	}
	if obj.Key != key || obj.Size != int64(len(b)) {
		t.Fatalf("Get %s: object %+v, read %d bytes", key, obj, len(b))
	}
	return b
}

// Want checks that key holds exactly want.
func Want(t *testing.T, s blob.Store, key string, want []byte) {
	t.Helper()
	got := Content(t, s, key)
	if !bytes.Equal(got, want) {
		t.Fatalf("%s: %d bytes (sha256 %.12s), want %d bytes (sha256 %.12s)", key, len(got), sum(got), len(want), sum(want))
	}
	obj, err := s.Stat(context.Background(), key)
	if err != nil {
		t.Fatalf("Stat %s: %v", key, err)
	}
	if obj.Size != int64(len(want)) {
		t.Fatalf("Stat %s: size %d, want %d", key, obj.Size, len(want))
	}
}

// Missing checks that Stat and Get of key report ErrNotFound.
func Missing(t *testing.T, s blob.Store, key string) {
	t.Helper()
	if obj, err := s.Stat(context.Background(), key); !errors.Is(err, blob.ErrNotFound) {
		t.Fatalf("Stat %s: %+v, %v; want ErrNotFound", key, obj, err)
	}
	rc, _, err := s.Get(context.Background(), key)
	if !errors.Is(err, blob.ErrNotFound) {
		if rc != nil {
			rc.Close()
		}
		t.Fatalf("Get %s: %v; want ErrNotFound", key, err)
	}
}

func testRoundTrip(t *testing.T, e Env) {
	ctx := context.Background()
	s := e.Store
	data := []byte("\x1b[1mhello\x1b[0m\r\n")
	key := "logs/alice-0123456789abcdef0.cast"
	put := Put(t, s, key, data)
	Want(t, s, key, data)

	st, err := s.Stat(ctx, key)
	if err != nil {
		t.Fatal(err)
	}
	if st.Key != key || st.ETag != put.ETag || st.ModTime.IsZero() {
		t.Errorf("Stat = %+v; want key %s, ETag %s (Put's), a ModTime", st, key, put.ETag)
	}
	if u := s.URL(key); u == "" {
		t.Error("URL is empty")
	} else if pu, err := url.Parse(u); err != nil || !strings.HasSuffix(pu.Path, "/"+key) {
		t.Errorf("URL %q (%v) does not end in the key", u, err)
	}

	if err := s.Delete(ctx, key); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	Missing(t, s, key)
	if err := s.Delete(ctx, key); err != nil {
		t.Fatalf("Delete of a deleted key: %v", err)
	}
}

func testUnknownSize(t *testing.T, e Env) {
	data := Data(1, 100_000)
	obj, err := e.Store.Put(context.Background(), "a/unknown", body(data), -1, blob.PutOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if obj.Size != int64(len(data)) || obj.SHA256 != sum(data) {
		t.Fatalf("Put = %+v; want size %d", obj, len(data))
	}
	Want(t, e.Store, "a/unknown", data)
}

func testEmpty(t *testing.T, e Env) {
	Put(t, e.Store, "empty", nil)
	Want(t, e.Store, "empty", nil)
	obj, err := e.Store.Put(context.Background(), "empty2", body(nil), -1, blob.PutOptions{})
	if err != nil || obj.Size != 0 {
		t.Fatalf("Put of an empty body with unknown size: %+v, %v", obj, err)
	}
	Want(t, e.Store, "empty2", nil)
}

func testOverwrite(t *testing.T, e Env) {
	v1 := []byte("version one, longer than the second")
	v2 := []byte("version two")
	o1 := Put(t, e.Store, "k", v1)
	o2 := Put(t, e.Store, "k", v2)
	if o1.ETag == o2.ETag {
		t.Errorf("ETag %q did not change when the object was replaced", o1.ETag)
	}
	Want(t, e.Store, "k", v2)
	v3 := []byte("version two") // same bytes again
	Put(t, e.Store, "k", v3)
	Want(t, e.Store, "k", v3)
}

func testNotFound(t *testing.T, e Env) {
	ctx := context.Background()
	Missing(t, e.Store, "nothing")
	Missing(t, e.Store, "no/such/dir/key")
	Put(t, e.Store, "dir/obj", []byte("x"))
	Missing(t, e.Store, "dir")   // a prefix is no object
	Missing(t, e.Store, "dir/o") // nor is a prefix of a name
	if err := e.Store.Delete(ctx, "nothing"); err != nil {
		t.Errorf("Delete of a missing key: %v", err)
	}
	if err := e.Store.Delete(ctx, "dir"); err != nil {
		t.Errorf("Delete of a prefix: %v", err)
	}
	Want(t, e.Store, "dir/obj", []byte("x"))
}

// HostileKeys are keys every Store must refuse.
var HostileKeys = []string{
	"",
	"/",
	"/etc/passwd",
	"../escape",
	"a/../../escape",
	"a/..",
	"..",
	".",
	"./a",
	"a/./b",
	"a//b",
	"a/",
	"a\\..\\b",
	"..\\escape",
	"nul\x00byte",
	"new\nline",
	"carriage\rreturn",
	"tab\there",
	"del\x7f",
	"c1\u0085control",
	"bad\xffutf8",
	"a/.tether-tmp-0123",
	".tether-x",
	strings.Repeat("k", blob.MaxKeyLen+1),
	strings.Repeat("s", blob.MaxSegmentLen+1),
	strings.Repeat("a/", 600) + "a",
}

func testHostileKeys(t *testing.T, e Env) {
	ctx := context.Background()
	s := e.Store
	Put(t, s, "safe", []byte("safe"))
	for _, key := range HostileKeys {
		name := fmt.Sprintf("%.40q", key)
		if _, err := s.Put(ctx, key, body([]byte("evil")), 4, blob.PutOptions{}); !errors.Is(err, blob.ErrInvalidKey) {
			t.Errorf("Put %s: %v; want ErrInvalidKey", name, err)
		}
		if rc, _, err := s.Get(ctx, key); !errors.Is(err, blob.ErrInvalidKey) {
			if rc != nil {
				rc.Close()
			}
			t.Errorf("Get %s: %v; want ErrInvalidKey", name, err)
		}
		if _, err := s.Stat(ctx, key); !errors.Is(err, blob.ErrInvalidKey) {
			t.Errorf("Stat %s: %v; want ErrInvalidKey", name, err)
		}
		if err := s.Delete(ctx, key); !errors.Is(err, blob.ErrInvalidKey) {
			t.Errorf("Delete %s: %v; want ErrInvalidKey", name, err)
		}
		if u := s.URL(key); u != "" {
			t.Errorf("URL %s = %q; want empty", name, u)
		}
	}
	Want(t, s, "safe", []byte("safe"))
}

func testUnusualKeys(t *testing.T, e Env) {
	keys := []string{
		"with space.cast",
		"percent%20and+plus&amp=eq",
		"question?mark#hash",
		"unicode/日本語/ключ.log",
		"dots/...three/.hidden/a..b",
		"tilde~/colon:semicolon;comma,",
		strings.Repeat("x", blob.MaxSegmentLen),
	}
	for i, key := range keys {
		data := []byte(fmt.Sprintf("object %d", i))
		Put(t, e.Store, key, data)
		Want(t, e.Store, key, data)
		u, err := url.Parse(e.Store.URL(key))
		if err != nil || !strings.HasSuffix(u.Path, "/"+key) {
			t.Errorf("URL(%q) = %q: path %q, %v", key, e.Store.URL(key), u.Path, err)
		}
	}
	for _, key := range keys {
		if err := e.Store.Delete(context.Background(), key); err != nil {
			t.Errorf("Delete %q: %v", key, err)
		}
		Missing(t, e.Store, key)
	}
}

func testLarge(t *testing.T, e Env) {
	data := Data(2, LargeSize+12345)
	Put(t, e.Store, "large/known", data)
	Want(t, e.Store, "large/known", data)

	obj, err := e.Store.Put(context.Background(), "large/unknown", body(data), -1, blob.PutOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if obj.Size != int64(len(data)) || obj.SHA256 != sum(data) {
		t.Fatalf("Put = %+v", obj)
	}
	Want(t, e.Store, "large/unknown", data)

	// Exactly a multiple of common part sizes (5 and 8 MiB).
	exact := data[:LargeSize]
	Put(t, e.Store, "large/exact", exact)
	Want(t, e.Store, "large/exact", exact)
	obj, err = e.Store.Put(context.Background(), "large/exact-unknown", body(exact), -1, blob.PutOptions{})
	if err != nil || obj.Size != LargeSize {
		t.Fatalf("Put: %+v, %v", obj, err)
	}
	Want(t, e.Store, "large/exact-unknown", exact)
}

func testSizeMismatch(t *testing.T, e Env) {
	ctx := context.Background()
	s := e.Store
	prev := []byte("previous")
	Put(t, s, "k", prev)
	data := Data(3, 1000)
	large := Data(4, LargeSize)
	cases := []struct {
		name string
		body []byte
		size int64
	}{
		{"short", data[:500], 1000},
		{"long", data, 500},
		{"empty body", nil, 10},
		{"non-empty body, size 0", data[:1], 0},
		{"large short", large[:LargeSize/2+1], LargeSize},
		{"large long", large, LargeSize - 1},
	}
	for _, c := range cases {
		for _, key := range []string{"k", "fresh"} {
			_, err := s.Put(ctx, key, body(c.body), c.size, blob.PutOptions{})
			if !errors.Is(err, blob.ErrSizeMismatch) {
				t.Errorf("%s: Put %s of %d bytes with size %d: %v; want ErrSizeMismatch", c.name, key, len(c.body), c.size, err)
			}
		}
		Want(t, s, "k", prev)
		Missing(t, s, "fresh")
	}
}

var errBody = errors.New("blobtest: injected body error")

// failingReader yields n bytes of data, then fails.
type failingReader struct {
	data []byte
	n    int
}

func (f *failingReader) Read(p []byte) (int, error) {
	if f.n == 0 {
		return 0, errBody
	}
	m := copy(p[:min(len(p), f.n)], f.data)
	f.data = f.data[m:]
	f.n -= m
	return m, nil
}

func testFailingBody(t *testing.T, e Env) {
	ctx := context.Background()
	s := e.Store
	prev := Data(5, 3000)
	Put(t, s, "k", prev)
	large := Data(6, LargeSize)
	for _, n := range []int{0, 1, 1000, 12 << 20} {
		for _, size := range []int64{int64(len(large)), -1} {
			for _, key := range []string{"k", "fresh"} {
				_, err := s.Put(ctx, key, &failingReader{data: large, n: n}, size, blob.PutOptions{})
				if !errors.Is(err, errBody) {
					t.Errorf("Put %s, body failing after %d bytes, size %d: %v; want the body's error", key, n, size, err)
				}
			}
			Want(t, s, "k", prev)
			Missing(t, s, "fresh")
		}
	}
}

// cancellingReader cancels its context after n bytes and keeps yielding
// data.
type cancellingReader struct {
	r      io.Reader
	n      int
	cancel context.CancelFunc
}

func (c *cancellingReader) Read(p []byte) (int, error) {
	m, err := c.r.Read(p)
	c.n -= m
	if c.n <= 0 {
		c.cancel()
	}
	return m, err
}

func testCancelledContext(t *testing.T, e Env) {
	s := e.Store
	prev := []byte("previous")
	Put(t, s, "k", prev)

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := s.Put(ctx, "k", body([]byte("new")), 3, blob.PutOptions{}); !errors.Is(err, context.Canceled) {
		t.Errorf("Put with a cancelled context: %v; want context.Canceled", err)
	}
	if _, err := s.Put(ctx, "fresh", body([]byte("new")), 3, blob.PutOptions{}); !errors.Is(err, context.Canceled) {
		t.Errorf("Put with a cancelled context: %v; want context.Canceled", err)
	}
	large := Data(7, LargeSize)
	for _, n := range []int{1, 6 << 20, 12 << 20} {
		for _, key := range []string{"k", "fresh"} {
			ctx, cancel := context.WithCancel(context.Background())
			_, err := s.Put(ctx, key, &cancellingReader{r: body(large), n: n, cancel: cancel}, LargeSize, blob.PutOptions{})
			cancel()
			if !errors.Is(err, context.Canceled) {
				t.Errorf("Put %s cancelled after %d bytes: %v; want context.Canceled", key, n, err)
			}
		}
	}
	Want(t, s, "k", prev)
	Missing(t, s, "fresh")
	if _, err := s.Stat(ctx, "k"); err == nil {
		t.Errorf("Stat with a cancelled context succeeded")
	}
}

func testOptions(t *testing.T, e Env) {
	ctx := context.Background()
	data := []byte(`{"version": 2, "width": 80, "height": 24}` + "\n")
	for _, opts := range []blob.PutOptions{
		{ContentType: "application/x-asciicast"},
		{ContentType: "text/plain; charset=utf-8", ServerSideEncryption: true},
		{ServerSideEncryption: true},
	} {
		obj, err := e.Store.Put(ctx, "opts", body(data), int64(len(data)), opts)
		if err != nil {
			t.Fatalf("Put with %+v: %v", opts, err)
		}
		st, err := e.Store.Stat(ctx, "opts")
		if err != nil {
			t.Fatal(err)
		}
		// Stores that keep a content type keep the one given.
		if st.ContentType != "" && opts.ContentType != "" && st.ContentType != opts.ContentType {
			t.Errorf("Put with %+v: Stat content type %q", opts, st.ContentType)
		}
		// Stores that report encryption report what was asked for.
		for _, o := range []blob.Object{obj, st} {
			if opts.ServerSideEncryption && o.ServerSideEncryption != "" && o.ServerSideEncryption != "AES256" {
				t.Errorf("Put with %+v: encryption %q", opts, o.ServerSideEncryption)
			}
		}
		Want(t, e.Store, "opts", data)
	}
}

func testConcurrentPuts(t *testing.T, e Env) {
	s := e.Store
	const n = 8
	versions := make([][]byte, n)
	for i := range versions {
		versions[i] = Data(uint64(100+i), 64<<10+i*4096)
	}
	var wg sync.WaitGroup
	errs := make(chan error, 2*n)
	for i := range n {
		wg.Add(2)
		go func() {
			defer wg.Done()
			key := fmt.Sprintf("own/%d", i)
			if _, err := s.Put(context.Background(), key, body(versions[i]), int64(len(versions[i])), blob.PutOptions{}); err != nil {
				errs <- err
			}
		}()
		go func() {
			defer wg.Done()
			if _, err := s.Put(context.Background(), "shared", body(versions[i]), -1, blob.PutOptions{}); err != nil {
				errs <- err
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Errorf("concurrent Put: %v", err)
	}
	for i := range n {
		Want(t, s, fmt.Sprintf("own/%d", i), versions[i])
	}
	got := Content(t, s, "shared")
	for _, v := range versions {
		if bytes.Equal(got, v) {
			return
		}
	}
	t.Errorf("shared: %d bytes that are none of the versions put", len(got))
}

func testConcurrentOverwriteAndRead(t *testing.T, e Env) {
	s := e.Store
	versions := [][]byte{Data(200, 300<<10), Data(201, 200<<10), Data(202, 100<<10)}
	Put(t, s, "k", versions[0])
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	defer wg.Wait()
	defer cancel()
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 0; ctx.Err() == nil; i++ {
			v := versions[i%len(versions)]
			if _, err := s.Put(ctx, "k", body(v), int64(len(v)), blob.PutOptions{}); err != nil && ctx.Err() == nil {
				t.Errorf("Put: %v", err)
				return
			}
		}
	}()
	for range 30 {
		got := Content(t, s, "k")
		ok := false
		for _, v := range versions {
			ok = ok || bytes.Equal(got, v)
		}
		if !ok {
			t.Errorf("read %d bytes that are none of the versions put", len(got))
			break
		}
	}
}

func needFaults(t *testing.T, e Env) *FaultTransport {
	t.Helper()
	if e.Faults == nil {
		t.Skip("this store has no transport to break")
	}
	return e.Faults
}

func testTransientFaults(t *testing.T, e Env) {
	f := needFaults(t, e)
	s := e.Store
	for i, kind := range []FaultKind{ResetBeforeSend, ResetMidBody, ResetAfterResponse, ServerError} {
		data := Data(uint64(300+i), 50_000)
		before := f.Injected()
		times := 2
		if kind == ResetAfterResponse {
			times = 1
		}
		f.Inject(Fault{Kind: kind, Method: "PUT", Times: times})
		Put(t, s, "k", data)
		if got := f.Injected() - before; got != times {
			t.Errorf("%v: %d faults injected, want %d: %q", kind, got, times, f.Log())
		}
		f.Heal()
		Want(t, s, "k", data)
	}
	// Reads recover too.
	f.Inject(Fault{Kind: ResetBeforeSend, Method: "GET", Times: 1}, Fault{Kind: ServerError, Method: "HEAD", Times: 1})
	Want(t, s, "k", Data(303, 50_000))
	f.Heal()
}

func testTransientFaultsMultipart(t *testing.T, e Env) {
	f := needFaults(t, e)
	data := Data(400, LargeSize)
	f.Inject(
		Fault{Kind: ResetMidBody, Method: "PUT", Skip: 1, Times: 2},
		Fault{Kind: ServerError, Method: "POST", Times: 1},
	)
	Put(t, e.Store, "large", data)
	if f.Injected() < 3 {
		t.Errorf("%d faults injected, want at least 3: %q", f.Injected(), f.Log())
	}
	f.Heal()
	Want(t, e.Store, "large", data)
	t.Logf("recovered from: %q", f.Log())
}

func testPersistentFaults(t *testing.T, e Env) {
	f := needFaults(t, e)
	ctx := context.Background()
	s := e.Store
	prev := Data(500, 4000)
	Put(t, s, "k", prev)
	for _, kind := range []FaultKind{ResetBeforeSend, ResetMidBody, ServerError} {
		f.Inject(Fault{Kind: kind, Times: -1})
		for _, key := range []string{"k", "fresh"} {
			obj, err := s.Put(ctx, key, body([]byte("new")), 3, blob.PutOptions{})
			if err == nil {
				t.Errorf("%v on every request: Put %s succeeded: %+v", kind, key, obj)
			} else if errors.Is(err, blob.ErrNotFound) || errors.Is(err, blob.ErrInvalidKey) {
				t.Errorf("%v on every request: Put %s: misleading error %v", kind, key, err)
			}
		}
		if _, err := s.Stat(ctx, "k"); err == nil || errors.Is(err, blob.ErrNotFound) {
			t.Errorf("%v on every request: Stat: %v; want an error other than ErrNotFound", kind, err)
		}
		f.Heal()
		Want(t, s, "k", prev)
		Missing(t, s, "fresh")
	}
}

func testPersistentFaultsMultipart(t *testing.T, e Env) {
	f := needFaults(t, e)
	s := e.Store
	prev := Data(600, 4000)
	Put(t, s, "k", prev)
	large := Data(601, LargeSize)
	for _, kind := range []FaultKind{ResetMidBody, ServerError} {
		for _, key := range []string{"k", "fresh"} {
			// The first part goes through, every later one fails.
			f.Inject(Fault{Kind: kind, Method: "PUT", Skip: 1, Times: -1})
			if obj, err := s.Put(context.Background(), key, body(large), LargeSize, blob.PutOptions{}); err == nil {
				t.Errorf("%v on every part but the first: Put %s succeeded: %+v", kind, key, obj)
			}
			f.Heal()
		}
		Want(t, s, "k", prev)
		Missing(t, s, "fresh")
	}
	// Completing fails.
	f.Inject(Fault{Kind: ServerError, Method: "POST", Skip: 1, Times: -1})
	if _, err := s.Put(context.Background(), "k", body(large), LargeSize, blob.PutOptions{}); err == nil {
		t.Errorf("CompleteMultipartUpload failing: Put succeeded")
	}
	f.Heal()
	Want(t, s, "k", prev)
}
