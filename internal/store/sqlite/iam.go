package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/tetherhq/tether/internal/store"
)

// EnsureMeta implements store.Store.
func (s *Store) EnsureMeta(ctx context.Context, key, value string) (string, error) {
	var stored string
	err := s.write(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx,
			`INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO NOTHING`, key, value); err != nil {
			return err
		}
		return tx.QueryRowContext(ctx, `SELECT value FROM meta WHERE key = ?`, key).Scan(&stored)
	})
	if err != nil {
		return "", fmt.Errorf("ensure meta %s: %w", key, err)
	}
	return stored, nil
}

// CreateUser implements store.Store.
func (s *Store) CreateUser(ctx context.Context, u store.User) error {
	err := s.write(ctx, func(tx *sql.Tx) error {
		return insertNew(ctx, tx,
			`INSERT INTO users (name, id, created_at) VALUES (?, ?, ?) ON CONFLICT DO NOTHING`,
			u.Name, u.ID, millis(u.CreatedAt))
	})
	if err != nil {
		return fmt.Errorf("create user %s: %w", u.Name, err)
	}
	return nil
}

// GetUser implements store.Store.
func (s *Store) GetUser(ctx context.Context, name string) (store.User, error) {
	u, err := getUser(ctx, s.r, name)
	if err != nil {
		return store.User{}, fmt.Errorf("get user %s: %w", name, err)
	}
	return u, nil
}

func getUser(ctx context.Context, q queryer, name string) (store.User, error) {
	var u store.User
	var created sql.NullInt64
	err := q.QueryRowContext(ctx, `SELECT name, id, created_at FROM users WHERE name = ?`, name).
		Scan(&u.Name, &u.ID, &created)
	if err != nil {
		return store.User{}, notFound(err)
	}
	u.CreatedAt = fromMillis(created)
	return u, nil
}

// ListUsers implements store.Store.
func (s *Store) ListUsers(ctx context.Context) ([]store.User, error) {
	us, err := queryAll(ctx, s.r, func(row rowScanner) (store.User, error) {
		var u store.User
		var created sql.NullInt64
		err := row.Scan(&u.Name, &u.ID, &created)
		u.CreatedAt = fromMillis(created)
		return u, err
	}, `SELECT name, id, created_at FROM users ORDER BY name`)
	if err != nil {
		return nil, fmt.Errorf("list users: %w", err)
	}
	return us, nil
}

// DeleteUser implements store.Store. Inline policies, keys, group
// memberships and policy attachments go by foreign-key cascade (see
// migrations 0001 and 0002); tags have no foreign key and are deleted here.
func (s *Store) DeleteUser(ctx context.Context, name string) error {
	err := s.write(ctx, func(tx *sql.Tx) error {
		if err := execOne(ctx, tx, `DELETE FROM users WHERE name = ?`, name); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `DELETE FROM tags WHERE resource_type = ? AND resource_id = ?`,
			string(store.ResourceUser), name)
		return err
	})
	if err != nil {
		return fmt.Errorf("delete user %s: %w", name, err)
	}
	return nil
}

// requireUser returns store.ErrNotFound unless the user exists.
func requireUser(ctx context.Context, q queryer, name string) error {
	ok, err := exists(ctx, q, `SELECT 1 FROM users WHERE name = ?`, name)
	if err != nil {
		return err
	}
	if !ok {
		return fmt.Errorf("user %s: %w", name, store.ErrNotFound)
	}
	return nil
}

// PutUserPolicy implements store.Store.
func (s *Store) PutUserPolicy(ctx context.Context, userName string, p store.Policy) error {
	return s.putInline(ctx, userInline, userName, p)
}

// ListUserPolicies implements store.Store.
func (s *Store) ListUserPolicies(ctx context.Context, userName string) ([]store.Policy, error) {
	return s.listInline(ctx, userInline, userName)
}

// DeleteUserPolicy implements store.Store.
func (s *Store) DeleteUserPolicy(ctx context.Context, userName, policyName string) error {
	return s.deleteInline(ctx, userInline, userName, policyName)
}

// CreateAccessKey implements store.Store.
func (s *Store) CreateAccessKey(ctx context.Context, k store.AccessKey) error {
	err := s.write(ctx, func(tx *sql.Tx) error {
		if err := requireUser(ctx, tx, k.UserName); err != nil {
			return err
		}
		return insertNew(ctx, tx, `INSERT INTO access_keys
			(id, user_name, sealed_secret, status, created_at, last_used_at)
			VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`,
			k.ID, k.UserName, k.SealedSecret, string(k.Status), millis(k.CreatedAt), millis(k.LastUsedAt))
	})
	if err != nil {
		return fmt.Errorf("create access key %s: %w", k.ID, err)
	}
	return nil
}

const accessKeyColumns = `id, user_name, sealed_secret, status, created_at, last_used_at`

func scanAccessKey(row rowScanner) (store.AccessKey, error) {
	var k store.AccessKey
	var status string
	var created, used sql.NullInt64
	if err := row.Scan(&k.ID, &k.UserName, &k.SealedSecret, &status, &created, &used); err != nil {
		return store.AccessKey{}, err
	}
	k.Status = store.AccessKeyStatus(status)
	k.CreatedAt = fromMillis(created)
	k.LastUsedAt = fromMillis(used)
	return k, nil
}

// GetAccessKey implements store.Store.
func (s *Store) GetAccessKey(ctx context.Context, id string) (store.AccessKey, error) {
	k, err := scanAccessKey(s.r.QueryRowContext(ctx,
		`SELECT `+accessKeyColumns+` FROM access_keys WHERE id = ?`, id))
	if err != nil {
		return store.AccessKey{}, fmt.Errorf("get access key %s: %w", id, notFound(err))
	}
	return k, nil
}

// ListAccessKeys implements store.Store.
func (s *Store) ListAccessKeys(ctx context.Context, userName string) ([]store.AccessKey, error) {
	var ks []store.AccessKey
	err := readTx(ctx, s.r, func(tx *sql.Tx) error {
		if err := requireUser(ctx, tx, userName); err != nil {
			return err
		}
		var err error
		ks, err = queryAll(ctx, tx, scanAccessKey, `SELECT `+accessKeyColumns+` FROM access_keys
			WHERE user_name = ? ORDER BY created_at, id`, userName)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("list access keys of user %s: %w", userName, err)
	}
	return ks, nil
}

// SetAccessKeyStatus implements store.Store.
func (s *Store) SetAccessKeyStatus(ctx context.Context, id string, st store.AccessKeyStatus) error {
	err := s.write(ctx, func(tx *sql.Tx) error {
		return execOne(ctx, tx, `UPDATE access_keys SET status = ? WHERE id = ?`, string(st), id)
	})
	if err != nil {
		return fmt.Errorf("set access key %s status %s: %w", id, st, err)
	}
	return nil
}

// TouchAccessKey implements store.Store.
func (s *Store) TouchAccessKey(ctx context.Context, id string, at time.Time) error {
	err := s.write(ctx, func(tx *sql.Tx) error {
		return execOne(ctx, tx, `UPDATE access_keys SET last_used_at = ? WHERE id = ?`, millis(at), id)
	})
	if err != nil {
		return fmt.Errorf("touch access key %s: %w", id, err)
	}
	return nil
}

// DeleteAccessKey implements store.Store.
func (s *Store) DeleteAccessKey(ctx context.Context, id string) error {
	err := s.write(ctx, func(tx *sql.Tx) error {
		return execOne(ctx, tx, `DELETE FROM access_keys WHERE id = ?`, id)
	})
	if err != nil {
		return fmt.Errorf("delete access key %s: %w", id, err)
	}
	return nil
}

// readTx runs fn in a read transaction so that an existence check and the
// query after it see the same snapshot.
func readTx(ctx context.Context, db *sql.DB, fn func(tx *sql.Tx) error) error {
	tx, err := db.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return err
	}
	defer tx.Rollback()
	return fn(tx)
}
