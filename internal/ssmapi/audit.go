package ssmapi

import (
	"encoding/json"
	"errors"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/tetherhq/tether/internal/api"
	"github.com/tetherhq/tether/internal/audit"
	"github.com/tetherhq/tether/internal/sigv4"
)

// targetFields are the request members that name what an operation acts
// on, most specific first: the first one present (a string) is the event's
// resource.
var targetFields = []string{
	"SessionId", "Target", "InstanceId", "ResourceId", "ActivationId", "Name", "DocumentName",
	"UserName", "GroupName", "PolicyArn", "PolicyName", "KeyId", "AccessKeyId", "PolicySourceArn",
}

// deniedCodes are the refusals of authentication and authorisation; every
// other error code is an "error" outcome.
var deniedCodes = map[string]bool{
	api.CodeAccessDenied: true, api.CodeUnrecognizedClient: true, api.CodeInvalidSignature: true,
	api.CodeIncompleteSignature: true, api.CodeMissingAuthToken: true, api.CodeInvalidClientTokenID: true,
}

// Lengths kept of caller-controlled strings that are not parameters.
const (
	maxActionLen = 128
	maxFieldLen  = 256
	maxReasonLen = 512
)

// AuditEvent describes the call as an audit event of kind "api": the
// operation, the principal (or, for a call that failed authentication, the
// access key id it claimed), sourceIP as the caller decided it (trusted
// proxies applied), the request id, the outcome with its error code, what
// the request named as its target, and its parameters through
// audit.Redact. Nothing is taken from the operation's output except a
// StartSession's session id, so secrets in answers (a new access key's
// secret, a session token) never reach the trail. An unauthenticated
// call's body is not kept at all: anyone can send one.
func (c *Call) AuditEvent(sourceIP string) audit.Event {
	e := audit.Event{
		Time: c.Start, Kind: audit.KindAPI, Action: clean(c.Op, maxActionLen),
		SourceIP: sourceIP, RequestID: c.RequestID, Outcome: audit.OutcomeAllowed,
		Details: map[string]string{},
	}
	if e.Time.IsZero() {
		e.Time = time.Now()
	}
	e.Details["durationMs"] = strconv.FormatInt(time.Since(e.Time).Milliseconds(), 10)
	if c.Request != nil {
		if ua := c.Request.UserAgent(); ua != "" {
			e.Details["userAgent"] = clean(ua, maxFieldLen)
		}
	}
	if c.Principal != nil {
		e.Principal = c.Principal.ARN
		e.Details["accessKeyId"] = c.Principal.AccessKeyID
		e.Parameters = audit.Redact(c.Body)
		e.Resource = requestTarget(c.Body)
	} else if c.Request != nil {
		if a, err := sigv4.Parse(c.Request); err == nil && a.AccessKeyID != "" {
			e.Details["claimedAccessKeyId"] = clean(a.AccessKeyID, maxFieldLen)
		}
	}
	switch out := c.Output.(type) {
	case api.StartSessionOutput:
		e.Details["sessionId"] = out.SessionID
	case *api.StartSessionOutput:
		e.Details["sessionId"] = out.SessionID
	}
	if c.Err != nil {
		var ae *api.Error
		if errors.As(c.Err, &ae) {
			e.ErrorCode = ae.Code
			e.Reason = clean(ae.Message, maxReasonLen)
		} else {
			e.ErrorCode = api.CodeInternal
			e.Reason = "internal error"
		}
		e.Outcome = audit.OutcomeError
		if deniedCodes[e.ErrorCode] {
			e.Outcome = audit.OutcomeDenied
		}
	}
	return e
}

// requestTarget finds the first of targetFields in a JSON object body.
func requestTarget(body []byte) string {
	var m map[string]json.RawMessage
	if json.Unmarshal(body, &m) != nil {
		return ""
	}
	for _, k := range targetFields {
		var s string
		if raw, ok := m[k]; ok && json.Unmarshal(raw, &s) == nil && s != "" {
			return clean(s, maxFieldLen)
		}
	}
	return ""
}

// clean cuts s to n bytes and replaces control characters, so that a
// caller-chosen header cannot forge lines in a terminal or a log viewer.
func clean(s string, n int) string {
	if len(s) > n {
		s = strings.ToValidUTF8(s[:n], "") + "…"
	}
	return strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return '?'
		}
		return r
	}, s)
}
