package sigv4

import (
	"crypto/hmac"
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
)

// VerifyOptions say which scopes and clock Verify accepts.
type VerifyOptions struct {
	Region   string        // required scope region, e.g. "us-east-1"
	Services []string      // accepted scope services, e.g. "ssm"; the first is named in errors
	MaxSkew  time.Duration // allowed clock difference; zero means 5 minutes
	Now      time.Time     // zero means time.Now()
}

// Verify checks the parsed signature a against req, its body and the secret
// of a.AccessKeyID. In order it checks: the signed headers include host
// (and x-amz-date when the header form carries X-Amz-Date); the scope's
// region and service are accepted; the scope date is RequestTime's date;
// RequestTime is within MaxSkew of Now, or for a presigned URL not in the
// future and not older than its X-Amz-Expires (at most seven days); an
// X-Amz-Content-Sha256 header, if present, matches the body; and finally the
// recomputed signature, compared in constant time.
//
// The payload hash signed is always sha256(body). A request signed with
// X-Amz-Content-Sha256: UNSIGNED-PAYLOAD therefore fails: Tether's API has
// no bodies large enough to justify leaving them unauthenticated.
//
// For services other than S3 the path is tried as sent and, if different,
// with dot segments and empty segments removed: aws-sdk-go-v2 signs the
// former, botocore (the AWS CLI) the latter.
//
// A rejected request yields an *Error; a misconfigured o yields a plain
// error.
func Verify(req *http.Request, body []byte, a Authorization, secret string, o VerifyOptions) error {
	if o.Region == "" || len(o.Services) == 0 {
		return errors.New("sigv4: VerifyOptions needs Region and Services")
	}
	skew := o.MaxSkew
	if skew <= 0 {
		skew = 5 * time.Minute
	}
	now := o.Now
	if now.IsZero() {
		now = time.Now()
	}
	now = now.UTC()

	if !slices.Contains(a.SignedHeaders, "host") {
		return errInvalid("'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization.")
	}
	if !a.Presigned && req.Header.Get("X-Amz-Date") != "" && !slices.Contains(a.SignedHeaders, "x-amz-date") {
		return errInvalid("'X-Amz-Date' must be a 'SignedHeader' in the AWS Authorization.")
	}
	if a.Region != o.Region {
		return errInvalid("Credential should be scoped to a valid region. ")
	}
	if !slices.Contains(o.Services, a.Service) {
		return errInvalid("Credential should be scoped to correct service: '" + o.Services[0] + "'. ")
	}

	rt := a.RequestTime.UTC()
	amzDate := rt.Format(amzDateLayout)
	if d := rt.Format(scopeDateLayout); d != a.Date {
		return errInvalid("Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: '" +
			echo(a.Date) + "' != '" + d + "', from '" + amzDate + "'.")
	}
	if a.Presigned {
		if a.Expires > maxPresignExpiry*time.Second {
			return errInvalid("X-Amz-Expires must be less than a week (in seconds) that is " + strconv.Itoa(maxPresignExpiry))
		}
		if rt.After(now.Add(skew)) {
			return errNotYetCurrent(rt, now, skew)
		}
		if now.After(rt.Add(a.Expires)) {
			return errExpired(rt, now, a.Expires)
		}
	} else {
		if rt.Before(now.Add(-skew)) {
			return errExpired(rt, now, skew)
		}
		if rt.After(now.Add(skew)) {
			return errNotYetCurrent(rt, now, skew)
		}
	}

	bodyHash := hashHex(body)
	if h := req.Header.Get("X-Amz-Content-Sha256"); h != "" && h != unsignedPayload && !strings.EqualFold(h, bodyHash) {
		return errInvalid("The provided 'x-amz-content-sha256' header does not match what was computed.")
	}

	var q url.Values
	if req.URL != nil {
		q, _ = url.ParseQuery(req.URL.RawQuery) // see Parse for why errors are dropped
	}
	method := req.Method
	if method == "" {
		method = http.MethodGet
	}
	in := signingInput{
		method:      method,
		query:       canonicalQuery(q, a.Presigned),
		headers:     a.SignedHeaders,
		values:      requestHeaderValues(req, a.SignedHeaders),
		payloadHash: bodyHash,
	}
	path := wirePath(req)
	paths := []string{path}
	if a.Service != "s3" {
		if n := normalizePath(path); n != path {
			paths = append(paths, n)
		}
	}
	for _, p := range paths {
		in.uri = canonicalURI(p, a.Service)
		if hmac.Equal(signature(secret, a.Date, a.Region, a.Service, amzDate, in.canonicalRequest()), a.Signature) {
			return nil
		}
	}
	return errInvalid(mismatchMessage)
}

func errExpired(rt, now time.Time, window time.Duration) *Error {
	return errInvalid("Signature expired: " + rt.Format(amzDateLayout) + " is now earlier than " +
		now.Add(-window).Format(amzDateLayout) + " (" + now.Format(amzDateLayout) + " - " + durationText(window) + ".)")
}

func errNotYetCurrent(rt, now time.Time, skew time.Duration) *Error {
	return errInvalid("Signature not yet current: " + rt.Format(amzDateLayout) + " is still later than " +
		now.Add(skew).Format(amzDateLayout) + " (" + now.Format(amzDateLayout) + " + " + durationText(skew) + ".)")
}

func durationText(d time.Duration) string {
	if d%time.Minute == 0 {
		return strconv.FormatInt(int64(d/time.Minute), 10) + " min"
	}
	return strconv.FormatInt(int64(d/time.Second), 10) + " sec"
}
