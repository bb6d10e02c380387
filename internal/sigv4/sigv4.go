// Package sigv4 signs and verifies HTTP requests with AWS Signature Version 4.
//
// It owns the canonical request, the string to sign and the signing key, so
// that Tether's own CLI and agent (Sign, Presign) and its server (Parse,
// Verify) agree byte for byte with the AWS CLI and the AWS SDK for Go v2.
// It is a leaf: standard library only, no I/O, no logging, safe to import
// from any binary including the agent.
//
// Verification is split in two so that the caller can look the access key up
// between the steps:
//
//	a, err := sigv4.Parse(req)              // *Error on malformed input
//	secret, ok := lookup(a.AccessKeyID)     // caller's key store
//	if !ok { err = sigv4.UnrecognizedClient() }
//	err = sigv4.Verify(req, body, a, secret, opts)
//
// Every error Parse and Verify return for a bad request is an *Error whose
// Code and Message are what AWS services answer, ready for the JSON error
// body. No error or message contains the secret, the expected signature or
// the string to sign.
package sigv4

const (
	algorithm = "AWS4-HMAC-SHA256"
	// amzDateLayout is the ISO 8601 basic format of X-Amz-Date.
	amzDateLayout = "20060102T150405Z"
	// scopeDateLayout is the date in the credential scope.
	scopeDateLayout = "20060102"
	terminator      = "aws4_request"
	// unsignedPayload is the X-Amz-Content-Sha256 value that opts out of
	// body signing; Verify does not honour it (see Verify).
	unsignedPayload = "UNSIGNED-PAYLOAD"
	// maxPresignExpiry is the longest X-Amz-Expires AWS accepts.
	maxPresignExpiry = 7 * 24 * 60 * 60 // seconds
)

// Credentials are an AWS-style access key pair, with the session token of
// temporary credentials.
type Credentials struct {
	AccessKeyID     string
	SecretAccessKey string
	SessionToken    string
}

// Error codes, as AWS services put them in "__type". All are client faults
// (HTTP 400 in the JSON API, protocol.md §1.2).
const (
	CodeMissingAuthenticationToken = "MissingAuthenticationTokenException"
	CodeIncompleteSignature        = "IncompleteSignatureException"
	CodeInvalidSignature           = "InvalidSignatureException"
	CodeUnrecognizedClient         = "UnrecognizedClientException"
)

// Error is a rejected signature. Code and Message are safe to send to the
// client verbatim.
type Error struct {
	Code    string
	Message string
}

func (e *Error) Error() string { return e.Code + ": " + e.Message }

// UnrecognizedClient is the error for an access key the caller does not
// know (or whose session token does not match). Parse and Verify never
// return it; callers use it so that every endpoint answers with AWS's text.
func UnrecognizedClient() *Error {
	return &Error{Code: CodeUnrecognizedClient, Message: "The security token included in the request is invalid."}
}

const mismatchMessage = "The request signature we calculated does not match the signature you provided. " +
	"Check your AWS Secret Access Key and signing method. Consult the service documentation for details."

func errMissingToken() *Error {
	return &Error{Code: CodeMissingAuthenticationToken, Message: "Missing Authentication Token"}
}

func errIncomplete(msg string) *Error {
	return &Error{Code: CodeIncompleteSignature, Message: msg}
}

func errInvalid(msg string) *Error {
	return &Error{Code: CodeInvalidSignature, Message: msg}
}

// echo makes client input fit to be quoted back in an error message: short,
// printable ASCII only, so hostile input cannot bloat or forge log lines.
func echo(s string) string {
	const max = 256
	truncated := len(s) > max
	if truncated {
		s = s[:max]
	}
	b := []byte(s)
	for i, c := range b {
		if c < 0x20 || c >= 0x7f {
			b[i] = '?'
		}
	}
	if truncated {
		return string(b) + "..."
	}
	return string(b)
}
