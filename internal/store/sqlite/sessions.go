package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/tetherhq/tether/internal/store"
)

// CreateSession implements store.Store.
func (s *Store) CreateSession(ctx context.Context, ss store.Session) error {
	err := s.write(ctx, func(tx *sql.Tx) error {
		return insertNew(ctx, tx, `INSERT INTO sessions
			(id, target, owner, document_name, reason, status, start_date, end_date,
			 details, max_session_duration, exit_code, parameters, transcript)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`,
			ss.ID, ss.Target, ss.Owner, ss.DocumentName, ss.Reason, ss.Status,
			millis(ss.StartDate), millis(ss.EndDate), ss.Details, ss.MaxSessionDuration,
			exitCode(ss.ExitCode), ss.Parameters, transcriptJSON(ss.Transcript))
	})
	if err != nil {
		return fmt.Errorf("create session %s: %w", ss.ID, err)
	}
	return nil
}

func exitCode(c *int) sql.NullInt64 {
	if c == nil {
		return sql.NullInt64{}
	}
	return sql.NullInt64{Int64: int64(*c), Valid: true}
}

const sessionColumns = `id, target, owner, document_name, reason, status, start_date, end_date,
	details, max_session_duration, exit_code, parameters, transcript`

func transcriptJSON(t store.Transcript) string {
	if t == (store.Transcript{}) {
		return ""
	}
	b, _ := json.Marshal(t)
	return string(b)
}

func scanSession(row rowScanner) (store.Session, error) {
	var ss store.Session
	var start, end, code sql.NullInt64
	var transcript string
	if err := row.Scan(&ss.ID, &ss.Target, &ss.Owner, &ss.DocumentName, &ss.Reason, &ss.Status,
		&start, &end, &ss.Details, &ss.MaxSessionDuration, &code, &ss.Parameters, &transcript); err != nil {
		return store.Session{}, err
	}
	if transcript != "" {
		if err := json.Unmarshal([]byte(transcript), &ss.Transcript); err != nil {
			return store.Session{}, fmt.Errorf("session %s: transcript column: %w", ss.ID, err)
		}
	}
	ss.StartDate = fromMillis(start)
	ss.EndDate = fromMillis(end)
	if code.Valid {
		c := int(code.Int64)
		ss.ExitCode = &c
	}
	return ss, nil
}

// GetSession implements store.Store.
func (s *Store) GetSession(ctx context.Context, id string) (store.Session, error) {
	ss, err := scanSession(s.r.QueryRowContext(ctx,
		`SELECT `+sessionColumns+` FROM sessions WHERE id = ?`, id))
	if err != nil {
		return store.Session{}, fmt.Errorf("get session %s: %w", id, notFound(err))
	}
	return ss, nil
}

// errFn marks an error returned by UpdateSession's fn so it can be handed
// back unwrapped, as the caller returned it.
type errFn struct{ err error }

func (e errFn) Error() string { return e.err.Error() }

// UpdateSession implements store.Store. fn runs inside the write
// transaction, so it must be quick and must not call the Store. Changes fn
// makes to the session's ID are ignored.
func (s *Store) UpdateSession(ctx context.Context, id string, fn func(*store.Session) error) (store.Session, error) {
	var ss store.Session
	err := s.write(ctx, func(tx *sql.Tx) error {
		var err error
		ss, err = scanSession(tx.QueryRowContext(ctx,
			`SELECT `+sessionColumns+` FROM sessions WHERE id = ?`, id))
		if err != nil {
			return notFound(err)
		}
		if err := fn(&ss); err != nil {
			return errFn{err}
		}
		ss.ID = id
		return execOne(ctx, tx, `UPDATE sessions SET
			target = ?, owner = ?, document_name = ?, reason = ?, status = ?, start_date = ?,
			end_date = ?, details = ?, max_session_duration = ?, exit_code = ?, parameters = ?,
			transcript = ?
			WHERE id = ?`,
			ss.Target, ss.Owner, ss.DocumentName, ss.Reason, ss.Status, millis(ss.StartDate),
			millis(ss.EndDate), ss.Details, ss.MaxSessionDuration, exitCode(ss.ExitCode), ss.Parameters,
			transcriptJSON(ss.Transcript), id)
	})
	if fe, ok := errors.AsType[errFn](err); ok {
		return store.Session{}, fe.err
	}
	if err != nil {
		return store.Session{}, fmt.Errorf("update session %s: %w", id, err)
	}
	return ss, nil
}

// ListSessions implements store.Store. InvokedAfter is inclusive and
// InvokedBefore exclusive, as in DescribeSessions.
func (s *Store) ListSessions(ctx context.Context, f store.SessionFilter) ([]store.Session, error) {
	var where []string
	var args []any
	add := func(cond string, a ...any) {
		where = append(where, cond)
		args = append(args, a...)
	}
	if f.Active != nil {
		if *f.Active {
			add(`status NOT IN ('Terminated', 'Failed')`)
		} else {
			add(`status IN ('Terminated', 'Failed')`)
		}
	}
	if f.Target != "" {
		add(`target = ?`, f.Target)
	}
	if f.Owner != "" {
		add(`owner = ?`, f.Owner)
	}
	if f.Status != "" {
		add(`status = ?`, f.Status)
	}
	if f.SessionID != "" {
		add(`id = ?`, f.SessionID)
	}
	if !f.InvokedAfter.IsZero() {
		add(`start_date >= ?`, f.InvokedAfter.UnixMilli())
	}
	if !f.InvokedBefore.IsZero() {
		add(`start_date < ?`, f.InvokedBefore.UnixMilli())
	}
	q := `SELECT ` + sessionColumns + ` FROM sessions`
	if len(where) > 0 {
		q += ` WHERE ` + strings.Join(where, ` AND `)
	}
	q += ` ORDER BY start_date DESC, id`

	ss, err := queryAll(ctx, s.r, scanSession, q, args...)
	if err != nil {
		return nil, fmt.Errorf("list sessions: %w", err)
	}
	return ss, nil
}

// PutToken implements store.Store. Only the hash the caller computed is
// stored; a token without an expiry is refused.
func (s *Store) PutToken(ctx context.Context, t store.Token) error {
	if t.ExpiresAt.IsZero() {
		return errors.New("put token: no expiry")
	}
	err := s.write(ctx, func(tx *sql.Tx) error {
		return insertNew(ctx, tx, `INSERT INTO tokens (hash, kind, subject, expires_at)
			VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING`,
			t.Hash, string(t.Kind), t.Subject, t.ExpiresAt.UnixMilli())
	})
	if err != nil {
		return fmt.Errorf("put %s token: %w", t.Kind, err)
	}
	return nil
}

// ConsumeToken implements store.Store. The check and the mark are one
// UPDATE, so of any number of concurrent consumers exactly one succeeds. The
// same transaction purges tokens that expired by now, used or not.
func (s *Store) ConsumeToken(ctx context.Context, hash []byte, kind store.TokenKind, subject string, now time.Time) (store.Token, error) {
	var t store.Token
	var valid bool
	err := s.write(ctx, func(tx *sql.Tx) error {
		var k string
		var exp int64
		err := tx.QueryRowContext(ctx, `UPDATE tokens SET used_at = ?
			WHERE hash = ? AND kind = ? AND subject = ? AND used_at IS NULL AND expires_at > ?
			RETURNING hash, kind, subject, expires_at`,
			now.UnixMilli(), hash, string(kind), subject, now.UnixMilli()).
			Scan(&t.Hash, &k, &t.Subject, &exp)
		switch {
		case errors.Is(err, sql.ErrNoRows):
		case err != nil:
			return err
		default:
			valid = true
			t.Kind = store.TokenKind(k)
			t.ExpiresAt = time.UnixMilli(exp).UTC()
		}
		_, err = tx.ExecContext(ctx, `DELETE FROM tokens WHERE expires_at <= ?`, now.UnixMilli())
		return err
	})
	if err != nil {
		return store.Token{}, fmt.Errorf("consume %s token: %w", kind, err)
	}
	if !valid {
		return store.Token{}, store.ErrTokenInvalid
	}
	return t, nil
}
