package sigv4

import (
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Sign signs req in place for service and region at time t, in the
// Authorization header form. It sets req.Host (from req.URL.Host when empty,
// without the scheme's default port, as aws-sdk-go-v2 does), X-Amz-Date,
// X-Amz-Security-Token when c has a session token, and Authorization.
// body is the exact request body (nil means empty); Sign does not set
// req.Body. It signs host, x-amz-date and every x-amz-* and content-type
// header present, so headers added later (User-Agent, Accept-Encoding) may
// change freely in transit.
func Sign(req *http.Request, body []byte, c Credentials, region, service string, t time.Time) error {
	if err := checkSigningArgs(c, region, service); err != nil {
		return err
	}
	if req.URL == nil {
		return errors.New("sigv4: request has no URL")
	}
	host := stripDefaultPort(req.URL.Scheme, requestHost(req))
	if host == "" {
		return errors.New("sigv4: request has no host")
	}
	q, err := url.ParseQuery(req.URL.RawQuery)
	if err != nil {
		// The server would drop the malformed pair from what it verifies
		// while the application might still see it: refuse to sign.
		return fmt.Errorf("sigv4: parse query: %w", err)
	}
	req.Host = host
	if req.Header == nil {
		req.Header = make(http.Header)
	}

	t = t.UTC()
	amzDate := t.Format(amzDateLayout)
	date := t.Format(scopeDateLayout)
	setHeader(req.Header, "X-Amz-Date", amzDate)
	if c.SessionToken != "" {
		setHeader(req.Header, "X-Amz-Security-Token", c.SessionToken)
	}

	all := lowerHeaders(req.Header)
	names := []string{"host"}
	values := map[string][]string{"host": {host}}
	for name, v := range all {
		if name == "content-type" || strings.HasPrefix(name, "x-amz-") {
			names = append(names, name)
			values[name] = v
		}
	}
	slices.Sort(names)

	method := req.Method
	if method == "" {
		method = http.MethodGet
	}
	in := signingInput{
		method:      method,
		uri:         canonicalURI(urlPath(req.URL), service),
		query:       canonicalQuery(q, false),
		headers:     names,
		values:      values,
		payloadHash: hashHex(body),
	}
	sig := signature(c.SecretAccessKey, date, region, service, amzDate, in.canonicalRequest())
	setHeader(req.Header, "Authorization", algorithm+
		" Credential="+c.AccessKeyID+"/"+scope(date, region, service)+
		", SignedHeaders="+strings.Join(names, ";")+
		", Signature="+hex.EncodeToString(sig))
	return nil
}

// Presign returns a copy of u carrying the query-string form of SigV4 for a
// request with the given method (empty means GET) and an empty body:
// X-Amz-Algorithm, X-Amz-Credential, X-Amz-Date, X-Amz-Expires,
// X-Amz-SignedHeaders=host, X-Amz-Security-Token when c has a session token,
// and X-Amz-Signature. Tether uses it for WebSocket URLs.
//
// The host signed is u.Host exactly, default port included if present,
// because that is the Host header a client dialling u sends. expires must be
// between one second and seven days; it is truncated to whole seconds.
func Presign(method string, u *url.URL, c Credentials, region, service string, t time.Time, expires time.Duration) (*url.URL, error) {
	if err := checkSigningArgs(c, region, service); err != nil {
		return nil, err
	}
	secs := int64(expires / time.Second)
	if secs < 1 || secs > maxPresignExpiry {
		return nil, fmt.Errorf("sigv4: presign expiry %v outside 1s to 168h", expires)
	}
	if u == nil || u.Host == "" {
		return nil, errors.New("sigv4: URL has no host")
	}
	q, err := url.ParseQuery(u.RawQuery)
	if err != nil {
		return nil, fmt.Errorf("sigv4: parse query: %w", err)
	}
	if method == "" {
		method = http.MethodGet
	}

	t = t.UTC()
	date := t.Format(scopeDateLayout)
	amzDate := t.Format(amzDateLayout)
	q.Del("X-Amz-Signature")
	q.Set("X-Amz-Algorithm", algorithm)
	q.Set("X-Amz-Credential", c.AccessKeyID+"/"+scope(date, region, service))
	q.Set("X-Amz-Date", amzDate)
	q.Set("X-Amz-Expires", strconv.FormatInt(secs, 10))
	q.Set("X-Amz-SignedHeaders", "host")
	if c.SessionToken != "" {
		q.Set("X-Amz-Security-Token", c.SessionToken)
	}

	query := canonicalQuery(q, false)
	in := signingInput{
		method:      method,
		uri:         canonicalURI(urlPath(u), service),
		query:       query,
		headers:     []string{"host"},
		values:      map[string][]string{"host": {u.Host}},
		payloadHash: hashHex(nil),
	}
	sig := signature(c.SecretAccessKey, date, region, service, amzDate, in.canonicalRequest())

	out := *u
	// The canonical encoding is a valid query string, so what the server
	// reads back is exactly what was signed.
	out.RawQuery = query + "&X-Amz-Signature=" + hex.EncodeToString(sig)
	out.ForceQuery = false
	return &out, nil
}

func checkSigningArgs(c Credentials, region, service string) error {
	switch {
	case c.AccessKeyID == "" || c.SecretAccessKey == "":
		return errors.New("sigv4: missing access key or secret")
	case strings.Contains(c.AccessKeyID, "/"):
		return errors.New("sigv4: access key id contains '/'")
	case region == "" || service == "":
		return errors.New("sigv4: missing region or service")
	case strings.Contains(region, "/") || strings.Contains(service, "/"):
		return errors.New("sigv4: region or service contains '/'")
	}
	return nil
}

// setHeader replaces every spelling of key, so that a client-built map with
// "x-amz-date" does not end up signing two dates.
func setHeader(h http.Header, key, value string) {
	for k := range h {
		if strings.EqualFold(k, key) {
			delete(h, k)
		}
	}
	h.Set(key, value)
}

// stripDefaultPort drops ":80" for http/ws and ":443" for https/wss, as
// aws-sdk-go-v2 does before signing (and then sends the stripped Host).
func stripDefaultPort(scheme, host string) string {
	switch strings.ToLower(scheme) {
	case "http", "ws":
		return strings.TrimSuffix(host, ":80")
	case "https", "wss":
		return strings.TrimSuffix(host, ":443")
	}
	return host
}
