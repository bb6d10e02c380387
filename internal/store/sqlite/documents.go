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

// Spellings of a document version that name no number.
const (
	versionDefault = "$DEFAULT"
	versionLatest  = "$LATEST"
)

// docVersion renders a document version number as callers see it.
func docVersion(n int64) string { return strconv.FormatInt(n, 10) }

// parseDocVersion reads what docVersion wrote. Anything else ("01", "0",
// "+1", "v1", " 1") names no version, which is store.ErrNotFound.
func parseDocVersion(v string) (int64, error) {
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n < 1 || docVersion(n) != v {
		return 0, fmt.Errorf("version %q: %w", v, store.ErrNotFound)
	}
	return n, nil
}

// CreateDocument implements store.Store. The version is always "1"
// whatever d.Version says, and it is both the default and the latest.
func (s *Store) CreateDocument(ctx context.Context, d store.Document) error {
	err := s.write(ctx, func(tx *sql.Tx) error {
		if err := insertNew(ctx, tx, `INSERT INTO documents
			(name, document_type, default_version, last_version, created_at)
			VALUES (?, ?, 1, 1, ?) ON CONFLICT DO NOTHING`,
			d.Name, d.DocumentType, millis(d.CreatedDate)); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO document_versions
			(document_name, version, content, format, hash, created_at) VALUES (?, 1, ?, ?, ?, ?)`,
			d.Name, d.Content, d.Format, d.Hash, millis(d.CreatedDate))
		return err
	})
	if err != nil {
		return fmt.Errorf("create document %s: %w", d.Name, err)
	}
	return nil
}

// AddDocumentVersion implements store.Store. The new version is created at
// at; the default version stays.
func (s *Store) AddDocumentVersion(ctx context.Context, name, content, format, hash string, at time.Time) (store.Document, error) {
	var d store.Document
	err := s.write(ctx, func(tx *sql.Tx) error {
		var last int64
		var typ string
		err := tx.QueryRowContext(ctx, `SELECT last_version, document_type FROM documents WHERE name = ?`, name).
			Scan(&last, &typ)
		if errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("document %s: %w", name, store.ErrNotFound)
		}
		if err != nil {
			return err
		}
		n := last + 1
		if _, err := tx.ExecContext(ctx, `INSERT INTO document_versions
			(document_name, version, content, format, hash, created_at) VALUES (?, ?, ?, ?, ?, ?)`,
			name, n, content, format, hash, millis(at)); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `UPDATE documents SET last_version = ? WHERE name = ?`, n, name); err != nil {
			return err
		}
		d = store.Document{
			Name: name, Version: docVersion(n), Content: content, Format: format,
			DocumentType: typ, Hash: hash, CreatedDate: fromMillis(millis(at)),
		}
		return nil
	})
	if err != nil {
		return store.Document{}, fmt.Errorf("add version of document %s: %w", name, err)
	}
	return d, nil
}

// documentColumns selects a document_versions row aliased v joined with its
// documents row aliased d.
const documentColumns = `v.document_name, v.version, v.content, v.format, d.document_type, v.hash, v.created_at`

func scanDocument(row rowScanner) (store.Document, error) {
	var d store.Document
	var n int64
	var created sql.NullInt64
	if err := row.Scan(&d.Name, &n, &d.Content, &d.Format, &d.DocumentType, &d.Hash, &created); err != nil {
		return store.Document{}, err
	}
	d.Version = docVersion(n)
	d.CreatedDate = fromMillis(created)
	return d, nil
}

// GetDocument implements store.Store.
func (s *Store) GetDocument(ctx context.Context, name, version string) (store.Document, error) {
	d, err := func() (store.Document, error) {
		var which string // the documents column, or "" for a number
		var n int64
		switch version {
		case "", versionDefault:
			which = "d.default_version"
		case versionLatest:
			which = "d.last_version"
		default:
			var err error
			if n, err = parseDocVersion(version); err != nil {
				return store.Document{}, err
			}
		}
		const from = `SELECT ` + documentColumns + ` FROM documents d
			JOIN document_versions v ON v.document_name = d.name WHERE d.name = ? AND v.version = `
		var row *sql.Row
		if which != "" {
			row = s.r.QueryRowContext(ctx, from+which, name)
		} else {
			row = s.r.QueryRowContext(ctx, from+"?", name, n)
		}
		d, err := scanDocument(row)
		return d, notFound(err)
	}()
	if err != nil {
		return store.Document{}, fmt.Errorf("get version %q of document %s: %w", version, name, err)
	}
	return d, nil
}

// documentInfoColumns selects a documents row aliased d with the format of
// its default version.
const documentInfoColumns = `d.name, d.document_type,
	(SELECT v.format FROM document_versions v WHERE v.document_name = d.name AND v.version = d.default_version),
	d.default_version, d.last_version, d.created_at`

func scanDocumentInfo(row rowScanner) (store.DocumentInfo, error) {
	var i store.DocumentInfo
	var def, last int64
	var created sql.NullInt64
	if err := row.Scan(&i.Name, &i.DocumentType, &i.Format, &def, &last, &created); err != nil {
		return store.DocumentInfo{}, err
	}
	i.DefaultVersion = docVersion(def)
	i.LatestVersion = docVersion(last)
	i.CreatedDate = fromMillis(created)
	return i, nil
}

// GetDocumentInfo implements store.Store.
func (s *Store) GetDocumentInfo(ctx context.Context, name string) (store.DocumentInfo, error) {
	i, err := scanDocumentInfo(s.r.QueryRowContext(ctx,
		`SELECT `+documentInfoColumns+` FROM documents d WHERE d.name = ?`, name))
	if err != nil {
		return store.DocumentInfo{}, fmt.Errorf("get document %s: %w", name, notFound(err))
	}
	return i, nil
}

// ListDocuments implements store.Store.
func (s *Store) ListDocuments(ctx context.Context) ([]store.DocumentInfo, error) {
	is, err := queryAll(ctx, s.r, scanDocumentInfo, `SELECT `+documentInfoColumns+` FROM documents d ORDER BY d.name`)
	if err != nil {
		return nil, fmt.Errorf("list documents: %w", err)
	}
	return is, nil
}

// requireDocument returns store.ErrNotFound unless the document exists.
func requireDocument(ctx context.Context, q queryer, name string) error {
	ok, err := exists(ctx, q, `SELECT 1 FROM documents WHERE name = ?`, name)
	if err != nil {
		return err
	}
	if !ok {
		return fmt.Errorf("document %s: %w", name, store.ErrNotFound)
	}
	return nil
}

// ListDocumentVersions implements store.Store. Newest first is highest
// number first: numbers only grow.
func (s *Store) ListDocumentVersions(ctx context.Context, name string) ([]store.Document, error) {
	var ds []store.Document
	err := readTx(ctx, s.r, func(tx *sql.Tx) error {
		if err := requireDocument(ctx, tx, name); err != nil {
			return err
		}
		var err error
		ds, err = queryAll(ctx, tx, scanDocument, `SELECT `+documentColumns+`
			FROM document_versions v JOIN documents d ON d.name = v.document_name
			WHERE v.document_name = ? ORDER BY v.version DESC`, name)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("list versions of document %s: %w", name, err)
	}
	return ds, nil
}

// SetDefaultDocumentVersion implements store.Store.
func (s *Store) SetDefaultDocumentVersion(ctx context.Context, name, version string) error {
	err := s.write(ctx, func(tx *sql.Tx) error {
		n, err := parseDocVersion(version)
		if err != nil {
			return err
		}
		ok, err := exists(ctx, tx, `SELECT 1 FROM document_versions WHERE document_name = ? AND version = ?`, name, n)
		if err != nil {
			return err
		}
		if !ok {
			return store.ErrNotFound
		}
		_, err = tx.ExecContext(ctx, `UPDATE documents SET default_version = ? WHERE name = ?`, n, name)
		return err
	})
	if err != nil {
		return fmt.Errorf("set default version of document %s to %q: %w", name, version, err)
	}
	return nil
}

// DeleteDocument implements store.Store. Versions go by foreign-key
// cascade; tags have no foreign key and are deleted here.
func (s *Store) DeleteDocument(ctx context.Context, name string) error {
	err := s.write(ctx, func(tx *sql.Tx) error {
		if err := execOne(ctx, tx, `DELETE FROM documents WHERE name = ?`, name); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `DELETE FROM tags WHERE resource_type = ? AND resource_id = ?`,
			string(store.ResourceDocument), name)
		return err
	})
	if err != nil {
		return fmt.Errorf("delete document %s: %w", name, err)
	}
	return nil
}
