package session

import (
	"context"
	"strconv"

	"github.com/tetherhq/tether/internal/audit"
	"github.com/tetherhq/tether/internal/store"
)

// actorKey carries who asked for a state change (TerminateSession's
// caller) down to the audit event; changes without one are the server's
// or the agent's doing, and their Reason says which.
type actorKey struct{}

func withActor(ctx context.Context, arn string) context.Context {
	return context.WithValue(ctx, actorKey{}, arn)
}

// sessionEvent is the part every session event shares: the owner as
// principal, the session id as resource, the instance and document.
func (m *Manager) sessionEvent(s store.Session, prev string) audit.Event {
	d := map[string]string{"target": s.Target, "documentName": s.DocumentName}
	if prev != "" {
		d["previousStatus"] = prev
	}
	return audit.Event{
		Time: m.cfg.Now(), Kind: audit.KindSession, Principal: s.Owner, Action: s.Status,
		Resource: s.ID, Outcome: audit.OutcomeAllowed, Details: d,
	}
}

// auditStateChange records a live session's move to Connected (its agent
// attached, or a client came back) or Disconnected.
func (m *Manager) auditStateChange(ctx context.Context, s store.Session, prev string) {
	m.cfg.Audit.Record(ctx, m.sessionEvent(s, prev))
}

// auditEnd records a session's end: Terminated or Failed, why, by whom if
// someone asked, the remote exit status if known, and how long it lasted.
func (m *Manager) auditEnd(ctx context.Context, s store.Session, prev string) {
	e := m.sessionEvent(s, prev)
	e.Time = s.EndDate
	e.Reason = s.Details
	if s.Status == StatusFailed {
		e.Outcome = audit.OutcomeError
	}
	if actor, ok := ctx.Value(actorKey{}).(string); ok {
		e.Details["terminatedBy"] = actor
	}
	if s.ExitCode != nil {
		e.Details["exitCode"] = strconv.Itoa(*s.ExitCode)
	}
	if !s.StartDate.IsZero() && !s.EndDate.IsZero() {
		e.Details["durationMs"] = strconv.FormatInt(s.EndDate.Sub(s.StartDate).Milliseconds(), 10)
	}
	m.cfg.Audit.Record(ctx, e)
}
