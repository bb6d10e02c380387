package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/tetherhq/tether/internal/store"
)

// CreateActivation implements store.Store.
func (s *Store) CreateActivation(ctx context.Context, a store.Activation) error {
	err := s.write(ctx, func(tx *sql.Tx) error {
		return insertNew(ctx, tx, `INSERT INTO activations
			(id, code_hash, description, default_instance_name, iam_role,
			 registration_limit, registrations_count, expiration_date, created_date)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`,
			a.ID, a.CodeHash, a.Description, a.DefaultInstanceName, a.IamRole,
			a.RegistrationLimit, a.RegistrationsCount, millis(a.ExpirationDate), millis(a.CreatedDate))
	})
	if err != nil {
		return fmt.Errorf("create activation %s: %w", a.ID, err)
	}
	return nil
}

const activationColumns = `id, code_hash, description, default_instance_name, iam_role,
	registration_limit, registrations_count, expiration_date, created_date`

func scanActivation(row rowScanner) (store.Activation, error) {
	var a store.Activation
	var exp, created sql.NullInt64
	if err := row.Scan(&a.ID, &a.CodeHash, &a.Description, &a.DefaultInstanceName, &a.IamRole,
		&a.RegistrationLimit, &a.RegistrationsCount, &exp, &created); err != nil {
		return store.Activation{}, err
	}
	a.ExpirationDate = fromMillis(exp)
	a.CreatedDate = fromMillis(created)
	return a, nil
}

// GetActivation implements store.Store.
func (s *Store) GetActivation(ctx context.Context, id string) (store.Activation, error) {
	a, err := scanActivation(s.r.QueryRowContext(ctx,
		`SELECT `+activationColumns+` FROM activations WHERE id = ?`, id))
	if err != nil {
		return store.Activation{}, fmt.Errorf("get activation %s: %w", id, notFound(err))
	}
	return a, nil
}

// ListActivations implements store.Store.
func (s *Store) ListActivations(ctx context.Context) ([]store.Activation, error) {
	as, err := queryAll(ctx, s.r, scanActivation,
		`SELECT `+activationColumns+` FROM activations ORDER BY created_date, id`)
	if err != nil {
		return nil, fmt.Errorf("list activations: %w", err)
	}
	return as, nil
}

// DeleteActivation implements store.Store. Instances it registered stay.
func (s *Store) DeleteActivation(ctx context.Context, id string) error {
	err := s.write(ctx, func(tx *sql.Tx) error {
		if err := execOne(ctx, tx, `DELETE FROM activations WHERE id = ?`, id); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `DELETE FROM tags WHERE resource_type = ? AND resource_id = ?`,
			string(store.ResourceActivation), id)
		return err
	})
	if err != nil {
		return fmt.Errorf("delete activation %s: %w", id, err)
	}
	return nil
}

// RegisterInstance implements store.Store. The instance's ActivationID is
// set to activationID whatever inst carries. An activation with a zero
// ExpirationDate never expires.
func (s *Store) RegisterInstance(ctx context.Context, activationID string, inst store.Instance, now time.Time) error {
	err := s.write(ctx, func(tx *sql.Tx) error {
		var limit, count int
		var exp sql.NullInt64
		err := tx.QueryRowContext(ctx,
			`SELECT registration_limit, registrations_count, expiration_date FROM activations WHERE id = ?`,
			activationID).Scan(&limit, &count, &exp)
		if errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("activation %s: %w", activationID, store.ErrNotFound)
		}
		if err != nil {
			return err
		}
		if exp.Valid && now.UnixMilli() >= exp.Int64 {
			return store.ErrActivationExpired
		}
		if count >= limit {
			return store.ErrActivationExhausted
		}
		if _, err := tx.ExecContext(ctx,
			`UPDATE activations SET registrations_count = registrations_count + 1 WHERE id = ?`,
			activationID); err != nil {
			return err
		}
		if err := insertNew(ctx, tx, `INSERT INTO instances
			(id, name, activation_id, iam_role, public_key, registration_date,
			 computer_name, platform_type, platform_name, platform_version, agent_version, ip_address,
			 last_ping_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`,
			inst.ID, inst.Name, activationID, inst.IamRole, inst.PublicKey, millis(inst.RegistrationDate),
			inst.ComputerName, inst.PlatformType, inst.PlatformName, inst.PlatformVersion,
			inst.AgentVersion, inst.IPAddress, millis(inst.LastPingAt)); err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `INSERT INTO tags (resource_type, resource_id, key, value)
			SELECT ?, ?, key, value FROM tags WHERE resource_type = ? AND resource_id = ?
			ON CONFLICT (resource_type, resource_id, key) DO UPDATE SET value = excluded.value`,
			string(store.ResourceManagedInstance), inst.ID, string(store.ResourceActivation), activationID)
		return err
	})
	if err != nil {
		return fmt.Errorf("register instance %s with activation %s: %w", inst.ID, activationID, err)
	}
	return nil
}

const instanceColumns = `id, name, activation_id, iam_role, public_key, registration_date,
	computer_name, platform_type, platform_name, platform_version, agent_version, ip_address,
	last_ping_at`

func scanInstance(row rowScanner) (store.Instance, error) {
	var i store.Instance
	var reg, ping sql.NullInt64
	if err := row.Scan(&i.ID, &i.Name, &i.ActivationID, &i.IamRole, &i.PublicKey, &reg,
		&i.ComputerName, &i.PlatformType, &i.PlatformName, &i.PlatformVersion, &i.AgentVersion,
		&i.IPAddress, &ping); err != nil {
		return store.Instance{}, err
	}
	i.RegistrationDate = fromMillis(reg)
	i.LastPingAt = fromMillis(ping)
	return i, nil
}

// GetInstance implements store.Store.
func (s *Store) GetInstance(ctx context.Context, id string) (store.Instance, error) {
	i, err := scanInstance(s.r.QueryRowContext(ctx,
		`SELECT `+instanceColumns+` FROM instances WHERE id = ?`, id))
	if err != nil {
		return store.Instance{}, fmt.Errorf("get instance %s: %w", id, notFound(err))
	}
	return i, nil
}

// ListInstances implements store.Store.
func (s *Store) ListInstances(ctx context.Context) ([]store.Instance, error) {
	is, err := queryAll(ctx, s.r, scanInstance, `SELECT `+instanceColumns+` FROM instances ORDER BY id`)
	if err != nil {
		return nil, fmt.Errorf("list instances: %w", err)
	}
	return is, nil
}

// UpdateInstanceInfo implements store.Store. at becomes LastPingAt: the
// agent reports its info when it connects, which is also hearing from it.
func (s *Store) UpdateInstanceInfo(ctx context.Context, id string, info store.InstanceInfo, at time.Time) error {
	err := s.write(ctx, func(tx *sql.Tx) error {
		return execOne(ctx, tx, `UPDATE instances SET
			computer_name = ?, platform_type = ?, platform_name = ?, platform_version = ?,
			agent_version = ?, ip_address = ?, last_ping_at = ?
			WHERE id = ?`,
			info.ComputerName, info.PlatformType, info.PlatformName, info.PlatformVersion,
			info.AgentVersion, info.IPAddress, millis(at), id)
	})
	if err != nil {
		return fmt.Errorf("update instance %s info: %w", id, err)
	}
	return nil
}

// TouchInstance implements store.Store.
func (s *Store) TouchInstance(ctx context.Context, id string, at time.Time) error {
	err := s.write(ctx, func(tx *sql.Tx) error {
		return execOne(ctx, tx, `UPDATE instances SET last_ping_at = ? WHERE id = ?`, millis(at), id)
	})
	if err != nil {
		return fmt.Errorf("touch instance %s: %w", id, err)
	}
	return nil
}

// DeleteInstance implements store.Store.
func (s *Store) DeleteInstance(ctx context.Context, id string) error {
	err := s.write(ctx, func(tx *sql.Tx) error {
		if err := execOne(ctx, tx, `DELETE FROM instances WHERE id = ?`, id); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `DELETE FROM tags WHERE resource_type = ? AND resource_id = ?`,
			string(store.ResourceManagedInstance), id)
		return err
	})
	if err != nil {
		return fmt.Errorf("delete instance %s: %w", id, err)
	}
	return nil
}

// requireResource returns store.ErrNotFound unless the tagged resource
// exists. Tagging only existing resources keeps orphan tags from attaching
// themselves to a later resource that reuses the id (user names are reused).
func requireResource(ctx context.Context, q queryer, rt store.ResourceType, id string) error {
	var query string
	switch rt {
	case store.ResourceUser:
		query = `SELECT 1 FROM users WHERE name = ?`
	case store.ResourceGroup:
		query = `SELECT 1 FROM groups WHERE name = ?`
	case store.ResourceActivation:
		query = `SELECT 1 FROM activations WHERE id = ?`
	case store.ResourceManagedInstance:
		query = `SELECT 1 FROM instances WHERE id = ?`
	case store.ResourceDocument:
		query = `SELECT 1 FROM documents WHERE name = ?`
	default:
		return fmt.Errorf("unknown resource type %q", rt)
	}
	ok, err := exists(ctx, q, query, id)
	if err != nil {
		return err
	}
	if !ok {
		return store.ErrNotFound
	}
	return nil
}

// AddTags implements store.Store. A resource that does not exist is
// store.ErrNotFound.
func (s *Store) AddTags(ctx context.Context, rt store.ResourceType, id string, tags []store.Tag) error {
	err := s.write(ctx, func(tx *sql.Tx) error {
		if err := requireResource(ctx, tx, rt, id); err != nil {
			return err
		}
		for _, t := range tags {
			if _, err := tx.ExecContext(ctx, `INSERT INTO tags (resource_type, resource_id, key, value)
				VALUES (?, ?, ?, ?)
				ON CONFLICT (resource_type, resource_id, key) DO UPDATE SET value = excluded.value`,
				string(rt), id, t.Key, t.Value); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("add tags to %s %s: %w", rt, id, err)
	}
	return nil
}

// RemoveTags implements store.Store. A resource that does not exist is
// store.ErrNotFound; a key it does not carry is not an error.
func (s *Store) RemoveTags(ctx context.Context, rt store.ResourceType, id string, keys []string) error {
	err := s.write(ctx, func(tx *sql.Tx) error {
		if err := requireResource(ctx, tx, rt, id); err != nil {
			return err
		}
		for _, k := range keys {
			if _, err := tx.ExecContext(ctx,
				`DELETE FROM tags WHERE resource_type = ? AND resource_id = ? AND key = ?`,
				string(rt), id, k); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("remove tags from %s %s: %w", rt, id, err)
	}
	return nil
}

// ListTags implements store.Store. A resource that does not exist is
// store.ErrNotFound.
func (s *Store) ListTags(ctx context.Context, rt store.ResourceType, id string) ([]store.Tag, error) {
	var ts []store.Tag
	err := readTx(ctx, s.r, func(tx *sql.Tx) error {
		if err := requireResource(ctx, tx, rt, id); err != nil {
			return err
		}
		var err error
		ts, err = queryAll(ctx, tx, func(row rowScanner) (t store.Tag, err error) {
			err = row.Scan(&t.Key, &t.Value)
			return t, err
		}, `SELECT key, value FROM tags WHERE resource_type = ? AND resource_id = ? ORDER BY key`, string(rt), id)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("list tags of %s %s: %w", rt, id, err)
	}
	return ts, nil
}
