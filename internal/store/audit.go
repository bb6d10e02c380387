package store

import (
	"context"
	"time"
)

// AuditEvent is one stored audit record (the audit package's Event, with its
// redacted parameters as JSON text). Events are append-only: the store
// offers no way to change or delete one.
type AuditEvent struct {
	ID         string // unique; the recorder assigns it
	Time       time.Time
	Kind       string // api, authz, session, tunnel
	Principal  string // ARN, "" for an unauthenticated call
	Action     string
	Resource   string
	SourceIP   string
	Outcome    string // allowed, denied, error
	ErrorCode  string
	Reason     string
	RequestID  string
	Parameters string // JSON object, secrets already removed; "" if none
	Details    map[string]string
}

// AuditFilter selects audit events. Zero fields match all.
type AuditFilter struct {
	Since     time.Time // inclusive
	Until     time.Time // exclusive
	Principal string
	Resource  string
	Actions   []string // any of these
	Kind      string
	Outcome   string
	// After continues a listing: only events strictly older than this
	// position in the (Time, ID) order are returned.
	After *AuditPosition
	Limit int // at most this many; 0 means no limit
}

// AuditPosition is an event's place in the listing order.
type AuditPosition struct {
	Time time.Time
	ID   string
}

// AuditStore keeps the audit trail.
type AuditStore interface {
	// AppendAuditEvents stores events in one transaction. An event whose ID
	// is already stored is skipped, so a retried batch stores nothing twice.
	AppendAuditEvents(ctx context.Context, events []AuditEvent) error
	// ListAuditEvents returns matching events newest first: by Time
	// descending, then ID descending, an order that is total and stable
	// under appends, so pages chained through After neither skip nor
	// repeat events. Times are kept to the millisecond.
	ListAuditEvents(ctx context.Context, f AuditFilter) ([]AuditEvent, error)
}
