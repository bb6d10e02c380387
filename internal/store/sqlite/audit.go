package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/tetherhq/tether/internal/store"
)

// AppendAuditEvents implements store.AuditStore.
func (s *Store) AppendAuditEvents(ctx context.Context, events []store.AuditEvent) error {
	if len(events) == 0 {
		return nil
	}
	err := s.write(ctx, func(tx *sql.Tx) error {
		stmt, err := tx.PrepareContext(ctx, `INSERT INTO audit_events
			(id, time, kind, principal, action, resource, source_ip, outcome, error_code,
			 reason, request_id, parameters, details)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO NOTHING`)
		if err != nil {
			return err
		}
		defer stmt.Close()
		for _, e := range events {
			if e.ID == "" {
				return fmt.Errorf("audit event at %s has no id", e.Time)
			}
			details := ""
			if len(e.Details) > 0 {
				b, err := json.Marshal(e.Details)
				if err != nil {
					return err
				}
				details = string(b)
			}
			if _, err := stmt.ExecContext(ctx, e.ID, e.Time.UnixMilli(), e.Kind, e.Principal, e.Action,
				e.Resource, e.SourceIP, e.Outcome, e.ErrorCode, e.Reason, e.RequestID, e.Parameters, details); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("append %d audit events: %w", len(events), err)
	}
	return nil
}

// ListAuditEvents implements store.AuditStore.
func (s *Store) ListAuditEvents(ctx context.Context, f store.AuditFilter) ([]store.AuditEvent, error) {
	var where []string
	var args []any
	add := func(cond string, a ...any) {
		where = append(where, cond)
		args = append(args, a...)
	}
	if !f.Since.IsZero() {
		add(`time >= ?`, f.Since.UnixMilli())
	}
	if !f.Until.IsZero() {
		add(`time < ?`, f.Until.UnixMilli())
	}
	if f.Principal != "" {
		add(`principal = ?`, f.Principal)
	}
	if f.Resource != "" {
		add(`resource = ?`, f.Resource)
	}
	if len(f.Actions) > 0 {
		ph := strings.TrimSuffix(strings.Repeat("?, ", len(f.Actions)), ", ")
		a := make([]any, len(f.Actions))
		for i, x := range f.Actions {
			a[i] = x
		}
		add(`action IN (`+ph+`)`, a...)
	}
	if f.Kind != "" {
		add(`kind = ?`, f.Kind)
	}
	if f.Outcome != "" {
		add(`outcome = ?`, f.Outcome)
	}
	if f.After != nil {
		add(`(time, id) < (?, ?)`, f.After.Time.UnixMilli(), f.After.ID)
	}
	q := `SELECT id, time, kind, principal, action, resource, source_ip, outcome, error_code,
		reason, request_id, parameters, details FROM audit_events`
	if len(where) > 0 {
		q += ` WHERE ` + strings.Join(where, ` AND `)
	}
	q += ` ORDER BY time DESC, id DESC`
	if f.Limit > 0 {
		q += ` LIMIT ?`
		args = append(args, f.Limit)
	}
	out, err := queryAll(ctx, s.r, scanAuditEvent, q, args...)
	if err != nil {
		return nil, fmt.Errorf("list audit events: %w", err)
	}
	return out, nil
}

func scanAuditEvent(row rowScanner) (store.AuditEvent, error) {
	var e store.AuditEvent
	var ms sql.NullInt64
	var details string
	if err := row.Scan(&e.ID, &ms, &e.Kind, &e.Principal, &e.Action, &e.Resource, &e.SourceIP,
		&e.Outcome, &e.ErrorCode, &e.Reason, &e.RequestID, &e.Parameters, &details); err != nil {
		return e, err
	}
	e.Time = fromMillis(ms)
	if details != "" {
		if err := json.Unmarshal([]byte(details), &e.Details); err != nil {
			return e, fmt.Errorf("event %s details: %w", e.ID, err)
		}
	}
	return e, nil
}
