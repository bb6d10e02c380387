// Package session owns the session lifecycle: StartSession, ResumeSession,
// TerminateSession and DescribeSessions, single-use data-channel tokens, the
// state machine (Connecting → Connected ⇄ Disconnected → Terminated/Failed),
// dispatching a session to its agent, and ending it (channel_closed to both
// ends). The relay and the agent gateway call into it. Server-side only.
package session

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/tetherhq/tether/internal/api"
	"github.com/tetherhq/tether/internal/audit"
	"github.com/tetherhq/tether/internal/auth"
	"github.com/tetherhq/tether/internal/bus"
	"github.com/tetherhq/tether/internal/datachannel"
	"github.com/tetherhq/tether/internal/document"
	"github.com/tetherhq/tether/internal/fleet"
	"github.com/tetherhq/tether/internal/ssmapi"
	"github.com/tetherhq/tether/internal/store"
)

// Session states, as AWS names them.
const (
	StatusConnecting   = "Connecting"
	StatusConnected    = "Connected"
	StatusDisconnected = "Disconnected"
	StatusTerminating  = "Terminating"
	StatusTerminated   = "Terminated"
	StatusFailed       = "Failed"
)

// Ended reports whether a status is final.
func Ended(status string) bool { return status == StatusTerminated || status == StatusFailed }

// DefaultDocument is the shell document used when StartSession names none.
const DefaultDocument = "SSM-SessionManagerRunShell"

// task is what a session stores of its start: the document content as it
// was then, the resolved parameters, the preferences, the run-as user and the
// limits, so a later document change does not alter a running session.
type task struct {
	Parameters  map[string]string `json:"parameters"`
	Content     json.RawMessage   `json:"content"`
	Preferences json.RawMessage   `json:"preferences,omitempty"`
	RunAsUser   string            `json:"runAsUser,omitempty"`
	IdleMinutes int               `json:"idleMinutes,omitempty"`
	MaxMinutes  int               `json:"maxMinutes,omitempty"`
}

// Documents finds a session document by name (version "" = default).
type Documents interface {
	Lookup(ctx context.Context, name, version string) (json.RawMessage, *document.Document, error)
}

// builtinDocuments serves the built-in documents only.
type builtinDocuments struct{}

func (builtinDocuments) Lookup(_ context.Context, name, _ string) (json.RawMessage, *document.Document, error) {
	b, ok := document.FindBuiltin(name)
	if !ok {
		return nil, nil, api.Errorf(api.CodeInvalidDocument, "Document with name %s does not exist.", name)
	}
	d, err := document.Parse([]byte(b.Content), b.DocumentFormat)
	if err != nil {
		return nil, nil, fmt.Errorf("built-in document %s: %w", name, err)
	}
	return json.RawMessage(b.Content), d, nil
}

// RunAsTag is the IAM tag naming a user's run-as OS account.
const RunAsTag = "SSMSessionRunAs"

// runAsUser resolves the SSMSessionRunAs tag: the user's own tag wins, then
// the first of its groups (by name) that has one (a Tether extension).
func (m *Manager) runAsUser(ctx context.Context, p *auth.Principal) (string, error) {
	if v := p.Tags[RunAsTag]; v != "" {
		return v, nil
	}
	for _, g := range p.Groups {
		tags, err := m.cfg.Store.ListTags(ctx, store.ResourceGroup, g)
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			return "", err
		}
		for _, t := range tags {
			if t.Key == RunAsTag && t.Value != "" {
				return t.Value, nil
			}
		}
	}
	return "", nil
}

// Limits returns a session's idle timeout and maximum duration (0: none).
func (m *Manager) Limits(s store.Session) (idle, max time.Duration) {
	var t task
	json.Unmarshal([]byte(s.Parameters), &t)
	idle = m.cfg.IdleTimeout
	if t.IdleMinutes > 0 {
		idle = time.Duration(t.IdleMinutes) * m.cfg.TimeoutUnit
	}
	if t.MaxMinutes > 0 {
		max = time.Duration(t.MaxMinutes) * m.cfg.TimeoutUnit
	}
	return idle, max
}

// documentError maps document errors to API errors.
func documentError(err error) error {
	var de *document.Error
	if errors.As(err, &de) {
		return api.Errorf(de.Code, "%s", de.Message)
	}
	return api.Errorf(api.CodeValidation, "%v", err)
}

// Token lifetimes.
const (
	ClientTokenTTL = 60 * time.Second
	AgentTokenTTL  = 60 * time.Second
)

// Config configures a Manager.
type Config struct {
	Store   store.Store
	Auth    *auth.Authority
	Fleet   *fleet.Service
	Bus     bus.Bus
	Region  string
	Account string
	// StreamURL returns the data-channel URL for a session (scheme, host and
	// path), e.g. ws://127.0.0.1:7443/v1/data-channel/ID?role=publish_subscribe.
	StreamURL func(sessionID string) string
	// IdleTimeout ends sessions with no stream traffic when the preferences
	// document sets none (default 20 min).
	IdleTimeout time.Duration
	// TimeoutUnit is what one "minute" of idleSessionTimeout and
	// maxSessionDuration means (default time.Minute; tests use seconds).
	TimeoutUnit time.Duration
	// Documents finds session documents (default: the built-ins only).
	Documents Documents
	Logger    *slog.Logger
	Now       func() time.Time
	// Audit receives an event for each state change (default: discarded).
	Audit audit.Recorder
}

// Manager implements the session operations.
type Manager struct {
	cfg Config
}

// New returns a Manager.
func New(cfg Config) *Manager {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.IdleTimeout == 0 {
		cfg.IdleTimeout = 20 * time.Minute
	}
	if cfg.TimeoutUnit == 0 {
		cfg.TimeoutUnit = time.Minute
	}
	if cfg.Documents == nil {
		cfg.Documents = builtinDocuments{}
	}
	if cfg.Audit == nil {
		cfg.Audit = audit.Discard{}
	}
	return &Manager{cfg: cfg}
}

// Register adds the session operations to mux.
func (m *Manager) Register(mux *ssmapi.Mux) {
	mux.Handle(api.TargetSSM+"StartSession", ssmapi.Op(m.startSession))
	mux.Handle(api.TargetSSM+"ResumeSession", ssmapi.Op(m.resumeSession))
	mux.Handle(api.TargetSSM+"TerminateSession", ssmapi.Op(m.terminateSession))
	mux.Handle(api.TargetSSM+"DescribeSessions", ssmapi.Op(m.describeSessions))
}

// SessionARN returns a session's ARN.
func (m *Manager) SessionARN(id string) string {
	return api.SSMARN(m.cfg.Region, m.cfg.Account, "session/"+id)
}

// DocumentARN returns a document's ARN.
func (m *Manager) DocumentARN(name string) string {
	return api.SSMARN(m.cfg.Region, m.cfg.Account, "document/"+name)
}

var docNameRe = regexp.MustCompile(`^[a-zA-Z0-9_\-.:/]{3,128}$`)

// NewSessionID returns "<username>-<17 lower-case hex>".
func NewSessionID(user string) string {
	b := make([]byte, 9)
	rand.Read(b)
	return user + "-" + hex.EncodeToString(b)[:17]
}

// hashToken is how tokens are stored and looked up.
func hashToken(tok string) []byte {
	h := sha256.Sum256([]byte(tok))
	return h[:]
}

// MintToken creates a single-use token of kind bound to subject.
func (m *Manager) MintToken(ctx context.Context, kind store.TokenKind, subject string, ttl time.Duration) (string, error) {
	b := make([]byte, 32)
	rand.Read(b)
	tok := base64.RawURLEncoding.EncodeToString(b)
	err := m.cfg.Store.PutToken(ctx, store.Token{Hash: hashToken(tok), Kind: kind, Subject: subject, ExpiresAt: m.cfg.Now().Add(ttl)})
	if err != nil {
		return "", fmt.Errorf("store token: %w", err)
	}
	return tok, nil
}

// ConsumeToken checks and burns a token.
func (m *Manager) ConsumeToken(ctx context.Context, kind store.TokenKind, subject, tok string) error {
	if tok == "" {
		return store.ErrTokenInvalid
	}
	_, err := m.cfg.Store.ConsumeToken(ctx, hashToken(tok), kind, subject, m.cfg.Now())
	return err
}

func (m *Manager) startSession(ctx context.Context, p *auth.Principal, in *api.StartSessionInput) (any, error) {
	if in.Target == "" || len(in.Target) > 400 {
		return nil, api.Errorf(api.CodeValidation, "Target must be 1-400 characters")
	}
	if len(in.Reason) > 256 {
		return nil, api.Errorf(api.CodeValidation, "Reason is limited to 256 characters")
	}
	doc := in.DocumentName
	if doc != "" && !docNameRe.MatchString(doc) {
		return nil, api.Errorf(api.CodeValidation, "DocumentName %q does not match ^[a-zA-Z0-9_\\-.:/]{3,128}$", doc)
	}
	tags, err := m.cfg.Fleet.InstanceTags(ctx, in.Target)
	if err != nil {
		return nil, err
	}
	tagCtx := map[string][]string{}
	for k, v := range tags {
		tagCtx["ssm:resourceTag/"+k] = []string{v}
	}
	if err := m.cfg.Auth.Authorize(p, "ssm:StartSession", m.cfg.Fleet.InstanceARN(in.Target), tagCtx); err != nil {
		return nil, err
	}
	if doc != "" {
		// A named document always needs its own permission.
		if err := m.cfg.Auth.Authorize(p, "ssm:StartSession", m.DocumentARN(doc), nil); err != nil {
			return nil, err
		}
	} else {
		// The default shell document is checked only where a policy opts in
		// with ssm:SessionDocumentAccessCheck (AWS: "Enforce a session
		// document permission check"); then it needs explicit permission.
		doc = DefaultDocument
		if p.Mentions("ssm:SessionDocumentAccessCheck") {
			if err := m.cfg.Auth.Authorize(p, "ssm:StartSession", m.DocumentARN(doc),
				map[string][]string{"ssm:SessionDocumentAccessCheck": {"true"}}); err != nil {
				return nil, err
			}
		}
	}
	content, parsed, err := m.cfg.Documents.Lookup(ctx, doc, "")
	if err != nil {
		return nil, err
	}
	params, err := parsed.ResolveParameters(in.Parameters)
	if err != nil {
		return nil, documentError(err)
	}
	// The preferences document applies to every session.
	prefsContent, prefs, err := m.cfg.Documents.Lookup(ctx, DefaultDocument, "")
	if err != nil {
		return nil, fmt.Errorf("load preferences: %w", err)
	}
	t := task{Parameters: params, Content: content}
	if doc != DefaultDocument {
		t.Preferences = prefsContent
	}
	if prefs.Inputs.RunAsEnabled {
		if t.RunAsUser, err = m.runAsUser(ctx, p); err != nil {
			return nil, err
		}
	}
	t.IdleMinutes, _ = strconv.Atoi(prefs.Inputs.IdleSessionTimeout)
	t.MaxMinutes, _ = strconv.Atoi(prefs.Inputs.MaxSessionDuration)
	if _, err := m.cfg.Store.GetInstance(ctx, in.Target); err != nil || !m.cfg.Fleet.Presence().Online(in.Target) {
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			return nil, err
		}
		return nil, api.Errorf(api.CodeTargetNotConnected, "%s is not connected.", in.Target)
	}
	pj, _ := json.Marshal(t)
	s := store.Session{
		ID: NewSessionID(p.User.Name), Target: in.Target, Owner: p.ARN, DocumentName: doc,
		Reason: in.Reason, Status: StatusConnecting, StartDate: m.cfg.Now().UTC(), Parameters: string(pj),
		Transcript: store.Transcript{Bucket: prefs.Inputs.S3BucketName, KeyPrefix: prefs.Inputs.S3KeyPrefix,
			Encrypt: prefs.Inputs.S3EncryptionEnabled},
	}
	if t.MaxMinutes > 0 {
		s.MaxSessionDuration = strconv.Itoa(t.MaxMinutes)
	}
	if err := m.cfg.Store.CreateSession(ctx, s); err != nil {
		return nil, fmt.Errorf("create session: %w", err)
	}
	tok, err := m.MintToken(ctx, store.TokenClientData, s.ID, ClientTokenTTL)
	if err != nil {
		return nil, err
	}
	m.cfg.Logger.Info("session started", "session_id", s.ID, "instance_id", s.Target, "principal", p.ARN)
	return api.StartSessionOutput{SessionID: s.ID, TokenValue: tok, StreamURL: m.cfg.StreamURL(s.ID)}, nil
}

func (m *Manager) resumeSession(ctx context.Context, p *auth.Principal, in *api.SessionIDInput) (any, error) {
	if in.SessionID == "" {
		return nil, api.Errorf(api.CodeValidation, "SessionId is required")
	}
	if err := m.cfg.Auth.Authorize(p, "ssm:ResumeSession", m.SessionARN(in.SessionID), nil); err != nil {
		return nil, err
	}
	s, err := m.cfg.Store.GetSession(ctx, in.SessionID)
	if errors.Is(err, store.ErrNotFound) || (err == nil && Ended(s.Status)) {
		return nil, api.Errorf(api.CodeDoesNotExist, "Session %s does not exist or has ended", in.SessionID)
	}
	if err != nil {
		return nil, err
	}
	tok, err := m.MintToken(ctx, store.TokenClientData, s.ID, ClientTokenTTL)
	if err != nil {
		return nil, err
	}
	return api.StartSessionOutput{SessionID: s.ID, TokenValue: tok, StreamURL: m.cfg.StreamURL(s.ID)}, nil
}

func (m *Manager) terminateSession(ctx context.Context, p *auth.Principal, in *api.SessionIDInput) (any, error) {
	if in.SessionID == "" {
		return nil, api.Errorf(api.CodeValidation, "SessionId is required")
	}
	if err := m.cfg.Auth.Authorize(p, "ssm:TerminateSession", m.SessionARN(in.SessionID), nil); err != nil {
		return nil, err
	}
	if _, err := m.cfg.Store.GetSession(ctx, in.SessionID); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return nil, api.Errorf(api.CodeDoesNotExist, "Session %s does not exist", in.SessionID)
		}
		return nil, err
	}
	if err := m.End(withActor(ctx, p.ARN), in.SessionID, StatusTerminated, "terminated by "+p.ARN, nil); err != nil {
		return nil, err
	}
	return api.TerminateSessionOutput{SessionID: in.SessionID}, nil
}

func (m *Manager) describeSessions(ctx context.Context, p *auth.Principal, in *api.DescribeSessionsInput) (any, error) {
	if err := m.cfg.Auth.Authorize(p, "ssm:DescribeSessions", "*", nil); err != nil {
		return nil, err
	}
	var f store.SessionFilter
	switch in.State {
	case "Active":
		t := true
		f.Active = &t
	case "History":
		t := false
		f.Active = &t
	default:
		return nil, api.Errorf(api.CodeValidation, "State must be Active or History")
	}
	if in.MaxResults != 0 && (in.MaxResults < 1 || in.MaxResults > 200) {
		return nil, api.Errorf(api.CodeValidation, "MaxResults must be between 1 and 200")
	}
	for _, fl := range in.Filters {
		if fl.Value == "" {
			return nil, api.Errorf(api.CodeValidation, "filter %q needs a value", fl.Key)
		}
		switch fl.Key {
		case "InvokedAfter", "InvokedBefore":
			t, err := time.Parse(time.RFC3339, fl.Value)
			if err != nil {
				if t, err = time.Parse("2006-01-02", fl.Value); err != nil {
					return nil, api.Errorf(api.CodeValidation, "filter %s wants an ISO 8601 time such as 2026-01-02T15:04:05Z, not %q", fl.Key, fl.Value)
				}
			}
			if fl.Key == "InvokedAfter" {
				f.InvokedAfter = t
			} else {
				f.InvokedBefore = t
			}
		case "Target":
			f.Target = fl.Value
		case "Owner":
			f.Owner = fl.Value
		case "Status":
			f.Status = fl.Value
		case "SessionId":
			f.SessionID = fl.Value
		default:
			return nil, api.Errorf(api.CodeInvalidFilterKey, "unknown filter key %q: use InvokedAfter, InvokedBefore, Target, Owner, Status or SessionId", fl.Key)
		}
	}
	all, err := m.cfg.Store.ListSessions(ctx, f)
	if err != nil {
		return nil, err
	}
	out := make([]api.Session, 0, len(all))
	for _, s := range all {
		out = append(out, ToAPI(s))
	}
	page, next, err := fleet.Paginate(out, in.NextToken, in.MaxResults, 20, 200)
	if err != nil {
		return nil, err
	}
	return api.DescribeSessionsOutput{Sessions: page, NextToken: next}, nil
}

// ToAPI converts a stored session to its DescribeSessions shape.
func ToAPI(s store.Session) api.Session {
	out := api.Session{
		SessionID: s.ID, Target: s.Target, Status: s.Status, DocumentName: s.DocumentName,
		Owner: s.Owner, Reason: s.Reason, Details: s.Details, MaxSessionDuration: s.MaxSessionDuration,
		StartDate: float64(s.StartDate.UnixMilli()) / 1000,
	}
	if !s.EndDate.IsZero() {
		out.EndDate = float64(s.EndDate.UnixMilli()) / 1000
	}
	if s.Transcript.OutputURL != "" {
		// AWS fills S3OutputUrl only for S3; Tether also for its local
		// folder (a file:// URL), so every stored transcript can be found.
		out.OutputURL = &api.OutputURL{S3OutputURL: s.Transcript.OutputURL}
	}
	return out
}

// Get returns a session.
func (m *Manager) Get(ctx context.Context, id string) (store.Session, error) {
	return m.cfg.Store.GetSession(ctx, id)
}

// SetStatus moves a live session to status; it never revives an ended one.
func (m *Manager) SetStatus(ctx context.Context, id, status string) error {
	var prev string
	s, err := m.cfg.Store.UpdateSession(ctx, id, func(s *store.Session) error {
		if Ended(s.Status) {
			return errAlreadyEnded
		}
		prev, s.Status = s.Status, status
		return nil
	})
	if errors.Is(err, errAlreadyEnded) {
		return nil
	}
	if err == nil && prev != status {
		m.auditStateChange(ctx, s, prev)
	}
	return err
}

var errAlreadyEnded = errors.New("session already ended")

// Dispatch tells the session's agent to start it (interactive_shell).
func (m *Manager) Dispatch(ctx context.Context, s store.Session, noPty bool) error {
	var t task
	if err := json.Unmarshal([]byte(s.Parameters), &t); err != nil || len(t.Content) == 0 {
		return fmt.Errorf("session %s has no resolved document", s.ID)
	}
	if t.Parameters == nil {
		t.Parameters = map[string]string{}
	}
	st := api.SessionTask{
		SessionID: s.ID, DocumentName: s.DocumentName, DocumentContent: t.Content,
		Parameters: t.Parameters, SessionOwner: s.Owner, NoPty: noPty,
		RunAsUser: t.RunAsUser, Preferences: t.Preferences,
	}
	content, err := json.Marshal(st)
	if err != nil {
		return err
	}
	env, err := json.Marshal(api.TaskEnvelope{Content: string(content), TaskID: s.ID, Topic: "aws.ssm.sessionManager.interactive_shell", SchemaVersion: 1})
	if err != nil {
		return err
	}
	msg := datachannel.Message{MessageType: datachannel.TypeInteractiveShell, Payload: env}
	b, err := msg.MarshalBinary()
	if err != nil {
		return err
	}
	return m.cfg.Bus.Publish(ctx, bus.InstanceControl(s.Target), b)
}

// End finishes a session once: it records status, details and exit code,
// sends channel_closed to the client (with the exit code) and to the agent.
// Ending an ended session is a no-op.
func (m *Manager) End(ctx context.Context, id, status, details string, exitCode *int) error {
	now := m.cfg.Now().UTC()
	var prev string
	s, err := m.cfg.Store.UpdateSession(ctx, id, func(s *store.Session) error {
		if Ended(s.Status) {
			return errAlreadyEnded
		}
		prev, s.Status = s.Status, status
		s.EndDate = now
		s.Details = details
		s.ExitCode = exitCode
		return nil
	})
	if errors.Is(err, errAlreadyEnded) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("end session %s: %w", id, err)
	}
	m.auditEnd(ctx, s, prev)
	output := ""
	if status == StatusFailed || !strings.HasPrefix(details, "exited") {
		output = details
	}
	cc := datachannel.ChannelClosed{
		MessageId: datachannel.NewUUID().String(), CreatedDate: now.Format(time.RFC3339Nano),
		SessionId: id, MessageType: datachannel.TypeChannelClosed, SchemaVersion: 1,
		Output: output, ExitCode: exitCode,
	}
	payload, _ := json.Marshal(cc)
	frame, err := (&datachannel.Message{MessageType: datachannel.TypeChannelClosed, Payload: payload}).MarshalBinary()
	if err == nil {
		// Best effort: the client may be gone; it then learns on resume.
		pctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		m.cfg.Bus.Publish(pctx, bus.SessionToClient(id), frame)
		cc.DestinationId = s.Target
		payload, _ = json.Marshal(cc)
		if frame, err = (&datachannel.Message{MessageType: datachannel.TypeChannelClosed, Payload: payload}).MarshalBinary(); err == nil {
			// The agent may have a data channel (relay forwards it, then
			// closes) or only its control channel; either cancels the session.
			m.cfg.Bus.Publish(pctx, bus.SessionToAgent(id), frame)
			m.cfg.Bus.Publish(pctx, bus.InstanceControl(s.Target), frame)
		}
		cancel()
	}
	m.cfg.Logger.Info("session ended", "session_id", id, "status", status, "details", details)
	return nil
}

// Live returns the sessions that have not ended, for shutdown.
func (m *Manager) Live(ctx context.Context) ([]store.Session, error) {
	t := true
	return m.cfg.Store.ListSessions(ctx, store.SessionFilter{Active: &t})
}
