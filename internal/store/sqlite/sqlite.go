// Package sqlite implements store.Store on a single SQLite database file,
// for single-node deployments. It owns the file's schema and its migrations
// (embedded from migrations/).
//
// Only the server's wiring (cmd/tether-server and tests) should import this
// package; everything else depends on the store.Store interface. It must never
// be linked into the agent.
//
// All writes go through one connection, so writers in this process queue in
// Go instead of failing with SQLITE_BUSY; reads use a separate pool of
// read-only connections that WAL lets run alongside the writer.
package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"time"

	_ "modernc.org/sqlite" // registers the "sqlite" database/sql driver

	"github.com/tetherhq/tether/internal/store"
)

// busyTimeout bounds how long a connection waits for a lock held by another
// process (or by a reader during a WAL checkpoint) before SQLITE_BUSY.
const busyTimeout = 10 * time.Second

// Store is a store.Store backed by SQLite. Create it with Open.
type Store struct {
	w *sql.DB // exactly one connection: every write and read-modify-write
	r *sql.DB // read-only pool for plain reads
}

var _ store.Store = (*Store)(nil)

// Open opens the database at path, creating the file with mode 0600 if it
// does not exist (its directory must), and applies any pending migrations.
// It refuses, with ErrSchemaTooNew, a database written by a newer Tether.
func Open(ctx context.Context, path string) (*Store, error) {
	ms, err := loadMigrations(migrationFiles)
	if err != nil {
		return nil, fmt.Errorf("open store %s: load migrations: %w", path, err)
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("open store %s: %w", path, err)
	}
	// SQLite would create the file with 0644 minus umask; create it first so
	// credentials (sealed or not) are never world-readable. SQLite gives the
	// -wal and -shm files the same mode as the database.
	f, err := os.OpenFile(abs, os.O_RDONLY|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open store %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return nil, fmt.Errorf("open store %s: %w", path, err)
	}

	pragmas := func(extra ...string) string {
		q := url.Values{}
		q.Add("_pragma", fmt.Sprintf("busy_timeout(%d)", busyTimeout.Milliseconds()))
		q.Add("_pragma", "foreign_keys(1)")
		for _, p := range extra {
			q.Add("_pragma", p)
		}
		return q.Encode()
	}
	u := url.URL{Scheme: "file", Path: abs}

	// IMMEDIATE takes the write lock at BEGIN, so a read-then-write
	// transaction never has to upgrade (which another process could make
	// fail with SQLITE_BUSY regardless of busy_timeout).
	u.RawQuery = pragmas("journal_mode(WAL)") + "&_txlock=immediate"
	w, err := sql.Open("sqlite", u.String())
	if err != nil {
		return nil, fmt.Errorf("open store %s: %w", path, err)
	}
	w.SetMaxOpenConns(1)
	w.SetMaxIdleConns(1)
	w.SetConnMaxLifetime(0)
	w.SetConnMaxIdleTime(0)

	if err := migrate(ctx, w, ms); err != nil {
		w.Close()
		return nil, fmt.Errorf("open store %s: %w", path, err)
	}

	u.RawQuery = pragmas("query_only(1)")
	r, err := sql.Open("sqlite", u.String())
	if err != nil {
		w.Close()
		return nil, fmt.Errorf("open store %s: %w", path, err)
	}
	n := min(max(runtime.GOMAXPROCS(0), 2), 8)
	r.SetMaxOpenConns(n)
	r.SetMaxIdleConns(n)
	if err := r.PingContext(ctx); err != nil {
		r.Close()
		w.Close()
		return nil, fmt.Errorf("open store %s: %w", path, err)
	}
	return &Store{w: w, r: r}, nil
}

// Close closes the database. Calling it more than once is harmless.
func (s *Store) Close() error {
	return errors.Join(s.r.Close(), s.w.Close())
}

// write runs fn in a transaction on the writer connection and commits it if
// fn returns nil. The transaction holds the only writer, so fn must not call
// back into the Store's write methods.
func (s *Store) write(ctx context.Context, fn func(tx *sql.Tx) error) error {
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	// Deferred so that a panicking fn (UpdateSession's callback) cannot
	// leave the only writer connection stuck in a transaction.
	defer tx.Rollback()
	if err := fn(tx); err != nil {
		return err
	}
	return tx.Commit()
}

// queryer is what the read helpers need from *sql.DB and *sql.Tx.
// rowScanner is a *sql.Row or *sql.Rows.
type rowScanner = interface{ Scan(...any) error }

// queryAll runs query on q and returns every row, read with scan.
func queryAll[T any](ctx context.Context, q queryer, scan func(rowScanner) (T, error), query string, args ...any) ([]T, error) {
	rows, err := q.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []T
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, rows.Err()
}

func scanString(row rowScanner) (s string, err error) {
	err = row.Scan(&s)
	return s, err
}

type queryer interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// execOne runs a statement that must affect exactly one row and reports
// store.ErrNotFound when it affects none.
func execOne(ctx context.Context, db interface {
	ExecContext(context.Context, string, ...any) (sql.Result, error)
}, query string, args ...any) error {
	res, err := db.ExecContext(ctx, query, args...)
	if err != nil {
		return err
	}
	n, err := res.RowsAffected()
	if err != nil {
		return err
	}
	if n == 0 {
		return store.ErrNotFound
	}
	return nil
}

// insertNew runs an INSERT ... ON CONFLICT DO NOTHING and reports
// store.ErrAlreadyExists when it inserted nothing.
func insertNew(ctx context.Context, tx *sql.Tx, query string, args ...any) error {
	res, err := tx.ExecContext(ctx, query, args...)
	if err != nil {
		return err
	}
	n, err := res.RowsAffected()
	if err != nil {
		return err
	}
	if n == 0 {
		return store.ErrAlreadyExists
	}
	return nil
}

// exists reports whether query returns a row.
func exists(ctx context.Context, q queryer, query string, args ...any) (bool, error) {
	var one int
	err := q.QueryRowContext(ctx, query, args...).Scan(&one)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	return err == nil, err
}

// notFound turns sql.ErrNoRows into store.ErrNotFound.
func notFound(err error) error {
	if errors.Is(err, sql.ErrNoRows) {
		return store.ErrNotFound
	}
	return err
}

// millis encodes t as Unix milliseconds, and the zero time as NULL.
func millis(t time.Time) sql.NullInt64 {
	if t.IsZero() {
		return sql.NullInt64{}
	}
	return sql.NullInt64{Int64: t.UnixMilli(), Valid: true}
}

// fromMillis decodes what millis encoded, always in UTC.
func fromMillis(n sql.NullInt64) time.Time {
	if !n.Valid {
		return time.Time{}
	}
	return time.UnixMilli(n.Int64).UTC()
}
