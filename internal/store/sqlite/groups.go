package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/tetherhq/tether/internal/store"
)

// CreateGroup implements store.Store.
func (s *Store) CreateGroup(ctx context.Context, g store.Group) error {
	err := s.write(ctx, func(tx *sql.Tx) error {
		return insertNew(ctx, tx,
			`INSERT INTO groups (name, id, created_at) VALUES (?, ?, ?) ON CONFLICT DO NOTHING`,
			g.Name, g.ID, millis(g.CreatedAt))
	})
	if err != nil {
		return fmt.Errorf("create group %s: %w", g.Name, err)
	}
	return nil
}

func scanGroup(row rowScanner) (store.Group, error) {
	var g store.Group
	var created sql.NullInt64
	if err := row.Scan(&g.Name, &g.ID, &created); err != nil {
		return store.Group{}, err
	}
	g.CreatedAt = fromMillis(created)
	return g, nil
}

// GetGroup implements store.Store.
func (s *Store) GetGroup(ctx context.Context, name string) (store.Group, error) {
	g, err := scanGroup(s.r.QueryRowContext(ctx, `SELECT name, id, created_at FROM groups WHERE name = ?`, name))
	if err != nil {
		return store.Group{}, fmt.Errorf("get group %s: %w", name, notFound(err))
	}
	return g, nil
}

// ListGroups implements store.Store.
func (s *Store) ListGroups(ctx context.Context) ([]store.Group, error) {
	gs, err := queryGroups(ctx, s.r, `SELECT name, id, created_at FROM groups ORDER BY name`)
	if err != nil {
		return nil, fmt.Errorf("list groups: %w", err)
	}
	return gs, nil
}

func queryGroups(ctx context.Context, q queryer, query string, args ...any) ([]store.Group, error) {
	return queryAll(ctx, q, scanGroup, query, args...)
}

// DeleteGroup implements store.Store. Memberships, inline policies and
// attachments go by foreign-key cascade; tags have no foreign key and are
// deleted here. The members' users stay.
func (s *Store) DeleteGroup(ctx context.Context, name string) error {
	err := s.write(ctx, func(tx *sql.Tx) error {
		if err := execOne(ctx, tx, `DELETE FROM groups WHERE name = ?`, name); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `DELETE FROM tags WHERE resource_type = ? AND resource_id = ?`,
			string(store.ResourceGroup), name)
		return err
	})
	if err != nil {
		return fmt.Errorf("delete group %s: %w", name, err)
	}
	return nil
}

// requireGroup returns store.ErrNotFound unless the group exists.
func requireGroup(ctx context.Context, q queryer, name string) error {
	ok, err := exists(ctx, q, `SELECT 1 FROM groups WHERE name = ?`, name)
	if err != nil {
		return err
	}
	if !ok {
		return fmt.Errorf("group %s: %w", name, store.ErrNotFound)
	}
	return nil
}

// AddUserToGroup implements store.Store.
func (s *Store) AddUserToGroup(ctx context.Context, group, user string) error {
	err := s.write(ctx, func(tx *sql.Tx) error {
		if err := requireGroup(ctx, tx, group); err != nil {
			return err
		}
		if err := requireUser(ctx, tx, user); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx,
			`INSERT INTO group_members (group_name, user_name) VALUES (?, ?) ON CONFLICT DO NOTHING`,
			group, user)
		return err
	})
	if err != nil {
		return fmt.Errorf("add user %s to group %s: %w", user, group, err)
	}
	return nil
}

// RemoveUserFromGroup implements store.Store.
func (s *Store) RemoveUserFromGroup(ctx context.Context, group, user string) error {
	err := s.write(ctx, func(tx *sql.Tx) error {
		return execOne(ctx, tx, `DELETE FROM group_members WHERE group_name = ? AND user_name = ?`, group, user)
	})
	if err != nil {
		return fmt.Errorf("remove user %s from group %s: %w", user, group, err)
	}
	return nil
}

// ListGroupsForUser implements store.Store.
func (s *Store) ListGroupsForUser(ctx context.Context, user string) ([]store.Group, error) {
	var gs []store.Group
	err := readTx(ctx, s.r, func(tx *sql.Tx) error {
		if err := requireUser(ctx, tx, user); err != nil {
			return err
		}
		var err error
		gs, err = queryGroups(ctx, tx, `SELECT g.name, g.id, g.created_at
			FROM group_members m JOIN groups g ON g.name = m.group_name
			WHERE m.user_name = ? ORDER BY g.name`, user)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("list groups of user %s: %w", user, err)
	}
	return gs, nil
}

// ListGroupMembers implements store.Store.
func (s *Store) ListGroupMembers(ctx context.Context, group string) ([]string, error) {
	var names []string
	err := readTx(ctx, s.r, func(tx *sql.Tx) error {
		if err := requireGroup(ctx, tx, group); err != nil {
			return err
		}
		var err error
		names, err = queryAll(ctx, tx, scanString,
			`SELECT user_name FROM group_members WHERE group_name = ? ORDER BY user_name`, group)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("list members of group %s: %w", group, err)
	}
	return names, nil
}

// PutGroupPolicy implements store.Store.
func (s *Store) PutGroupPolicy(ctx context.Context, group string, p store.Policy) error {
	return s.putInline(ctx, groupInline, group, p)
}

// ListGroupPolicies implements store.Store.
func (s *Store) ListGroupPolicies(ctx context.Context, group string) ([]store.Policy, error) {
	return s.listInline(ctx, groupInline, group)
}

// DeleteGroupPolicy implements store.Store.
func (s *Store) DeleteGroupPolicy(ctx context.Context, group, policyName string) error {
	return s.deleteInline(ctx, groupInline, group, policyName)
}

// versionID renders a version number as IAM does.
func versionID(n int64) string { return "v" + strconv.FormatInt(n, 10) }

// parseVersionID reads what versionID wrote. Anything else ("1", "v0",
// "v01", "V1") names no version, which is store.ErrNotFound.
func parseVersionID(id string) (int64, error) {
	if len(id) < 2 || id[0] != 'v' {
		return 0, fmt.Errorf("version %q: %w", id, store.ErrNotFound)
	}
	n, err := strconv.ParseInt(id[1:], 10, 64)
	if err != nil || n < 1 || versionID(n) != id {
		return 0, fmt.Errorf("version %q: %w", id, store.ErrNotFound)
	}
	return n, nil
}

// managedPolicyColumns selects a managed_policies row aliased p, with its
// attachment count.
const managedPolicyColumns = `p.name, p.id, p.description, p.default_version,
	(SELECT COUNT(*) FROM policy_attachments a WHERE a.policy_name = p.name),
	p.created_at, p.updated_at`

func scanManagedPolicy(row rowScanner) (store.ManagedPolicy, error) {
	var p store.ManagedPolicy
	var def int64
	var created, updated sql.NullInt64
	if err := row.Scan(&p.Name, &p.ID, &p.Description, &def, &p.AttachmentCount, &created, &updated); err != nil {
		return store.ManagedPolicy{}, err
	}
	p.DefaultVersionID = versionID(def)
	p.CreatedAt = fromMillis(created)
	p.UpdatedAt = fromMillis(updated)
	return p, nil
}

func queryManagedPolicies(ctx context.Context, q queryer, query string, args ...any) ([]store.ManagedPolicy, error) {
	return queryAll(ctx, q, scanManagedPolicy, query, args...)
}

// CreateManagedPolicy implements store.Store. The policy's DefaultVersionID
// and AttachmentCount are not taken from p (they are v1 and 0), nor is its
// UpdatedAt: v1 becomes the default at CreatedAt, which is when the default
// last changed.
func (s *Store) CreateManagedPolicy(ctx context.Context, p store.ManagedPolicy, document string) error {
	err := s.write(ctx, func(tx *sql.Tx) error {
		if err := insertNew(ctx, tx, `INSERT INTO managed_policies
			(name, id, description, default_version, last_version, created_at, updated_at)
			VALUES (?, ?, ?, 1, 1, ?, ?) ON CONFLICT DO NOTHING`,
			p.Name, p.ID, p.Description, millis(p.CreatedAt), millis(p.CreatedAt)); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx,
			`INSERT INTO policy_versions (policy_name, version, document, created_at) VALUES (?, 1, ?, ?)`,
			p.Name, document, millis(p.CreatedAt))
		return err
	})
	if err != nil {
		return fmt.Errorf("create managed policy %s: %w", p.Name, err)
	}
	return nil
}

// GetManagedPolicy implements store.Store.
func (s *Store) GetManagedPolicy(ctx context.Context, name string) (store.ManagedPolicy, error) {
	p, err := scanManagedPolicy(s.r.QueryRowContext(ctx,
		`SELECT `+managedPolicyColumns+` FROM managed_policies p WHERE p.name = ?`, name))
	if err != nil {
		return store.ManagedPolicy{}, fmt.Errorf("get managed policy %s: %w", name, notFound(err))
	}
	return p, nil
}

// ListManagedPolicies implements store.Store.
func (s *Store) ListManagedPolicies(ctx context.Context) ([]store.ManagedPolicy, error) {
	ps, err := queryManagedPolicies(ctx, s.r,
		`SELECT `+managedPolicyColumns+` FROM managed_policies p ORDER BY p.name`)
	if err != nil {
		return nil, fmt.Errorf("list managed policies: %w", err)
	}
	return ps, nil
}

// DeleteManagedPolicy implements store.Store. Versions go by foreign-key
// cascade.
func (s *Store) DeleteManagedPolicy(ctx context.Context, name string) error {
	err := s.write(ctx, func(tx *sql.Tx) error {
		if err := requireManagedPolicy(ctx, tx, name); err != nil {
			return err
		}
		attached, err := exists(ctx, tx, `SELECT 1 FROM policy_attachments WHERE policy_name = ? LIMIT 1`, name)
		if err != nil {
			return err
		}
		if attached {
			return fmt.Errorf("still attached: %w", store.ErrConflict)
		}
		return execOne(ctx, tx, `DELETE FROM managed_policies WHERE name = ?`, name)
	})
	if err != nil {
		return fmt.Errorf("delete managed policy %s: %w", name, err)
	}
	return nil
}

// requireManagedPolicy returns store.ErrNotFound unless the policy exists.
func requireManagedPolicy(ctx context.Context, q queryer, name string) error {
	ok, err := exists(ctx, q, `SELECT 1 FROM managed_policies WHERE name = ?`, name)
	if err != nil {
		return err
	}
	if !ok {
		return fmt.Errorf("managed policy %s: %w", name, store.ErrNotFound)
	}
	return nil
}

// CreatePolicyVersion implements store.Store. The version is created at at,
// which also becomes the policy's UpdatedAt if setDefault.
func (s *Store) CreatePolicyVersion(ctx context.Context, policy, document string, setDefault bool, at time.Time) (store.PolicyVersion, error) {
	var v store.PolicyVersion
	err := s.write(ctx, func(tx *sql.Tx) error {
		var last, count int64
		err := tx.QueryRowContext(ctx, `SELECT p.last_version,
			(SELECT COUNT(*) FROM policy_versions v WHERE v.policy_name = p.name)
			FROM managed_policies p WHERE p.name = ?`, policy).Scan(&last, &count)
		if errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("managed policy %s: %w", policy, store.ErrNotFound)
		}
		if err != nil {
			return err
		}
		if count >= store.MaxPolicyVersions {
			return fmt.Errorf("%d versions: %w", count, store.ErrLimitExceeded)
		}
		n := last + 1
		if _, err := tx.ExecContext(ctx,
			`INSERT INTO policy_versions (policy_name, version, document, created_at) VALUES (?, ?, ?, ?)`,
			policy, n, document, millis(at)); err != nil {
			return err
		}
		if setDefault {
			_, err = tx.ExecContext(ctx, `UPDATE managed_policies
				SET last_version = ?, default_version = ?, updated_at = ? WHERE name = ?`,
				n, n, millis(at), policy)
		} else {
			_, err = tx.ExecContext(ctx, `UPDATE managed_policies SET last_version = ? WHERE name = ?`, n, policy)
		}
		if err != nil {
			return err
		}
		v = store.PolicyVersion{
			PolicyName: policy,
			VersionID:  versionID(n),
			Document:   document,
			IsDefault:  setDefault,
			CreatedAt:  fromMillis(millis(at)),
		}
		return nil
	})
	if err != nil {
		return store.PolicyVersion{}, fmt.Errorf("create version of managed policy %s: %w", policy, err)
	}
	return v, nil
}

// policyVersionColumns selects a policy_versions row aliased v joined with
// its managed_policies row aliased p.
const policyVersionColumns = `v.policy_name, v.version, v.document, v.version = p.default_version, v.created_at`

func scanPolicyVersion(row rowScanner) (store.PolicyVersion, error) {
	var v store.PolicyVersion
	var n int64
	var created sql.NullInt64
	if err := row.Scan(&v.PolicyName, &n, &v.Document, &v.IsDefault, &created); err != nil {
		return store.PolicyVersion{}, err
	}
	v.VersionID = versionID(n)
	v.CreatedAt = fromMillis(created)
	return v, nil
}

// GetPolicyVersion implements store.Store.
func (s *Store) GetPolicyVersion(ctx context.Context, policy, versionID string) (store.PolicyVersion, error) {
	v, err := func() (store.PolicyVersion, error) {
		n, err := parseVersionID(versionID)
		if err != nil {
			return store.PolicyVersion{}, err
		}
		v, err := scanPolicyVersion(s.r.QueryRowContext(ctx, `SELECT `+policyVersionColumns+`
			FROM policy_versions v JOIN managed_policies p ON p.name = v.policy_name
			WHERE v.policy_name = ? AND v.version = ?`, policy, n))
		return v, notFound(err)
	}()
	if err != nil {
		return store.PolicyVersion{}, fmt.Errorf("get version %s of managed policy %s: %w", versionID, policy, err)
	}
	return v, nil
}

// ListPolicyVersions implements store.Store. Newest first is highest number
// first: numbers only grow.
func (s *Store) ListPolicyVersions(ctx context.Context, policy string) ([]store.PolicyVersion, error) {
	var vs []store.PolicyVersion
	err := readTx(ctx, s.r, func(tx *sql.Tx) error {
		if err := requireManagedPolicy(ctx, tx, policy); err != nil {
			return err
		}
		var err error
		vs, err = queryAll(ctx, tx, scanPolicyVersion, `SELECT `+policyVersionColumns+`
			FROM policy_versions v JOIN managed_policies p ON p.name = v.policy_name
			WHERE v.policy_name = ? ORDER BY v.version DESC`, policy)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("list versions of managed policy %s: %w", policy, err)
	}
	return vs, nil
}

// requirePolicyVersion returns the policy's default version number, or
// store.ErrNotFound unless both the policy and the version exist.
func requirePolicyVersion(ctx context.Context, q queryer, policy string, n int64) (def int64, err error) {
	err = q.QueryRowContext(ctx, `SELECT p.default_version FROM managed_policies p
		JOIN policy_versions v ON v.policy_name = p.name
		WHERE p.name = ? AND v.version = ?`, policy, n).Scan(&def)
	return def, notFound(err)
}

// SetDefaultPolicyVersion implements store.Store. Setting the version that
// already is the default changes nothing, UpdatedAt included.
func (s *Store) SetDefaultPolicyVersion(ctx context.Context, policy, versionID string, at time.Time) error {
	err := s.write(ctx, func(tx *sql.Tx) error {
		n, err := parseVersionID(versionID)
		if err != nil {
			return err
		}
		def, err := requirePolicyVersion(ctx, tx, policy, n)
		if err != nil || def == n {
			return err
		}
		_, err = tx.ExecContext(ctx,
			`UPDATE managed_policies SET default_version = ?, updated_at = ? WHERE name = ?`,
			n, millis(at), policy)
		return err
	})
	if err != nil {
		return fmt.Errorf("set default version of managed policy %s to %s: %w", policy, versionID, err)
	}
	return nil
}

// DeletePolicyVersion implements store.Store.
func (s *Store) DeletePolicyVersion(ctx context.Context, policy, versionID string) error {
	err := s.write(ctx, func(tx *sql.Tx) error {
		n, err := parseVersionID(versionID)
		if err != nil {
			return err
		}
		def, err := requirePolicyVersion(ctx, tx, policy, n)
		if err != nil {
			return err
		}
		if def == n {
			return fmt.Errorf("default version: %w", store.ErrConflict)
		}
		return execOne(ctx, tx, `DELETE FROM policy_versions WHERE policy_name = ? AND version = ?`, policy, n)
	})
	if err != nil {
		return fmt.Errorf("delete version %s of managed policy %s: %w", versionID, policy, err)
	}
	return nil
}

// principalColumn names the policy_attachments column for pt, after
// checking that the principal exists (store.ErrNotFound if not). An unknown
// principal type is a plain error: it is a caller's bug, not a missing row.
func principalColumn(ctx context.Context, q queryer, pt store.PrincipalType, principal string) (string, error) {
	switch pt {
	case store.PrincipalUser:
		return "user_name", requireUser(ctx, q, principal)
	case store.PrincipalGroup:
		return "group_name", requireGroup(ctx, q, principal)
	default:
		return "", fmt.Errorf("unknown principal type %q", pt)
	}
}

// AttachPolicy implements store.Store.
func (s *Store) AttachPolicy(ctx context.Context, pt store.PrincipalType, principal, policy string) error {
	err := s.write(ctx, func(tx *sql.Tx) error {
		col, err := principalColumn(ctx, tx, pt, principal)
		if err != nil {
			return err
		}
		if err := requireManagedPolicy(ctx, tx, policy); err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `INSERT INTO policy_attachments (policy_name, `+col+`)
			VALUES (?, ?) ON CONFLICT DO NOTHING`, policy, principal)
		return err
	})
	if err != nil {
		return fmt.Errorf("attach managed policy %s to %s %s: %w", policy, pt, principal, err)
	}
	return nil
}

// DetachPolicy implements store.Store.
func (s *Store) DetachPolicy(ctx context.Context, pt store.PrincipalType, principal, policy string) error {
	err := s.write(ctx, func(tx *sql.Tx) error {
		var col string
		switch pt {
		case store.PrincipalUser:
			col = "user_name"
		case store.PrincipalGroup:
			col = "group_name"
		default:
			return fmt.Errorf("unknown principal type %q", pt)
		}
		return execOne(ctx, tx, `DELETE FROM policy_attachments WHERE `+col+` = ? AND policy_name = ?`,
			principal, policy)
	})
	if err != nil {
		return fmt.Errorf("detach managed policy %s from %s %s: %w", policy, pt, principal, err)
	}
	return nil
}

// ListAttachedPolicies implements store.Store.
func (s *Store) ListAttachedPolicies(ctx context.Context, pt store.PrincipalType, principal string) ([]store.ManagedPolicy, error) {
	var ps []store.ManagedPolicy
	err := readTx(ctx, s.r, func(tx *sql.Tx) error {
		col, err := principalColumn(ctx, tx, pt, principal)
		if err != nil {
			return err
		}
		ps, err = queryManagedPolicies(ctx, tx, `SELECT `+managedPolicyColumns+`
			FROM policy_attachments x JOIN managed_policies p ON p.name = x.policy_name
			WHERE x.`+col+` = ? ORDER BY p.name`, principal)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("list managed policies attached to %s %s: %w", pt, principal, err)
	}
	return ps, nil
}
