package blob

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"
)

// S3Config configures the S3 client the way the AWS SDK for Go v2 is
// configured: every empty field falls back to the SDK's own resolution
// (environment, then the shared config and credentials files), so
// AWS_ENDPOINT_URL_S3 (or AWS_ENDPOINT_URL), AWS_ACCESS_KEY_ID,
// AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN, AWS_REGION, AWS_PROFILE and
// AWS_MAX_ATTEMPTS all work as they do for the AWS CLI.
type S3Config struct {
	// Endpoint is the S3 endpoint URL, e.g. http://127.0.0.1:7070 for an
	// S3-compatible server. Empty: AWS_ENDPOINT_URL_S3, AWS_ENDPOINT_URL,
	// the shared config, then AWS itself.
	Endpoint string
	// Region; empty: AWS_REGION, AWS_DEFAULT_REGION, the shared config,
	// then us-east-1 (what S3-compatible servers expect by default).
	Region string
	// Static credentials; empty: the SDK's default credential chain.
	AccessKeyID     string
	SecretAccessKey string
	SessionToken    string
	// AddressingStyle is "path" (https://host/bucket/key), "virtual"
	// (https://bucket.host/key) or "" (auto: path when an endpoint other
	// than AWS's is configured, since S3-compatible servers rarely have
	// wildcard DNS; virtual for AWS), as the AWS CLI's addressing_style.
	AddressingStyle string
	// KeyPrefix is prepended (with a slash) to every key, e.g. the
	// preference s3KeyPrefix. Leading and trailing slashes are ignored.
	KeyPrefix string
	// PartSize is the size of a multipart upload's parts and the largest
	// object sent in one PutObject. Default 8 MiB; at least 5 MiB (S3's
	// minimum part size). Put holds one part in memory while it uploads it.
	PartSize int64
	// MaxAttempts and MaxBackoff tune the SDK's standard retryer, which
	// retries every request (each part separately) on throttling, 5xx and
	// connection errors. 0: the SDK's defaults (3 attempts or
	// AWS_MAX_ATTEMPTS; 20 s).
	MaxAttempts int
	MaxBackoff  time.Duration
	// WrapTransport, when set, wraps the SDK's HTTP client below its
	// retryer: every attempt goes through the returned RoundTripper (tests
	// inject faults with it). The SDK's client itself is kept, so that
	// AWS_CA_BUNDLE and the SDK's timeouts still apply.
	WrapTransport func(http.RoundTripper) http.RoundTripper
	// Logger receives warnings (an abort that failed); nil: slog.Default().
	Logger *slog.Logger
}

const (
	defaultPartSize = 8 << 20
	minPartSize     = 5 << 20
	maxParts        = 10000
)

// S3 is a Store in an S3 bucket, under a key prefix, through the AWS SDK
// for Go v2 (which also speaks to S3-compatible servers: versitygw, MinIO,
// Ceph, ...).
//
// Put buffers the body one part at a time: a body of at most PartSize bytes
// is one PutObject, a larger one a multipart upload. Each request has a
// seekable body, so the SDK's retryer can resend it after a connection reset
// or a 5xx, and each carries a CRC32 checksum the server verifies. S3
// publishes an object only when its PutObject or CompleteMultipartUpload
// succeeds, so a Put that fails (body error, cancelled context, requests
// that keep failing) leaves the previous object in place; a failed
// multipart upload is aborted so its parts do not linger.
//
// Stat answers ErrNotFound for a missing bucket too (HeadObject's 404 has
// no body to tell them apart); Get and Put name NoSuchBucket, and Check
// verifies the bucket.
//
// URL is the path-style URL of the object on the endpoint, e.g.
// https://s3.eu-west-1.amazonaws.com/bucket/prefix/key, or
// http://127.0.0.1:7070/bucket/prefix/key for an S3-compatible server.
type S3 struct {
	client   *s3.Client
	bucket   string
	prefix   string // "" or ends with "/"
	partSize int64
	endpoint *url.URL // for URL
	log      *slog.Logger
}

var _ Store = (*S3)(nil)

// NewS3 returns the Store for bucket. It makes no request: call Check to
// verify the configuration against the server.
func NewS3(ctx context.Context, bucket string, cfg S3Config) (*S3, error) {
	if bucket == "" {
		return nil, errors.New("blob: s3: empty bucket name")
	}
	prefix := strings.Trim(cfg.KeyPrefix, "/")
	if prefix != "" {
		if err := ValidateKey(prefix); err != nil {
			return nil, fmt.Errorf("blob: s3 key prefix: %w", err)
		}
		prefix += "/"
	}
	partSize := cfg.PartSize
	if partSize == 0 {
		partSize = defaultPartSize
	}
	if partSize < minPartSize {
		return nil, fmt.Errorf("blob: s3: part size %d is below S3's minimum of %d", partSize, minPartSize)
	}
	var style string
	switch cfg.AddressingStyle {
	case "", "auto":
	case "path", "virtual":
		style = cfg.AddressingStyle
	default:
		return nil, fmt.Errorf("blob: s3: addressing style %q: want path, virtual or empty", cfg.AddressingStyle)
	}

	var opts []func(*config.LoadOptions) error
	if cfg.Region != "" {
		opts = append(opts, config.WithRegion(cfg.Region))
	}
	if cfg.AccessKeyID != "" || cfg.SecretAccessKey != "" {
		opts = append(opts, config.WithCredentialsProvider(
			credentials.NewStaticCredentialsProvider(cfg.AccessKeyID, cfg.SecretAccessKey, cfg.SessionToken)))
	}
	if cfg.MaxAttempts > 0 || cfg.MaxBackoff > 0 {
		opts = append(opts, config.WithRetryer(func() aws.Retryer {
			return retry.NewStandard(func(o *retry.StandardOptions) {
				if cfg.MaxAttempts > 0 {
					o.MaxAttempts = cfg.MaxAttempts
				}
				if cfg.MaxBackoff > 0 {
					o.MaxBackoff = cfg.MaxBackoff
				}
			})
		}))
	}
	awsCfg, err := config.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return nil, fmt.Errorf("blob: s3: load AWS configuration: %w", err)
	}
	if awsCfg.Region == "" {
		awsCfg.Region = "us-east-1"
	}
	client := s3.NewFromConfig(awsCfg, func(o *s3.Options) {
		if cfg.Endpoint != "" {
			o.BaseEndpoint = aws.String(cfg.Endpoint)
		}
		switch style {
		case "path":
			o.UsePathStyle = true
		case "virtual":
			o.UsePathStyle = false
		default:
			o.UsePathStyle = o.BaseEndpoint != nil
		}
		if cfg.WrapTransport != nil {
			rt := cfg.WrapTransport(doerTransport{o.HTTPClient})
			o.HTTPClient = &http.Client{Transport: rt}
		}
		// GetObject of an object uploaded in parts has no whole-object
		// checksum to validate; that is expected, not worth a log line.
		o.DisableLogOutputChecksumValidationSkipped = true
	})
	s := &S3{
		client:   client,
		bucket:   bucket,
		prefix:   prefix,
		partSize: partSize,
		log:      cfg.Logger,
	}
	if s.log == nil {
		s.log = slog.Default()
	}
	o := client.Options()
	if o.BaseEndpoint != nil {
		u, err := url.Parse(*o.BaseEndpoint)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return nil, fmt.Errorf("blob: s3: endpoint %q is not an http(s) URL", *o.BaseEndpoint)
		}
		u.Path = strings.TrimSuffix(u.Path, "/")
		u.RawQuery, u.Fragment, u.User = "", "", nil
		s.endpoint = u
	} else {
		s.endpoint = &url.URL{Scheme: "https", Host: "s3." + o.Region + ".amazonaws.com"}
	}
	return s, nil
}

// Bucket is the bucket's name.
func (s *S3) Bucket() string { return s.bucket }

// Prefix is the key prefix ("" or ending with a slash).
func (s *S3) Prefix() string { return s.prefix }

// Check asks the server whether the bucket exists and the credentials
// reach it (HeadBucket).
func (s *S3) Check(ctx context.Context) error {
	if _, err := s.client.HeadBucket(ctx, &s3.HeadBucketInput{Bucket: &s.bucket}); err != nil {
		return fmt.Errorf("blob: s3 bucket %s: %w", s.bucket, err)
	}
	return nil
}

// Put implements Store.
func (s *S3) Put(ctx context.Context, key string, r io.Reader, size int64, opts PutOptions) (Object, error) {
	if err := ValidateKey(key); err != nil {
		return Object{}, err
	}
	obj, err := s.put(ctx, key, ctxReader{ctx, r}, size, opts)
	if err != nil {
		return Object{}, fmt.Errorf("blob: s3 put %s: %w", s.name(key), err)
	}
	return obj, nil
}

func (s *S3) put(ctx context.Context, key string, r io.Reader, size int64, opts PutOptions) (Object, error) {
	if err := ctx.Err(); err != nil {
		return Object{}, err
	}
	partSize := s.partSize
	if size > partSize*maxParts {
		partSize = (size + maxParts - 1) / maxParts
	}
	h := sha256.New()
	body := io.TeeReader(r, h)
	if size >= 0 {
		body = io.TeeReader(io.LimitReader(r, size), h)
	}
	// The first part grows with what arrives, so a small body of unknown
	// size costs its size, not a part.
	var first bytes.Buffer
	if size >= 0 {
		first.Grow(int(min(size, partSize)) + bytes.MinRead) // ReadFrom wants MinRead spare bytes
	}
	n, err := io.CopyN(&first, body, partSize)
	if err != nil && err != io.EOF {
		return Object{}, err
	}
	if n < partSize || (size >= 0 && n == size) {
		if err := checkSize(r, n, size); err != nil {
			return Object{}, err
		}
		return s.putObject(ctx, key, first.Bytes(), opts, h.Sum(nil))
	}
	return s.multipart(ctx, key, body, r, first.Bytes(), size, opts, h)
}

// checkSize verifies, once the body's first total bytes are read, that
// they are the whole body and match size (when it is not negative).
func checkSize(r io.Reader, total, size int64) error {
	if size < 0 {
		return nil
	}
	if total < size {
		return fmt.Errorf("%w: body ended after %d of %d bytes", ErrSizeMismatch, total, size)
	}
	var one [1]byte
	for {
		m, err := r.Read(one[:])
		if m > 0 {
			return fmt.Errorf("%w: body is longer than %d bytes", ErrSizeMismatch, size)
		}
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
	}
}

func (s *S3) putObject(ctx context.Context, key string, data []byte, opts PutOptions, sum []byte) (Object, error) {
	in := &s3.PutObjectInput{
		Bucket:            &s.bucket,
		Key:               aws.String(s.prefix + key),
		Body:              bytes.NewReader(data),
		ContentLength:     aws.Int64(int64(len(data))),
		ChecksumAlgorithm: types.ChecksumAlgorithmCrc32,
	}
	s.setOptions(opts, &in.ContentType, &in.ServerSideEncryption)
	out, err := s.client.PutObject(ctx, in)
	if err != nil {
		return Object{}, err
	}
	return Object{
		Key:                  key,
		Size:                 int64(len(data)),
		ETag:                 unquote(out.ETag),
		SHA256:               hex.EncodeToString(sum),
		ContentType:          aws.ToString(in.ContentType),
		ServerSideEncryption: string(out.ServerSideEncryption),
	}, nil
}

func (s *S3) setOptions(opts PutOptions, contentType **string, sse *types.ServerSideEncryption) {
	ct := opts.ContentType
	if ct == "" {
		ct = "application/octet-stream"
	}
	*contentType = aws.String(ct)
	if opts.ServerSideEncryption {
		*sse = types.ServerSideEncryptionAes256
	}
}

// multipart uploads first (a full part already read) and the rest of body
// in parts of len(first) bytes, and completes the upload, or aborts it.
func (s *S3) multipart(ctx context.Context, key string, body, raw io.Reader, first []byte, size int64, opts PutOptions, h hash.Hash) (_ Object, err error) {
	create := &s3.CreateMultipartUploadInput{
		Bucket:            &s.bucket,
		Key:               aws.String(s.prefix + key),
		ChecksumAlgorithm: types.ChecksumAlgorithmCrc32,
	}
	s.setOptions(opts, &create.ContentType, &create.ServerSideEncryption)
	up, err := s.client.CreateMultipartUpload(ctx, create)
	if err != nil {
		return Object{}, err
	}
	uploadID := aws.ToString(up.UploadId)
	defer func() {
		if err == nil {
			return
		}
		// Abort even when ctx is what failed: the parts would otherwise
		// be kept (and billed) until a lifecycle rule removes them. They
		// are never visible as an object either way.
		actx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
		defer cancel()
		if _, aerr := s.client.AbortMultipartUpload(actx, &s3.AbortMultipartUploadInput{
			Bucket: &s.bucket, Key: create.Key, UploadId: &uploadID,
		}); aerr != nil {
			s.log.Warn("blob: s3: abort of a failed multipart upload failed; its parts stay until a lifecycle rule removes them",
				"bucket", s.bucket, "key", s.prefix+key, "upload_id", uploadID, "err", aerr)
		}
	}()

	var parts []types.CompletedPart
	partLen := len(first)
	buf := first
	total := int64(0)
	for num := int32(1); ; num++ {
		if num > maxParts {
			return Object{}, fmt.Errorf("body needs more than %d parts of %d bytes", maxParts, partLen)
		}
		out, err := s.client.UploadPart(ctx, &s3.UploadPartInput{
			Bucket:            &s.bucket,
			Key:               create.Key,
			UploadId:          &uploadID,
			PartNumber:        aws.Int32(num),
			Body:              bytes.NewReader(buf),
			ContentLength:     aws.Int64(int64(len(buf))),
			ChecksumAlgorithm: types.ChecksumAlgorithmCrc32,
		})
		if err != nil {
			return Object{}, fmt.Errorf("part %d: %w", num, err)
		}
		parts = append(parts, types.CompletedPart{PartNumber: aws.Int32(num), ETag: out.ETag, ChecksumCRC32: out.ChecksumCRC32})
		total += int64(len(buf))
		if len(buf) < partLen || (size >= 0 && total == size) {
			break // a short part is the last one
		}
		n, rerr := io.ReadFull(body, buf[:partLen])
		if rerr != nil && rerr != io.EOF && rerr != io.ErrUnexpectedEOF {
			return Object{}, rerr
		}
		if size >= 0 && n < partLen && total+int64(n) < size {
			return Object{}, fmt.Errorf("%w: body ended after %d of %d bytes", ErrSizeMismatch, total+int64(n), size)
		}
		if n == 0 {
			break // the body ended on a part boundary
		}
		buf = buf[:n]
	}
	if err := checkSize(raw, total, size); err != nil {
		return Object{}, err
	}
	if err := ctx.Err(); err != nil {
		return Object{}, err
	}
	done, err := s.client.CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{
		Bucket:          &s.bucket,
		Key:             create.Key,
		UploadId:        &uploadID,
		MultipartUpload: &types.CompletedMultipartUpload{Parts: parts},
	})
	if err != nil {
		return Object{}, fmt.Errorf("complete: %w", err)
	}
	return Object{
		Key:                  key,
		Size:                 total,
		ETag:                 unquote(done.ETag),
		SHA256:               hex.EncodeToString(h.Sum(nil)),
		ContentType:          aws.ToString(create.ContentType),
		ServerSideEncryption: string(done.ServerSideEncryption),
	}, nil
}

// Get implements Store.
func (s *S3) Get(ctx context.Context, key string) (io.ReadCloser, Object, error) {
	if err := ValidateKey(key); err != nil {
		return nil, Object{}, err
	}
	out, err := s.client.GetObject(ctx, &s3.GetObjectInput{Bucket: &s.bucket, Key: aws.String(s.prefix + key)})
	if err != nil {
		return nil, Object{}, s.opErr("get", key, err)
	}
	return out.Body, Object{
		Key:                  key,
		Size:                 aws.ToInt64(out.ContentLength),
		ETag:                 unquote(out.ETag),
		ModTime:              aws.ToTime(out.LastModified),
		ContentType:          aws.ToString(out.ContentType),
		ServerSideEncryption: string(out.ServerSideEncryption),
	}, nil
}

// Stat implements Store.
func (s *S3) Stat(ctx context.Context, key string) (Object, error) {
	if err := ValidateKey(key); err != nil {
		return Object{}, err
	}
	out, err := s.client.HeadObject(ctx, &s3.HeadObjectInput{Bucket: &s.bucket, Key: aws.String(s.prefix + key)})
	if err != nil {
		return Object{}, s.opErr("stat", key, err)
	}
	return Object{
		Key:                  key,
		Size:                 aws.ToInt64(out.ContentLength),
		ETag:                 unquote(out.ETag),
		ModTime:              aws.ToTime(out.LastModified),
		ContentType:          aws.ToString(out.ContentType),
		ServerSideEncryption: string(out.ServerSideEncryption),
	}, nil
}

// Delete implements Store.
func (s *S3) Delete(ctx context.Context, key string) error {
	if err := ValidateKey(key); err != nil {
		return err
	}
	_, err := s.client.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: &s.bucket, Key: aws.String(s.prefix + key)})
	if err != nil {
		if errors.Is(s.opErr("delete", key, err), ErrNotFound) {
			return nil
		}
		return fmt.Errorf("blob: s3 delete %s: %w", s.name(key), err)
	}
	return nil
}

// URL implements Store: the object's path-style URL on the endpoint.
func (s *S3) URL(key string) string {
	if ValidateKey(key) != nil {
		return ""
	}
	u := *s.endpoint
	u.Path = u.Path + "/" + s.bucket + "/" + s.prefix + key
	u.RawPath = ""
	return u.String()
}

// name is bucket/prefix/key, for errors.
func (s *S3) name(key string) string { return s.bucket + "/" + s.prefix + key }

// opErr maps S3's "no such key" (404 on an object) to ErrNotFound.
func (s *S3) opErr(op, key string, err error) error {
	var nsk *types.NoSuchKey
	var nf *types.NotFound
	var apiErr smithy.APIError
	var respErr *smithyhttp.ResponseError
	switch {
	case errors.As(err, &nsk), errors.As(err, &nf):
		return fmt.Errorf("blob: s3 %s %s: %w", op, s.name(key), ErrNotFound)
	case errors.As(err, &apiErr) && apiErr.ErrorCode() == "NoSuchBucket":
		// the bucket is missing: a configuration error, not a missing object
	case errors.As(err, &respErr) && respErr.HTTPStatusCode() == http.StatusNotFound:
		if errors.As(err, &apiErr) && apiErr.ErrorCode() != "NotFound" && apiErr.ErrorCode() != "NoSuchKey" {
			break
		}
		return fmt.Errorf("blob: s3 %s %s: %w", op, s.name(key), ErrNotFound)
	}
	return fmt.Errorf("blob: s3 %s %s: %w", op, s.name(key), err)
}

// doerTransport is the SDK's HTTP client as a RoundTripper.
type doerTransport struct{ c s3.HTTPClient }

func (d doerTransport) RoundTrip(req *http.Request) (*http.Response, error) { return d.c.Do(req) }

func unquote(etag *string) string {
	return strings.Trim(aws.ToString(etag), `"`)
}
