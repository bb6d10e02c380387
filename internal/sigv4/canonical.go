package sigv4

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
)

// signingInput is everything the signature covers besides the scope.
type signingInput struct {
	method      string
	uri         string   // canonical URI, already encoded
	query       string   // canonical query string
	headers     []string // signed header names, lower case, in the order signed
	values      map[string][]string
	payloadHash string
}

// canonicalRequest joins the parts as SigV4 requires. The header list is
// used in the order given: the client chose it and signed that order.
func (in *signingInput) canonicalRequest() string {
	var b strings.Builder
	b.WriteString(in.method)
	b.WriteByte('\n')
	b.WriteString(in.uri)
	b.WriteByte('\n')
	b.WriteString(in.query)
	b.WriteByte('\n')
	for _, name := range in.headers {
		b.WriteString(name)
		b.WriteByte(':')
		b.WriteString(canonicalHeaderValue(in.values[name]))
		b.WriteByte('\n')
	}
	b.WriteByte('\n')
	b.WriteString(strings.Join(in.headers, ";"))
	b.WriteByte('\n')
	b.WriteString(in.payloadHash)
	return b.String()
}

// signature returns HMAC-SHA256(signing key, string to sign). amzDate is the
// request time in ISO 8601 basic format; date is the scope date.
func signature(secret, date, region, service, amzDate, canonicalRequest string) []byte {
	sum := sha256.Sum256([]byte(canonicalRequest))
	stringToSign := algorithm + "\n" + amzDate + "\n" + scope(date, region, service) + "\n" + hex.EncodeToString(sum[:])
	key := hmacSHA256([]byte("AWS4"+secret), date)
	key = hmacSHA256(key, region)
	key = hmacSHA256(key, service)
	key = hmacSHA256(key, terminator)
	return hmacSHA256(key, stringToSign)
}

func scope(date, region, service string) string {
	return date + "/" + region + "/" + service + "/" + terminator
}

func hmacSHA256(key []byte, data string) []byte {
	h := hmac.New(sha256.New, key)
	h.Write([]byte(data))
	return h.Sum(nil)
}

func hashHex(body []byte) string {
	sum := sha256.Sum256(body)
	return hex.EncodeToString(sum[:])
}

// canonicalHeaderValue trims each value, collapses runs of spaces and joins
// repeated headers with commas, in the order received. Only spaces are
// collapsed, not tabs, exactly as aws-sdk-go-v2 does.
func canonicalHeaderValue(values []string) string {
	var b strings.Builder
	for i, v := range values {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(strings.TrimSpace(collapseSpaces(v)))
	}
	return b.String()
}

func collapseSpaces(s string) string {
	s = strings.Trim(s, " ")
	if !strings.Contains(s, "  ") {
		return s
	}
	var b strings.Builder
	b.Grow(len(s))
	space := false
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == ' ' {
			if space {
				continue
			}
			space = true
		} else {
			space = false
		}
		b.WriteByte(c)
	}
	return b.String()
}

// lowerHeaders folds h into lower-case names. Keys are visited in sorted
// order so that a client-built map holding both "X-Foo" and "x-foo" merges
// the same way every time; server requests only have canonical keys.
func lowerHeaders(h http.Header) map[string][]string {
	keys := make([]string, 0, len(h))
	for k := range h {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	m := make(map[string][]string, len(h))
	for _, k := range keys {
		lk := strings.ToLower(k)
		m[lk] = append(m[lk], h[k]...)
	}
	return m
}

// requestHeaderValues returns the values of the named signed headers as the
// client sent them. net/http keeps Host and Transfer-Encoding out of the
// header map, and a client-built request has no Content-Length there; they
// are taken from the request's fields instead.
func requestHeaderValues(req *http.Request, names []string) map[string][]string {
	all := lowerHeaders(req.Header)
	values := make(map[string][]string, len(names))
	for _, name := range names {
		if v, ok := all[name]; ok {
			values[name] = v
			continue
		}
		switch name {
		case "host":
			values[name] = []string{requestHost(req)}
		case "content-length":
			if req.ContentLength >= 0 {
				values[name] = []string{strconv.FormatInt(req.ContentLength, 10)}
			}
		case "transfer-encoding":
			if len(req.TransferEncoding) > 0 {
				values[name] = []string{strings.Join(req.TransferEncoding, ",")}
			}
		}
	}
	return values
}

func requestHost(req *http.Request) string {
	if req.Host != "" {
		return req.Host
	}
	if req.URL != nil {
		return req.URL.Host
	}
	return ""
}

// urlPath is the path as it goes on the wire: URL.Opaque when the caller
// pre-escaped it ("//host/path"), else the escaped path; "/" when empty.
// aws-sdk-go-v2 signs the same string.
func urlPath(u *url.URL) string {
	var p string
	if u.Opaque != "" {
		opaque, _, _ := strings.Cut(u.Opaque, "?")
		opaque = strings.TrimPrefix(opaque, "//")
		if i := strings.IndexByte(opaque, '/'); i >= 0 {
			p = opaque[i:]
		}
	} else {
		p = u.EscapedPath()
	}
	if p == "" {
		p = "/"
	}
	return p
}

// wirePath is the path the client sent. On the server RequestURI holds it
// byte for byte; URL.EscapedPath could re-encode it differently.
func wirePath(req *http.Request) string {
	if strings.HasPrefix(req.RequestURI, "/") {
		p, _, _ := strings.Cut(req.RequestURI, "?")
		return p
	}
	if req.URL == nil {
		return "/"
	}
	return urlPath(req.URL)
}

// canonicalURI encodes the wire path once more for every service but S3.
// The wire path is already percent-encoded, so this is the "encode twice"
// of the SigV4 specification, and exactly what aws-sdk-go-v2 and botocore
// do (EscapePath over EscapedPath; quote over the prepared URL).
func canonicalURI(path, service string) string {
	if path == "" {
		path = "/"
	}
	if service == "s3" {
		return path
	}
	return escape(path, true)
}

// normalizePath removes "." and ".." segments and empty segments, as
// botocore (the AWS CLI) does before signing for every service but S3;
// aws-sdk-go-v2 does not, so Verify accepts either.
func normalizePath(p string) string {
	if p == "" {
		return "/"
	}
	var out []string
	for seg := range strings.SplitSeq(p, "/") {
		switch seg {
		case "", ".":
		case "..":
			if len(out) > 0 {
				out = out[:len(out)-1]
			}
		default:
			out = append(out, seg)
		}
	}
	n := "/" + strings.Join(out, "/")
	if strings.HasSuffix(p, "/") && len(out) > 0 {
		n += "/"
	}
	return n
}

// canonicalQuery encodes every name and value, then sorts by name and value
// (sorting after encoding, as the specification says). X-Amz-Signature is
// left out when skipSignature is set, for presigned URLs.
func canonicalQuery(q url.Values, skipSignature bool) string {
	type pair struct{ k, v string }
	pairs := make([]pair, 0, len(q))
	for k, vs := range q {
		if skipSignature && k == "X-Amz-Signature" {
			continue
		}
		ek := escape(k, false)
		for _, v := range vs {
			pairs = append(pairs, pair{ek, escape(v, false)})
		}
	}
	slices.SortFunc(pairs, func(a, b pair) int {
		if c := strings.Compare(a.k, b.k); c != 0 {
			return c
		}
		return strings.Compare(a.v, b.v)
	})
	var b strings.Builder
	for i, p := range pairs {
		if i > 0 {
			b.WriteByte('&')
		}
		b.WriteString(p.k)
		b.WriteByte('=')
		b.WriteString(p.v)
	}
	return b.String()
}

// escape percent-encodes every byte outside RFC 3986's unreserved set
// (and '/' too unless keepSlash), with upper-case hex.
func escape(s string, keepSlash bool) string {
	const hexDigits = "0123456789ABCDEF"
	n := 0
	for i := 0; i < len(s); i++ {
		if !unreserved(s[i]) && !(keepSlash && s[i] == '/') {
			n++
		}
	}
	if n == 0 {
		return s
	}
	b := make([]byte, 0, len(s)+2*n)
	for i := 0; i < len(s); i++ {
		c := s[i]
		if unreserved(c) || (keepSlash && c == '/') {
			b = append(b, c)
			continue
		}
		b = append(b, '%', hexDigits[c>>4], hexDigits[c&15])
	}
	return string(b)
}

func unreserved(c byte) bool {
	return 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' ||
		c == '-' || c == '.' || c == '_' || c == '~'
}
