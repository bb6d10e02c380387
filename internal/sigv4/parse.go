package sigv4

import (
	"encoding/hex"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Authorization is a parsed SigV4 signature, from either the Authorization
// header or presigned query parameters. Parse fills it in without checking
// it; Verify checks it against the request.
type Authorization struct {
	AccessKeyID   string
	Date          string   // YYYYMMDD from the credential scope
	Region        string   // from the credential scope
	Service       string   // from the credential scope
	SignedHeaders []string // lower-cased, in the order the client gave them
	Signature     []byte   // decoded from hex
	// RequestTime is X-Amz-Date (header or query) or else the Date header.
	RequestTime time.Time
	Presigned   bool
	Expires     time.Duration // X-Amz-Expires, presigned only
	// SessionToken is X-Amz-Security-Token (header or query), empty for
	// long-term keys. The caller checks it belongs to AccessKeyID.
	SessionToken string
}

// Parse extracts the signature from req without verifying it. It returns
// an *Error: MissingAuthenticationTokenException when req carries neither
// an Authorization header nor a presigned query, and
// IncompleteSignatureException when what it carries is malformed.
func Parse(req *http.Request) (Authorization, error) {
	var q url.Values
	if req.URL != nil {
		// Pairs that fail to parse are dropped here, by the signer
		// (aws-sdk-go-v2 uses URL.Query too) and by the application; so
		// nothing an application can read escapes the signature.
		q, _ = url.ParseQuery(req.URL.RawQuery)
	}
	presigned := q.Has("X-Amz-Algorithm") || q.Has("X-Amz-Credential") || q.Has("X-Amz-Signature")
	headers := req.Header.Values("Authorization")
	hasHeader := len(headers) > 1 || len(headers) == 1 && strings.TrimSpace(headers[0]) != ""

	switch {
	case hasHeader && presigned:
		return Authorization{}, errIncomplete("Only one auth mechanism allowed; only the X-Amz-Algorithm query parameter, " +
			"Signature query string parameter or the Authorization header should be specified")
	case hasHeader:
		if len(headers) > 1 {
			return Authorization{}, errIncomplete("Authorization header must appear only once.")
		}
		return parseHeader(req, headers[0])
	case presigned:
		return parseQuery(q)
	}
	return Authorization{}, errMissingToken()
}

var headerParams = [...]string{"Credential", "SignedHeaders", "Signature"}

func parseHeader(req *http.Request, v string) (Authorization, error) {
	suffix := " Authorization=" + echo(v)
	alg, rest, _ := strings.Cut(strings.TrimSpace(v), " ")
	if alg != algorithm {
		return Authorization{}, errIncomplete("Unsupported AWS 'algorithm': '" + echo(alg) + "'." + suffix)
	}

	params := make(map[string]string, len(headerParams))
	for part := range strings.SplitSeq(rest, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		k, val, ok := strings.Cut(part, "=")
		k = strings.TrimSpace(k)
		switch k {
		case "Credential", "SignedHeaders", "Signature":
		default:
			return Authorization{}, errIncomplete("Authorization header has an unexpected element '" + echo(part) + "'." + suffix)
		}
		if !ok {
			return Authorization{}, errIncomplete("Authorization header requires '" + k + "' to have a value." + suffix)
		}
		if _, dup := params[k]; dup {
			return Authorization{}, errIncomplete("Authorization header has more than one '" + k + "' parameter." + suffix)
		}
		params[k] = strings.TrimSpace(val)
	}

	// AWS lists every missing piece at once, then echoes the header.
	var problems []string
	for _, k := range headerParams {
		if params[k] == "" {
			problems = append(problems, "Authorization header requires '"+k+"' parameter.")
		}
	}
	amzDate := req.Header.Get("X-Amz-Date")
	httpDate := req.Header.Get("Date")
	if amzDate == "" && httpDate == "" {
		problems = append(problems, "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header.")
	}
	if len(problems) > 0 {
		return Authorization{}, errIncomplete(strings.Join(problems, " ") + suffix)
	}

	a := Authorization{SessionToken: req.Header.Get("X-Amz-Security-Token")}
	if err := a.parseParts(params["Credential"], params["SignedHeaders"], params["Signature"]); err != nil {
		return Authorization{}, err
	}
	var err error
	if amzDate != "" {
		a.RequestTime, err = parseAmzDate(amzDate)
	} else {
		a.RequestTime, err = http.ParseTime(httpDate)
		if err != nil {
			err = errIncomplete("Date header must be an HTTP date. Got '" + echo(httpDate) + "'.")
		}
	}
	if err != nil {
		return Authorization{}, err
	}
	return a, nil
}

var queryParams = [...]string{
	"X-Amz-Algorithm", "X-Amz-Credential", "X-Amz-Signature",
	"X-Amz-Date", "X-Amz-SignedHeaders", "X-Amz-Expires",
}

func parseQuery(q url.Values) (Authorization, error) {
	var missing []string
	for _, k := range queryParams {
		if vs := q[k]; len(vs) == 0 || vs[0] == "" {
			missing = append(missing, "'"+k+"'")
		}
	}
	for k, vs := range q {
		if len(vs) > 1 && strings.HasPrefix(k, "X-Amz-") {
			return Authorization{}, errIncomplete("AWS query-string parameter '" + echo(k) + "' must appear only once.")
		}
	}
	if len(missing) > 0 {
		return Authorization{}, errIncomplete("AWS query-string parameters must include " +
			strings.Join(missing, ", ") + ". Re-examine the query-string parameters.")
	}
	if alg := q.Get("X-Amz-Algorithm"); alg != algorithm {
		return Authorization{}, errIncomplete("Unsupported AWS 'algorithm': '" + echo(alg) + "'.")
	}

	a := Authorization{Presigned: true, SessionToken: q.Get("X-Amz-Security-Token")}
	if err := a.parseParts(q.Get("X-Amz-Credential"), q.Get("X-Amz-SignedHeaders"), q.Get("X-Amz-Signature")); err != nil {
		return Authorization{}, err
	}
	var err error
	if a.RequestTime, err = parseAmzDate(q.Get("X-Amz-Date")); err != nil {
		return Authorization{}, err
	}
	// 32 bits keep the Duration from overflowing; Verify enforces 7 days.
	secs, err := strconv.ParseUint(q.Get("X-Amz-Expires"), 10, 32)
	if err != nil {
		return Authorization{}, errIncomplete("X-Amz-Expires should be a number of seconds. Got '" + echo(q.Get("X-Amz-Expires")) + "'.")
	}
	a.Expires = time.Duration(secs) * time.Second
	return a, nil
}

// parseParts fills in the fields shared by both forms.
func (a *Authorization) parseParts(credential, signedHeaders, sig string) error {
	parts := strings.Split(credential, "/")
	if len(parts) != 5 || parts[0] == "" {
		return errIncomplete("Credential must have exactly 5 slash-delimited elements, " +
			"e.g. keyid/date/region/service/term, got '" + echo(credential) + "'")
	}
	if parts[4] != terminator {
		return errIncomplete("Credential should be scoped with a valid terminator: 'aws4_request', not '" + echo(parts[4]) + "'. ")
	}
	if d, err := time.Parse(scopeDateLayout, parts[1]); err != nil || d.Format(scopeDateLayout) != parts[1] {
		return errIncomplete("Invalid credential date. Date is not the required format: yyyyMMdd. date=" + echo(parts[1]))
	}
	a.AccessKeyID, a.Date, a.Region, a.Service = parts[0], parts[1], parts[2], parts[3]

	a.SignedHeaders = strings.Split(strings.ToLower(signedHeaders), ";")
	for _, h := range a.SignedHeaders {
		if h == "" || strings.ContainsAny(h, " \t") {
			return errIncomplete("SignedHeaders must be a ';'-separated list of header names, got '" + echo(signedHeaders) + "'.")
		}
	}

	if len(sig) != 64 {
		return errIncomplete("Signature must be 64 hexadecimal characters, got " + strconv.Itoa(len(sig)) + ".")
	}
	b, err := hex.DecodeString(sig)
	if err != nil {
		return errIncomplete("Signature must be 64 hexadecimal characters, got '" + echo(sig) + "'.")
	}
	a.Signature = b
	return nil
}

// parseAmzDate accepts only the exact basic format, so that formatting the
// result gives back the string the client signed.
func parseAmzDate(s string) (time.Time, error) {
	t, err := time.Parse(amzDateLayout, s)
	if err != nil || t.Format(amzDateLayout) != s {
		return time.Time{}, errIncomplete("Date must be in ISO-8601 'basic format'. Got '" + echo(s) +
			"'. See http://en.wikipedia.org/wiki/ISO_8601")
	}
	return t, nil
}
