// Package audit is Tether's typed audit stream, kept apart from diagnostic
// logs: who did what to which resource, from where, and the outcome. The
// Recorder contract has a JSON-lines file implementation (append-only, mode
// 0600, one event per line), a store implementation that queues events and
// writes them in batches (what Tether.ListAuditEvents and `tether audit`
// query), and Log, which writes to both. Redact removes secrets from request
// parameters before they become part of an event. Server-side only.
package audit

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
	"time"
)

// Outcomes.
const (
	OutcomeAllowed = "allowed"
	OutcomeDenied  = "denied"
	OutcomeError   = "error"
)

// Kinds of event.
const (
	KindAPI     = "api"     // one API call, allowed or not
	KindAuthz   = "authz"   // a policy decision that denied an action
	KindSession = "session" // a session's state change
	KindTunnel  = "tunnel"  // a forwarded connection, reported by the agent
)

// Event is one audit record.
type Event struct {
	// ID identifies the event; recorders that need one (the store) assign
	// it when it is empty. IDs sort by time within a millisecond only by
	// chance: order by (Time, ID).
	ID        string    `json:"id,omitempty"`
	Time      time.Time `json:"time"`
	Kind      string    `json:"kind"` // KindAPI, KindAuthz, KindSession, KindTunnel
	Principal string    `json:"principal,omitempty"`
	Action    string    `json:"action"`
	// Resource is what the action was on: an ARN for authz events, the
	// bare id or name the request named for API events (instance, session,
	// document, user), the session id for session events.
	Resource  string `json:"resource,omitempty"`
	SourceIP  string `json:"sourceIp,omitempty"`
	Outcome   string `json:"outcome"`
	ErrorCode string `json:"errorCode,omitempty"`
	Reason    string `json:"reason,omitempty"`
	RequestID string `json:"requestId,omitempty"`
	// Parameters is the request's JSON with secrets replaced (see Redact).
	Parameters json.RawMessage   `json:"parameters,omitempty"`
	Details    map[string]string `json:"details,omitempty"`
}

// Recorder receives audit events. Record must not block for long and must
// not fail the caller's operation: implementations report their own errors.
type Recorder interface {
	Record(ctx context.Context, e Event)
}

// Discard drops every event.
type Discard struct{}

// Record implements Recorder.
func (Discard) Record(context.Context, Event) {}

// File appends events as JSON lines.
type File struct {
	mu   sync.Mutex
	f    *os.File
	errf func(error)
}

// OpenFile opens (creating, mode 0600) the JSON-lines file at path. onError
// is told about write failures (nil: ignored).
func OpenFile(path string, onError func(error)) (*File, error) {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open audit log: %w", err)
	}
	if onError == nil {
		onError = func(error) {}
	}
	return &File{f: f, errf: onError}, nil
}

// Record implements Recorder.
func (a *File) Record(_ context.Context, e Event) {
	if e.Time.IsZero() {
		e.Time = time.Now()
	}
	e.Time = e.Time.UTC()
	b, err := json.Marshal(e)
	if err != nil {
		a.errf(err)
		return
	}
	b = append(b, '\n')
	a.mu.Lock()
	defer a.mu.Unlock()
	if _, err := a.f.Write(b); err != nil {
		a.errf(err)
	}
}

// Close closes the file.
func (a *File) Close() error {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.f.Close()
}

// Read decodes every event from r, skipping nothing: a malformed line is an
// error naming its line number.
func Read(r io.Reader) ([]Event, error) {
	var out []Event
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for n := 1; sc.Scan(); n++ {
		if len(sc.Bytes()) == 0 {
			continue
		}
		var e Event
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			return out, fmt.Errorf("audit log line %d: %w", n, err)
		}
		out = append(out, e)
	}
	if err := sc.Err(); err != nil && !errors.Is(err, io.EOF) {
		return out, err
	}
	return out, nil
}
