// Package auditapi serves the audit trail over the API:
// X-Amz-Target: Tether.ListAuditEvents, with the same awsJson conventions
// as the other Tether.* operations, authorised by the action
// tether:ListAuditEvents on resource "*". It reads what the audit package
// recorded in the store; it can neither change nor delete an event.
// Server-side only.
package auditapi

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"math"
	"strings"
	"time"

	"github.com/tetherhq/tether/internal/api"
	"github.com/tetherhq/tether/internal/audit"
	"github.com/tetherhq/tether/internal/auth"
	"github.com/tetherhq/tether/internal/ssmapi"
	"github.com/tetherhq/tether/internal/store"
)

// Action is the policy action that allows reading the audit trail.
const Action = "tether:ListAuditEvents"

// Page sizes.
const (
	DefaultMaxResults = 100
	MaxMaxResults     = 1000
)

// maxFilterLen bounds each string filter.
const maxFilterLen = 2048

// Lister is the part of the store the service reads.
type Lister interface {
	ListAuditEvents(ctx context.Context, f store.AuditFilter) ([]store.AuditEvent, error)
}

// Authorizer is the part of auth.Authority the service uses.
type Authorizer interface {
	Authorize(p *auth.Principal, action, resource string, extra map[string][]string) error
}

// Config configures a Service.
type Config struct {
	Store   Lister
	Auth    Authorizer
	Account string // for principals given as a bare user name
}

// Service implements Tether.ListAuditEvents.
type Service struct {
	cfg Config
}

// New returns a Service.
func New(cfg Config) *Service { return &Service{cfg: cfg} }

// Register adds the operation to m.
func (s *Service) Register(m *ssmapi.Mux) {
	m.Handle(api.TargetTether+"ListAuditEvents", ssmapi.Op(s.list))
}

// ListAuditEventsInput is the request. StartTime and EndTime are epoch
// seconds (numbers, as AWS's JSON protocol sends timestamps) or RFC 3339
// strings; StartTime is inclusive, EndTime exclusive. Principal is an ARN
// or a user name of this account. Action is an operation's full name
// (AmazonSSM.StartSession, Tether.CreateUser), a policy action
// (ssm:StartSession) or a session state (Connected); a name without a
// prefix also matches the operation of that name in any service.
type ListAuditEventsInput struct {
	StartTime  json.RawMessage `json:"StartTime"`
	EndTime    json.RawMessage `json:"EndTime"`
	Principal  string          `json:"Principal"`
	Target     string          `json:"Target"`
	Action     string          `json:"Action"`
	Kind       string          `json:"Kind"`
	Outcome    string          `json:"Outcome"`
	MaxResults json.RawMessage `json:"MaxResults"` // an integer; anything else is a ValidationException
	NextToken  string          `json:"NextToken"`
}

// Event is an audit event in the API's shape.
type Event struct {
	EventID    string            `json:"EventId"`
	EventTime  float64           `json:"EventTime"` // epoch seconds, millisecond precision
	Kind       string            `json:"Kind"`
	Principal  string            `json:"Principal,omitempty"`
	UserName   string            `json:"UserName,omitempty"`
	Action     string            `json:"Action"`
	Target     string            `json:"Target,omitempty"`
	SourceIP   string            `json:"SourceIp,omitempty"`
	Outcome    string            `json:"Outcome"`
	ErrorCode  string            `json:"ErrorCode,omitempty"`
	Reason     string            `json:"Reason,omitempty"`
	RequestID  string            `json:"RequestId,omitempty"`
	Parameters json.RawMessage   `json:"Parameters,omitempty"`
	Details    map[string]string `json:"Details,omitempty"`
}

// ListAuditEventsOutput is the answer.
type ListAuditEventsOutput struct {
	Events    []Event `json:"Events"`
	NextToken string  `json:"NextToken,omitempty"`
}

var kinds = map[string]bool{audit.KindAPI: true, audit.KindAuthz: true, audit.KindSession: true, audit.KindTunnel: true}
var outcomes = map[string]bool{audit.OutcomeAllowed: true, audit.OutcomeDenied: true, audit.OutcomeError: true}

// servicePrefixes expand an unprefixed Action filter.
var servicePrefixes = []string{api.TargetSSM, api.TargetTether, "TrentService."}

func invalid(format string, args ...any) error {
	return api.Errorf(api.CodeValidation, format, args...)
}

func (s *Service) list(ctx context.Context, p *auth.Principal, in *ListAuditEventsInput) (any, error) {
	if err := s.cfg.Auth.Authorize(p, Action, "*", nil); err != nil {
		return nil, err
	}
	f, err := s.filter(in)
	if err != nil {
		return nil, err
	}
	limit := f.Limit
	f.Limit++ // one more than asked tells whether there is a next page
	evs, err := s.cfg.Store.ListAuditEvents(ctx, f)
	if err != nil {
		return nil, err
	}
	out := ListAuditEventsOutput{Events: make([]Event, 0, min(len(evs), limit))}
	if len(evs) > limit {
		evs = evs[:limit]
		last := evs[limit-1]
		out.NextToken = encodeToken(last.Time, last.ID)
	}
	for _, e := range evs {
		out.Events = append(out.Events, ToAPI(e))
	}
	return out, nil
}

// filter validates the input and builds the store filter.
func (s *Service) filter(in *ListAuditEventsInput) (store.AuditFilter, error) {
	var f store.AuditFilter
	var err error
	if f.Since, err = parseTime("StartTime", in.StartTime); err != nil {
		return f, err
	}
	if f.Until, err = parseTime("EndTime", in.EndTime); err != nil {
		return f, err
	}
	if !f.Since.IsZero() && !f.Until.IsZero() && !f.Since.Before(f.Until) {
		return f, invalid("StartTime must be before EndTime")
	}
	for name, v := range map[string]string{"Principal": in.Principal, "Target": in.Target, "Action": in.Action,
		"Kind": in.Kind, "Outcome": in.Outcome, "NextToken": in.NextToken} {
		if len(v) > maxFilterLen {
			return f, invalid("%s is longer than %d characters", name, maxFilterLen)
		}
	}
	f.Limit = DefaultMaxResults
	if len(in.MaxResults) > 0 && string(in.MaxResults) != "null" {
		var n int
		if json.Unmarshal(in.MaxResults, &n) != nil || n < 0 || n > MaxMaxResults {
			return f, invalid("MaxResults must be an integer between 1 and %d", MaxMaxResults)
		}
		if n > 0 { // 0, as in DescribeSessions, means the default
			f.Limit = n
		}
	}
	if in.Kind != "" && !kinds[in.Kind] {
		return f, invalid("Kind must be api, authz, session or tunnel, not %q", in.Kind)
	}
	f.Kind = in.Kind
	if in.Outcome != "" && !outcomes[in.Outcome] {
		return f, invalid("Outcome must be allowed, denied or error, not %q", in.Outcome)
	}
	f.Outcome = in.Outcome
	f.Principal = in.Principal
	if f.Principal != "" && !strings.HasPrefix(f.Principal, "arn:") {
		f.Principal = api.IAMARN(s.cfg.Account, "user/"+f.Principal)
	}
	f.Resource = in.Target
	if a := in.Action; a != "" {
		f.Actions = []string{a}
		if !strings.ContainsAny(a, ".:") {
			for _, p := range servicePrefixes {
				f.Actions = append(f.Actions, p+a)
			}
		}
	}
	if in.NextToken != "" {
		pos, err := decodeToken(in.NextToken)
		if err != nil {
			return f, invalid("NextToken is not valid: pass the NextToken of a previous answer unchanged")
		}
		f.After = &pos
	}
	return f, nil
}

// Times outside these years are refused rather than overflowing.
var (
	minTime = time.Date(1970, 1, 1, 0, 0, 0, 0, time.UTC)
	maxTime = time.Date(9999, 12, 31, 23, 59, 59, 0, time.UTC)
)

func parseTime(field string, raw json.RawMessage) (time.Time, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return time.Time{}, nil
	}
	var t time.Time
	var str string
	var num float64
	switch {
	case json.Unmarshal(raw, &str) == nil:
		var err error
		if t, err = time.Parse(time.RFC3339Nano, str); err != nil {
			return t, invalid("%s wants epoch seconds or an RFC 3339 time such as 2026-01-02T15:04:05Z, not %q", field, truncate(str))
		}
	case json.Unmarshal(raw, &num) == nil:
		if math.IsNaN(num) || num < 0 || num > float64(maxTime.Unix()) {
			return t, invalid("%s is out of range", field)
		}
		sec, frac := math.Modf(num)
		t = time.Unix(int64(sec), int64(frac*1e9)).UTC()
	default:
		return t, invalid("%s wants epoch seconds or an RFC 3339 time string", field)
	}
	if t.Before(minTime) || t.After(maxTime) {
		return time.Time{}, invalid("%s is out of range", field)
	}
	return t, nil
}

func truncate(s string) string {
	if len(s) > 64 {
		return strings.ToValidUTF8(s[:64], "") + "…"
	}
	return s
}

// A NextToken is the position of the last event of the page, opaque to
// callers: base64url of {"t": epoch ms, "i": event id}.
type token struct {
	T int64  `json:"t"`
	I string `json:"i"`
}

func encodeToken(t time.Time, id string) string {
	b, _ := json.Marshal(token{T: t.UnixMilli(), I: id})
	return base64.RawURLEncoding.EncodeToString(b)
}

func decodeToken(s string) (store.AuditPosition, error) {
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return store.AuditPosition{}, err
	}
	var tk token
	dec := json.NewDecoder(strings.NewReader(string(b)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&tk); err != nil {
		return store.AuditPosition{}, err
	}
	if tk.I == "" || tk.T < 0 || tk.T > maxTime.UnixMilli() {
		return store.AuditPosition{}, errBadToken
	}
	return store.AuditPosition{Time: time.UnixMilli(tk.T).UTC(), ID: tk.I}, nil
}

var errBadToken = errors.New("bad token")

// ToAPI converts a stored event to the API's shape.
func ToAPI(e store.AuditEvent) Event {
	out := Event{
		EventID: e.ID, EventTime: float64(e.Time.UnixMilli()) / 1000, Kind: e.Kind, Principal: e.Principal,
		Action: e.Action, Target: e.Resource, SourceIP: e.SourceIP, Outcome: e.Outcome, ErrorCode: e.ErrorCode,
		Reason: e.Reason, RequestID: e.RequestID, Details: e.Details,
	}
	if _, name, ok := strings.Cut(e.Principal, ":user/"); ok {
		out.UserName = name
	}
	if e.Parameters != "" && json.Valid([]byte(e.Parameters)) {
		out.Parameters = json.RawMessage(e.Parameters)
	}
	return out
}
