package testenv

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/http"
	"os"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// s3ServerPkg is versitygw's main package inside the interop/s3server
// module.
const s3ServerPkg = "github.com/versity/versitygw/cmd/versitygw"

var (
	s3BinOnce sync.Once
	s3Bin     string
	s3BinErr  error
	s3BinSkip bool // the build is impossible here (no module proxy, no go)
)

// S3ServerBinary returns the path of versitygw, an S3-compatible server
// (Apache-2.0) built from the module interop/s3server. The build takes two
// to three minutes on a fresh machine, so the binary is cached per machine
// under the user cache directory, keyed by that module's go.mod and go.sum;
// a file lock keeps concurrent test processes from building it twice.
//
// The test is skipped, with the reason, only when the build is impossible
// (no go command, or versitygw's modules cannot be downloaded); under CI
// (CI set in the environment) that fails it instead. A build that fails to
// compile always fails the test.
func S3ServerBinary(t testing.TB) string {
	t.Helper()
	s3BinOnce.Do(func() {
		s3Bin, s3BinSkip, s3BinErr = BuildTool(t, ToolBuild{Name: "versitygw", Module: "interop/s3server",
			Package: s3ServerPkg, CacheKey: "s3server-", Expect: "2-3 minutes"})
	})
	if s3BinErr != nil {
		if s3BinSkip && os.Getenv("CI") == "" {
			t.Skipf("no S3 server to test against: %v", s3BinErr)
		}
		t.Fatalf("S3 server (versitygw): %v", s3BinErr)
	}
	return s3Bin
}

// S3Server is a running S3-compatible server (versitygw's posix backend)
// on loopback, with one empty bucket.
type S3Server struct {
	Endpoint        string // http://127.0.0.1:PORT
	Region          string
	AccessKeyID     string
	SecretAccessKey string
	Bucket          string
	Dir             string // the backend's root: <Dir>/<Bucket>/<key> are the objects
	Proc            *Proc
}

// Env is the environment that points the AWS SDKs and CLI at the server.
func (s *S3Server) Env() []string {
	return []string{
		"AWS_ENDPOINT_URL_S3=" + s.Endpoint,
		"AWS_ACCESS_KEY_ID=" + s.AccessKeyID,
		"AWS_SECRET_ACCESS_KEY=" + s.SecretAccessKey,
		"AWS_REGION=" + s.Region,
	}
}

// StartS3Server builds (or finds) versitygw, starts it on a free loopback
// port with a fresh root directory and random root credentials, creates the
// bucket "tether-test", and stops the server when the test ends.
func StartS3Server(t testing.TB) *S3Server {
	t.Helper()
	bin := S3ServerBinary(t)
	var secret [20]byte
	rand.Read(secret[:])
	s := &S3Server{
		Region:          "us-east-1",
		AccessKeyID:     "TETHERTEST",
		SecretAccessKey: hex.EncodeToString(secret[:]),
		Bucket:          "tether-test",
		Dir:             t.TempDir(),
	}
	args := []string{"--quiet", "--region", s.Region}
	backend := []string{"posix"}
	// The posix backend keeps metadata in extended attributes, or in a
	// sidecar directory where the file system has none.
	if err := syscall.Setxattr(s.Dir, "user.tether-probe", []byte("1"), 0); err != nil {
		backend = append(backend, "--sidecar", t.TempDir())
	} else {
		syscall.Removexattr(s.Dir, "user.tether-probe")
	}
	backend = append(backend, s.Dir)
	// The root credentials go through the environment, not the command
	// line, which other users can read.
	env := []string{"ROOT_ACCESS_KEY_ID=" + s.AccessKeyID, "ROOT_SECRET_ACCESS_KEY=" + s.SecretAccessKey}

	var lastErr error
	for attempt := 0; attempt < 3; attempt++ { // the free port may be taken meanwhile
		addr := fmt.Sprintf("127.0.0.1:%d", FreePort(t))
		p := Start(t, env, bin, append(append(args, "--port", addr), backend...)...)
		lastErr = waitS3(p, addr, 30*time.Second)
		if lastErr == nil {
			s.Endpoint = "http://" + addr
			s.Proc = p
			break
		}
		p.Kill()
	}
	if lastErr != nil {
		t.Fatalf("versitygw did not start: %v", lastErr)
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("versitygw output:\n%s%s", tail(s.Proc.Stdout.String(), 50), tail(s.Proc.Stderr.String(), 50))
		}
	})

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := s.Client().CreateBucket(ctx, &s3.CreateBucketInput{Bucket: &s.Bucket}); err != nil {
		t.Fatalf("create bucket %s: %v", s.Bucket, err)
	}
	return s
}

// Client is an AWS SDK S3 client for the server, as its root user.
func (s *S3Server) Client() *s3.Client {
	return s3.New(s3.Options{
		BaseEndpoint: aws.String(s.Endpoint),
		Region:       s.Region,
		Credentials:  credentials.NewStaticCredentialsProvider(s.AccessKeyID, s.SecretAccessKey, ""),
		UsePathStyle: true,
	})
}

// waitS3 waits until the server at addr answers HTTP (an anonymous request
// gets 403), or its process exits.
func waitS3(p *Proc, addr string, d time.Duration) error {
	deadline := time.Now().Add(d)
	client := &http.Client{Timeout: 2 * time.Second}
	for {
		select {
		case <-p.Done():
			return fmt.Errorf("versitygw exited: %s%s", p.Stdout.String(), p.Stderr.String())
		default:
		}
		resp, err := client.Get("http://" + addr + "/")
		if err == nil {
			resp.Body.Close()
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("no answer on %s after %v: %v", addr, d, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
