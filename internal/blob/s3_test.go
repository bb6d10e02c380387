package blob_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/tetherhq/tether/internal/blob"
	"github.com/tetherhq/tether/internal/blob/blobtest"
	"github.com/tetherhq/tether/internal/testenv"
)

// TestS3ServerBuilds builds (or finds) versitygw. CI runs it alone first,
// with -v, to show the build's progress.
func TestS3ServerBuilds(t *testing.T) {
	bin := testenv.S3ServerBinary(t)
	out, err := exec.Command(bin, "--version").CombinedOutput()
	if err != nil {
		t.Fatalf("%s --version: %v\n%s", bin, err, out)
	}
	t.Logf("%s", strings.TrimSpace(string(out)))
}

// s3Config is the configuration of a Store on srv: small parts so that the
// suite's large objects are multipart uploads, short retry backoffs so that
// the persistent-fault tests end quickly.
func s3Config(srv *testenv.S3Server, prefix string, faults *blobtest.FaultTransport) blob.S3Config {
	var wrap func(http.RoundTripper) http.RoundTripper
	if faults != nil {
		wrap = func(rt http.RoundTripper) http.RoundTripper { faults.Base = rt; return faults }
	}
	return blob.S3Config{
		Endpoint:        srv.Endpoint,
		Region:          srv.Region,
		AccessKeyID:     srv.AccessKeyID,
		SecretAccessKey: srv.SecretAccessKey,
		KeyPrefix:       prefix,
		PartSize:        5 << 20,
		MaxAttempts:     4,
		MaxBackoff:      50 * time.Millisecond,
		WrapTransport:   wrap,
	}
}

func randomPrefix() string {
	var b [6]byte
	rand.Read(b[:])
	return "t-" + hex.EncodeToString(b[:])
}

func TestS3Conformance(t *testing.T) {
	srv := testenv.StartS3Server(t)
	blobtest.Run(t, func(t *testing.T) blobtest.Env {
		prefix := randomPrefix() + "/recordings"
		faults := &blobtest.FaultTransport{}
		s, err := blob.NewS3(context.Background(), srv.Bucket, s3Config(srv, prefix, faults))
		if err != nil {
			t.Fatal(err)
		}
		return blobtest.Env{
			Store:  s,
			Faults: faults,
			Incomplete: func(t *testing.T) []string {
				out, err := srv.Client().ListMultipartUploads(context.Background(), &s3.ListMultipartUploadsInput{
					Bucket: &srv.Bucket, Prefix: aws.String(prefix + "/"),
				})
				if err != nil {
					t.Fatalf("ListMultipartUploads: %v", err)
				}
				var left []string
				for _, u := range out.Uploads {
					left = append(left, aws.ToString(u.Key)+" "+aws.ToString(u.UploadId))
				}
				return left
			},
		}
	})
}

// Objects land at <prefix>/<key> in the bucket, where any S3 client finds
// them, and URL names them there.
func TestS3Layout(t *testing.T) {
	srv := testenv.StartS3Server(t)
	ctx := context.Background()
	s, err := blob.NewS3(ctx, srv.Bucket, s3Config(srv, "/sessions/2026/", nil))
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Check(ctx); err != nil {
		t.Fatalf("Check: %v", err)
	}
	data := []byte("transcript\n")
	obj, err := s.Put(ctx, "alice-0123456789abcdef0.log", strings.NewReader(string(data)), int64(len(data)),
		blob.PutOptions{ContentType: "text/plain; charset=utf-8", ServerSideEncryption: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("Put: %+v", obj)
	full := "sessions/2026/alice-0123456789abcdef0.log"
	out, err := srv.Client().GetObject(ctx, &s3.GetObjectInput{Bucket: &srv.Bucket, Key: &full})
	if err != nil {
		t.Fatalf("the object is not at %s: %v", full, err)
	}
	got, _ := io.ReadAll(out.Body)
	out.Body.Close()
	if string(got) != string(data) || aws.ToString(out.ContentType) != "text/plain; charset=utf-8" {
		t.Errorf("%s: %q, content type %q", full, got, aws.ToString(out.ContentType))
	}
	if b, err := os.ReadFile(filepath.Join(srv.Dir, srv.Bucket, full)); err != nil || string(b) != string(data) {
		t.Errorf("backend file: %q, %v", b, err)
	}
	if u, want := s.URL("alice-0123456789abcdef0.log"), srv.Endpoint+"/"+srv.Bucket+"/"+full; u != want {
		t.Errorf("URL = %q, want %q", u, want)
	}
	if u, want := s.URL("a b/c#d"), srv.Endpoint+"/"+srv.Bucket+"/sessions/2026/a%20b/c%23d"; u != want {
		t.Errorf("URL = %q, want %q", u, want)
	}
}

// The SDK's configuration from the environment, as DESIGN.md D6 says.
func TestS3ConfigFromEnvironment(t *testing.T) {
	srv := testenv.StartS3Server(t)
	dir := t.TempDir()
	t.Setenv("AWS_CONFIG_FILE", filepath.Join(dir, "config"))
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", filepath.Join(dir, "credentials"))
	t.Setenv("AWS_PROFILE", "")
	t.Setenv("AWS_ENDPOINT_URL", "")
	os.Unsetenv("AWS_ENDPOINT_URL")
	for _, kv := range srv.Env() {
		k, v, _ := strings.Cut(kv, "=")
		t.Setenv(k, v)
	}
	ctx := context.Background()
	s, err := blob.NewS3(ctx, srv.Bucket, blob.S3Config{KeyPrefix: "env"})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Check(ctx); err != nil {
		t.Fatalf("Check: %v", err)
	}
	blobtest.Put(t, s, "k", []byte("from the environment"))
	blobtest.Want(t, s, "k", []byte("from the environment"))
	if u, want := s.URL("k"), srv.Endpoint+"/"+srv.Bucket+"/env/k"; u != want {
		t.Errorf("URL = %q, want %q (path style for a custom endpoint)", u, want)
	}
}

// Wrong credentials, a missing bucket: clear errors, no secret in them,
// and never ErrNotFound for a missing bucket.
func TestS3Errors(t *testing.T) {
	srv := testenv.StartS3Server(t)
	ctx := context.Background()

	cfg := s3Config(srv, "", nil)
	cfg.SecretAccessKey = "wrong-secret-0123456789abcdef"
	s, err := blob.NewS3(ctx, srv.Bucket, cfg)
	if err != nil {
		t.Fatal(err)
	}
	for name, err := range map[string]error{
		"Check": s.Check(ctx),
		"Put": func() error {
			_, err := s.Put(ctx, "k", strings.NewReader("x"), 1, blob.PutOptions{})
			return err
		}(),
		"Stat": func() error { _, err := s.Stat(ctx, "k"); return err }(),
	} {
		if err == nil {
			t.Errorf("%s with a wrong secret succeeded", name)
			continue
		}
		t.Logf("%s with a wrong secret: %v", name, err)
		if strings.Contains(err.Error(), cfg.SecretAccessKey) || strings.Contains(err.Error(), srv.SecretAccessKey) {
			t.Errorf("%s: the error shows a secret: %v", name, err)
		}
		if errors.Is(err, blob.ErrNotFound) {
			t.Errorf("%s: %v is ErrNotFound", name, err)
		}
	}

	s, err = blob.NewS3(ctx, "no-such-bucket", s3Config(srv, "", nil))
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Check(ctx); err == nil {
		t.Error("Check of a missing bucket succeeded")
	}
	if _, _, err := s.Get(ctx, "k"); err == nil || errors.Is(err, blob.ErrNotFound) {
		t.Errorf("Get in a missing bucket: %v; want an error other than ErrNotFound", err)
	} else {
		t.Logf("Get in a missing bucket: %v", err)
	}
	if _, err := s.Put(ctx, "k", strings.NewReader("x"), 1, blob.PutOptions{}); err == nil {
		t.Error("Put in a missing bucket succeeded")
	}

	for _, bad := range []blob.S3Config{
		{PartSize: 1 << 20},
		{AddressingStyle: "sideways"},
		{KeyPrefix: "a/../b"},
		{Endpoint: "ftp://example.com"},
	} {
		if _, err := blob.NewS3(ctx, "b", bad); err == nil {
			t.Errorf("NewS3 with %+v succeeded", bad)
		}
	}
	if _, err := blob.NewS3(ctx, "", blob.S3Config{}); err == nil {
		t.Error("NewS3 with no bucket succeeded")
	}
}

// headerRecorder records one request header of every attempt.
type headerRecorder struct {
	base   http.RoundTripper
	header string
	mu     sync.Mutex
	seen   []string // "METHOD value"
}

func (h *headerRecorder) RoundTrip(req *http.Request) (*http.Response, error) {
	h.mu.Lock()
	h.seen = append(h.seen, req.Method+" "+req.Header.Get(h.header))
	h.mu.Unlock()
	return h.base.RoundTrip(req)
}

func (h *headerRecorder) take() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	s := h.seen
	h.seen = nil
	return s
}

// ServerSideEncryption sends x-amz-server-side-encryption: AES256 on the
// requests that create objects (PutObject, CreateMultipartUpload), and
// nothing without it. versitygw accepts the header but does not encrypt,
// so what the server reports is checked only when it reports something.
func TestS3ServerSideEncryption(t *testing.T) {
	srv := testenv.StartS3Server(t)
	ctx := context.Background()
	rec := &headerRecorder{header: "X-Amz-Server-Side-Encryption"}
	cfg := s3Config(srv, "sse", nil)
	cfg.WrapTransport = func(rt http.RoundTripper) http.RoundTripper { rec.base = rt; return rec }
	s, err := blob.NewS3(ctx, srv.Bucket, cfg)
	if err != nil {
		t.Fatal(err)
	}
	small := []byte("small")
	large := blobtest.Data(9, 6<<20)
	for _, c := range []struct {
		data []byte
		sse  bool
		want []string
	}{
		{small, true, []string{"PUT AES256"}},
		{small, false, []string{"PUT "}},
		{large, true, []string{"POST AES256", "PUT ", "PUT ", "POST "}},
		{large, false, []string{"POST ", "PUT ", "PUT ", "POST "}},
	} {
		obj, err := s.Put(ctx, "k", strings.NewReader(string(c.data)), int64(len(c.data)), blob.PutOptions{ServerSideEncryption: c.sse})
		if err != nil {
			t.Fatal(err)
		}
		if got := rec.take(); strings.Join(got, ",") != strings.Join(c.want, ",") {
			t.Errorf("%d bytes, SSE %v: requests %q, want %q", len(c.data), c.sse, got, c.want)
		}
		if c.sse && obj.ServerSideEncryption != "" && obj.ServerSideEncryption != "AES256" {
			t.Errorf("server reports encryption %q", obj.ServerSideEncryption)
		}
		blobtest.Want(t, s, "k", c.data)
		rec.take()
	}
}
