package sqlite

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/tetherhq/tether/internal/store"
)

// inlineOwner describes who owns inline policies: users and groups keep
// them in tables of the same shape. table and column are constants of this
// package, never input, so they may be formatted into SQL.
type inlineOwner struct {
	noun    string // "user" or "group", for error messages
	table   string // user_policies, group_policies
	column  string // user_name, group_name
	require func(ctx context.Context, q queryer, name string) error
}

var (
	userInline  = inlineOwner{noun: "user", table: "user_policies", column: "user_name", require: requireUser}
	groupInline = inlineOwner{noun: "group", table: "group_policies", column: "group_name", require: requireGroup}
)

func (s *Store) putInline(ctx context.Context, o inlineOwner, owner string, p store.Policy) error {
	err := s.write(ctx, func(tx *sql.Tx) error {
		if err := o.require(ctx, tx, owner); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, fmt.Sprintf(`INSERT INTO %[1]s (%[2]s, name, document) VALUES (?, ?, ?)
			ON CONFLICT (%[2]s, name) DO UPDATE SET document = excluded.document`, o.table, o.column),
			owner, p.Name, p.Document)
		return err
	})
	if err != nil {
		return fmt.Errorf("put policy %s of %s %s: %w", p.Name, o.noun, owner, err)
	}
	return nil
}

func (s *Store) listInline(ctx context.Context, o inlineOwner, owner string) ([]store.Policy, error) {
	var ps []store.Policy
	err := readTx(ctx, s.r, func(tx *sql.Tx) error {
		if err := o.require(ctx, tx, owner); err != nil {
			return err
		}
		var err error
		ps, err = queryAll(ctx, tx, func(row rowScanner) (p store.Policy, err error) {
			err = row.Scan(&p.Name, &p.Document)
			return p, err
		}, fmt.Sprintf(`SELECT name, document FROM %s WHERE %s = ? ORDER BY name`, o.table, o.column), owner)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("list policies of %s %s: %w", o.noun, owner, err)
	}
	return ps, nil
}

func (s *Store) deleteInline(ctx context.Context, o inlineOwner, owner, policyName string) error {
	err := s.write(ctx, func(tx *sql.Tx) error {
		return execOne(ctx, tx, fmt.Sprintf(`DELETE FROM %s WHERE %s = ? AND name = ?`, o.table, o.column), owner, policyName)
	})
	if err != nil {
		return fmt.Errorf("delete policy %s of %s %s: %w", policyName, o.noun, owner, err)
	}
	return nil
}
