package sqlite

import (
	"bytes"
	"crypto/sha256"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/tetherhq/tether/internal/store"
	"github.com/tetherhq/tether/internal/store/storetest"
)

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store {
		return open(t, filepath.Join(t.TempDir(), "tether.db"))
	})
}

func open(t *testing.T, path string) *Store {
	t.Helper()
	s, err := Open(t.Context(), path)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

var t0 = time.Date(2025, time.March, 14, 15, 9, 26, 0, time.UTC)

func TestReopenKeepsData(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "tether.db")
	s := open(t, path)
	u := store.User{Name: "alice", ID: "AIDAAAAAAAAAAAAAAAAAA", CreatedAt: t0}
	if err := s.CreateUser(ctx, u); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}

	for range 2 {
		s = open(t, path)
		got, err := s.GetUser(ctx, "alice")
		if err != nil {
			t.Fatalf("GetUser after reopen: %v", err)
		}
		if got != u {
			t.Fatalf("GetUser after reopen: got %+v, want %+v", got, u)
		}
		// Each migration is applied once, however often the file is opened.
		ms, err := loadMigrations(migrationFiles)
		if err != nil {
			t.Fatal(err)
		}
		var n, top int
		if err := s.r.QueryRowContext(ctx, `SELECT COUNT(*), MAX(version) FROM schema_migrations`).Scan(&n, &top); err != nil {
			t.Fatal(err)
		}
		if n != len(ms) || top != len(ms) {
			t.Fatalf("schema_migrations has %d rows up to version %d, want %d", n, top, len(ms))
		}
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
	}
}

func TestRefusesNewerSchema(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "tether.db")
	s := open(t, path)
	if err := s.CreateUser(ctx, store.User{Name: "alice", ID: "AIDAAAAAAAAAAAAAAAAAA"}); err != nil {
		t.Fatal(err)
	}
	// What a newer Tether would leave behind.
	if _, err := s.w.ExecContext(ctx,
		`INSERT INTO schema_migrations (version, name, applied_at) VALUES (9999, '9999_future.sql', 0)`); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	_, err := Open(ctx, path)
	if !errors.Is(err, ErrSchemaTooNew) {
		t.Fatalf("Open of a newer schema: got %v, want %v", err, ErrSchemaTooNew)
	}
	if !strings.Contains(err.Error(), "version 9999") {
		t.Errorf("error %q does not name the database's version", err)
	}
	t.Logf("refusal reads: %v", err)

	// Refusing did not touch the data.
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var name string
	if err := db.QueryRowContext(ctx, `SELECT name FROM users`).Scan(&name); err != nil || name != "alice" {
		t.Fatalf("user after refused Open: %q, %v", name, err)
	}
}

// TestFailedMigrationChangesNothing injects a migration that fails halfway:
// its first statement must be rolled back with it.
func TestFailedMigrationChangesNothing(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "tether.db")
	open(t, path).Close()

	good, err := loadMigrations(migrationFiles)
	if err != nil {
		t.Fatal(err)
	}
	fsys := fstest.MapFS{}
	for _, m := range good {
		fsys["migrations/"+m.name] = &fstest.MapFile{Data: []byte(m.sql)}
	}
	next := fmt.Sprintf("migrations/%04d_broken.sql", len(good)+1)
	fsys[next] = &fstest.MapFile{Data: []byte(`
		CREATE TABLE half_done (x INTEGER);
		INSERT INTO no_such_table VALUES (1);`)}
	ms, err := loadMigrations(fsys)
	if err != nil {
		t.Fatal(err)
	}

	s := open(t, path)
	defer s.Close()
	if err := migrate(ctx, s.w, ms); err == nil || !strings.Contains(err.Error(), "broken") {
		t.Fatalf("migrate with a broken migration: got %v, want an error naming it", err)
	}
	var top int
	if err := s.r.QueryRowContext(ctx, `SELECT MAX(version) FROM schema_migrations`).Scan(&top); err != nil {
		t.Fatal(err)
	}
	if top != len(good) {
		t.Errorf("schema version after a failed migration: %d, want %d", top, len(good))
	}
	var n int
	if err := s.r.QueryRowContext(ctx,
		`SELECT COUNT(*) FROM sqlite_schema WHERE name = 'half_done'`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != 0 {
		t.Error("table from the failed migration exists")
	}
}

func TestMigrationNames(t *testing.T) {
	tests := []struct {
		name  string
		files []string
		ok    bool
	}{
		{"embedded", nil, true},
		{"gap", []string{"0001_a.sql", "0003_c.sql"}, false},
		{"not from one", []string{"0002_b.sql"}, false},
		{"bad name", []string{"0001_a.sql", "2_b.sql"}, false},
		{"empty", []string{}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var fsys fstest.MapFS
			if tc.files == nil {
				_, err := loadMigrations(migrationFiles)
				if err != nil {
					t.Fatalf("embedded migrations: %v", err)
				}
				return
			}
			fsys = fstest.MapFS{"migrations": &fstest.MapFile{Mode: os.ModeDir}}
			for _, f := range tc.files {
				fsys["migrations/"+f] = &fstest.MapFile{Data: []byte("SELECT 1;")}
			}
			_, err := loadMigrations(fsys)
			if (err == nil) != tc.ok {
				t.Fatalf("loadMigrations(%v): %v", tc.files, err)
			}
		})
	}
}

func TestFileMode(t *testing.T) {
	ctx := t.Context()
	dir := t.TempDir()
	path := filepath.Join(dir, "tether.db")
	s := open(t, path)
	defer s.Close()
	if err := s.CreateUser(ctx, store.User{Name: "alice", ID: "AIDAAAAAAAAAAAAAAAAAA"}); err != nil {
		t.Fatal(err)
	}
	// The WAL and its index hold the same data as the database.
	for _, p := range []string{path, path + "-wal", path + "-shm"} {
		fi, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		if m := fi.Mode().Perm(); m != 0o600 {
			t.Errorf("%s: mode %v, want -rw-------", filepath.Base(p), m)
		}
	}
}

// TestSecretsStoredAsGiven checks that each secret-bearing value is stored
// once, byte for byte as the caller gave it, and nowhere else: no copy in
// another column, and no column beyond the ones the schema declares.
func TestSecretsStoredAsGiven(t *testing.T) {
	ctx := t.Context()
	s := open(t, filepath.Join(t.TempDir(), "tether.db"))
	defer s.Close()

	sealed := append([]byte{0, 0xff, 'S', 'E', 'A', 'L'}, bytes.Repeat([]byte{0xa5}, 40)...)
	codeHash := sha256.Sum256([]byte("activation code"))
	tokHash := sha256.Sum256([]byte("bearer token"))
	pub := bytes.Repeat([]byte{0x5a}, 32)

	if err := s.CreateUser(ctx, store.User{Name: "alice", ID: "AIDAAAAAAAAAAAAAAAAAA"}); err != nil {
		t.Fatal(err)
	}
	key := store.AccessKey{ID: "AKIAAAAAAAAAAAAAAAAA", UserName: "alice", SealedSecret: sealed, Status: store.KeyActive, CreatedAt: t0}
	if err := s.CreateAccessKey(ctx, key); err != nil {
		t.Fatal(err)
	}
	if err := s.CreateActivation(ctx, store.Activation{ID: "act", CodeHash: codeHash[:], RegistrationLimit: 1, ExpirationDate: t0.Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	if err := s.RegisterInstance(ctx, "act", store.Instance{ID: "mi-00000000000000001", PublicKey: pub}, t0); err != nil {
		t.Fatal(err)
	}
	if err := s.PutToken(ctx, store.Token{Hash: tokHash[:], Kind: store.TokenClientData, Subject: "s", ExpiresAt: t0.Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}

	got, err := s.GetAccessKey(ctx, key.ID)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got.SealedSecret, sealed) {
		t.Fatalf("SealedSecret round trip: got %x, want %x", got.SealedSecret, sealed)
	}

	secrets := map[string][]byte{
		"access_keys.sealed_secret": sealed,
		"activations.code_hash":     codeHash[:],
		"tokens.hash":               tokHash[:],
		"instances.public_key":      pub,
	}
	found := map[string][]string{}
	for table, cols := range dump(t, s) {
		for col, vals := range cols {
			for _, v := range vals {
				for name, secret := range secrets {
					if bytes.Contains(v, secret) {
						found[name] = append(found[name], table+"."+col)
					}
				}
			}
		}
	}
	for name := range secrets {
		if want := []string{name}; !slices.Equal(found[name], want) {
			t.Errorf("%s found in %v, want only %v", name, found[name], want)
		}
	}

	// No extra column could hold a derived form.
	wantCols := map[string]string{
		"access_keys": "id,user_name,sealed_secret,status,created_at,last_used_at",
		"tokens":      "hash,kind,subject,expires_at,used_at",
	}
	for table, want := range wantCols {
		var cols []string
		rows, err := s.r.QueryContext(ctx, `SELECT name FROM pragma_table_info(?) ORDER BY cid`, table)
		if err != nil {
			t.Fatal(err)
		}
		for rows.Next() {
			var c string
			if err := rows.Scan(&c); err != nil {
				t.Fatal(err)
			}
			cols = append(cols, c)
		}
		rows.Close()
		if got := strings.Join(cols, ","); got != want {
			t.Errorf("%s columns: %s, want %s", table, got, want)
		}
	}
}

// dump returns every text and blob value of every table, by table and column.
func dump(t *testing.T, s *Store) map[string]map[string][][]byte {
	t.Helper()
	ctx := t.Context()
	var tables []string
	rows, err := s.r.QueryContext(ctx, `SELECT name FROM sqlite_schema WHERE type = 'table'`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			t.Fatal(err)
		}
		tables = append(tables, n)
	}
	rows.Close()

	out := map[string]map[string][][]byte{}
	for _, table := range tables {
		rows, err := s.r.QueryContext(ctx, `SELECT * FROM "`+table+`"`)
		if err != nil {
			t.Fatal(err)
		}
		cols, err := rows.Columns()
		if err != nil {
			t.Fatal(err)
		}
		out[table] = map[string][][]byte{}
		for rows.Next() {
			vals := make([]any, len(cols))
			ptrs := make([]any, len(cols))
			for i := range vals {
				ptrs[i] = &vals[i]
			}
			if err := rows.Scan(ptrs...); err != nil {
				t.Fatal(err)
			}
			for i, v := range vals {
				switch v := v.(type) {
				case []byte:
					out[table][cols[i]] = append(out[table][cols[i]], v)
				case string:
					out[table][cols[i]] = append(out[table][cols[i]], []byte(v))
				}
			}
		}
		if err := rows.Err(); err != nil {
			t.Fatal(err)
		}
		rows.Close()
	}
	return out
}

func TestConsumeTokenPurgesExpired(t *testing.T) {
	ctx := t.Context()
	s := open(t, filepath.Join(t.TempDir(), "tether.db"))
	defer s.Close()
	put := func(seed string, exp time.Time) []byte {
		h := sha256.Sum256([]byte(seed))
		if err := s.PutToken(ctx, store.Token{Hash: h[:], Kind: store.TokenAgentData, Subject: "mi-1", ExpiresAt: exp}); err != nil {
			t.Fatal(err)
		}
		return h[:]
	}
	put("expired", t0.Add(-time.Second))
	put("expires now", t0)
	live := put("live", t0.Add(time.Minute))
	used := put("used", t0.Add(time.Minute))
	if _, err := s.ConsumeToken(ctx, used, store.TokenAgentData, "mi-1", t0.Add(-time.Hour)); err != nil {
		t.Fatal(err)
	}

	// Even a refused attempt purges.
	if _, err := s.ConsumeToken(ctx, []byte("unknown"), store.TokenAgentData, "mi-1", t0); !errors.Is(err, store.ErrTokenInvalid) {
		t.Fatalf("ConsumeToken unknown: %v", err)
	}
	var hashes [][]byte
	rows, err := s.r.QueryContext(ctx, `SELECT hash FROM tokens ORDER BY hash`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	for rows.Next() {
		var h []byte
		if err := rows.Scan(&h); err != nil {
			t.Fatal(err)
		}
		hashes = append(hashes, h)
	}
	want := [][]byte{live, used}
	slices.SortFunc(want, bytes.Compare)
	if !slices.EqualFunc(hashes, want, bytes.Equal) {
		t.Fatalf("tokens left: %x, want the live and the used one %x", hashes, want)
	}
}

// TestTwoStoresOneFile stands in for two server processes on one file:
// their writers are separate connections, so only SQLite's locking (BEGIN
// IMMEDIATE and busy_timeout) keeps registrations within the limit.
func TestTwoStoresOneFile(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "tether.db")
	a, b := open(t, path), open(t, path)
	defer a.Close()
	defer b.Close()
	const limit, n = 4, 16
	if err := a.CreateActivation(ctx, store.Activation{ID: "act", CodeHash: []byte{1}, RegistrationLimit: limit, ExpirationDate: t0.Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	errs := make(chan error, n)
	for i := range n {
		s := a
		if i%2 == 1 {
			s = b
		}
		go func() {
			errs <- s.RegisterInstance(ctx, "act", store.Instance{ID: fmt.Sprintf("mi-%017x", i), PublicKey: []byte{1}}, t0)
		}()
	}
	var won int
	for range n {
		switch err := <-errs; {
		case err == nil:
			won++
		case errors.Is(err, store.ErrActivationExhausted):
		default:
			t.Errorf("RegisterInstance: %v", err)
		}
	}
	if won != limit {
		t.Fatalf("%d registrations succeeded, want %d", won, limit)
	}
}

func TestUnknownResourceType(t *testing.T) {
	s := open(t, filepath.Join(t.TempDir(), "tether.db"))
	defer s.Close()
	err := s.AddTags(t.Context(), "Nonesuch", "x", []store.Tag{{Key: "k", Value: "v"}})
	if err == nil || errors.Is(err, store.ErrNotFound) {
		t.Fatalf("AddTags to an unknown resource type: %v, want a plain error", err)
	}
}

// TestUpdateSessionPanic checks that a panicking callback does not leave the
// single writer connection inside a transaction, which would block every
// later write.
func TestUpdateSessionPanic(t *testing.T) {
	ctx := t.Context()
	s := open(t, filepath.Join(t.TempDir(), "tether.db"))
	defer s.Close()
	if err := s.CreateSession(ctx, store.Session{ID: "alice-00000000000000001", Status: "Connected", StartDate: t0}); err != nil {
		t.Fatal(err)
	}
	func() {
		defer func() {
			if recover() == nil {
				t.Fatal("no panic")
			}
		}()
		s.UpdateSession(ctx, "alice-00000000000000001", func(x *store.Session) error {
			x.Status = "Failed"
			panic("callback bug")
		})
	}()
	got, err := s.UpdateSession(ctx, "alice-00000000000000001", func(x *store.Session) error {
		x.Details = "after"
		return nil
	})
	if err != nil {
		t.Fatalf("UpdateSession after a panic: %v", err)
	}
	if got.Status != "Connected" || got.Details != "after" {
		t.Fatalf("session after a panicked and a good update: %+v", got)
	}
}

// TestUpgradeFrom0001 opens a database that an older Tether left at schema
// 0001, with a user in it: 0002 is applied, the user survives and can join
// groups and hold managed policies.
func TestUpgradeFrom0001(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "tether.db")
	ms, err := loadMigrations(migrationFiles)
	if err != nil {
		t.Fatal(err)
	}
	s := open(t, path)
	if _, err := s.w.ExecContext(ctx, `DROP TABLE documents; DROP TABLE document_versions;
		DROP TABLE policy_attachments; DROP TABLE policy_versions;
		DROP TABLE managed_policies; DROP TABLE group_policies; DROP TABLE group_members; DROP TABLE groups;
		ALTER TABLE sessions DROP COLUMN transcript;
		DELETE FROM schema_migrations WHERE version > 1`); err != nil {
		t.Fatal(err)
	}
	if err := migrate(ctx, s.w, ms[:1]); err != nil {
		t.Fatal(err)
	}
	if err := s.CreateUser(ctx, store.User{Name: "alice", ID: "AIDAAAAAAAAAAAAAAAAAA", CreatedAt: t0}); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	s = open(t, path)
	defer s.Close()
	var top int
	if err := s.r.QueryRowContext(ctx, `SELECT MAX(version) FROM schema_migrations`).Scan(&top); err != nil {
		t.Fatal(err)
	}
	if top != len(ms) {
		t.Fatalf("schema version after upgrade: %d, want %d", top, len(ms))
	}
	if _, err := s.GetUser(ctx, "alice"); err != nil {
		t.Fatalf("GetUser after upgrade: %v", err)
	}
	if err := s.CreateGroup(ctx, store.Group{Name: "devs", ID: "AGPAAAAAAAAAAAAAAAAAA", CreatedAt: t0}); err != nil {
		t.Fatal(err)
	}
	if err := s.AddUserToGroup(ctx, "devs", "alice"); err != nil {
		t.Fatal(err)
	}
	if err := s.CreateManagedPolicy(ctx, store.ManagedPolicy{Name: "P", ID: "ANPAAAAAAAAAAAAAAAAAA", CreatedAt: t0}, "{}"); err != nil {
		t.Fatal(err)
	}
	if err := s.AttachPolicy(ctx, store.PrincipalUser, "alice", "P"); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteUser(ctx, "alice"); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteManagedPolicy(ctx, "P"); err != nil {
		t.Fatalf("DeleteManagedPolicy after its only holder was deleted: %v", err)
	}
}

// TestDefaultVersionIntegrity checks the schema itself, below the store's
// own checks: the default version of a policy cannot be deleted, nor a
// policy left pointing at a version that does not exist.
func TestDefaultVersionIntegrity(t *testing.T) {
	ctx := t.Context()
	s := open(t, filepath.Join(t.TempDir(), "tether.db"))
	defer s.Close()
	if err := s.CreateManagedPolicy(ctx, store.ManagedPolicy{Name: "P", ID: "ANPAAAAAAAAAAAAAAAAAA", CreatedAt: t0}, "{}"); err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{
		`DELETE FROM policy_versions WHERE policy_name = 'P' AND version = 1`,
		`UPDATE managed_policies SET default_version = 2, last_version = 2 WHERE name = 'P'`,
		`INSERT INTO managed_policies (name, id, description, default_version, last_version) VALUES ('Q', 'ANPAQ', '', 1, 1)`,
	} {
		if _, err := s.w.ExecContext(ctx, q); err == nil {
			t.Errorf("%s: no error", q)
		}
	}
	if _, err := s.GetPolicyVersion(ctx, "P", "v1"); err != nil {
		t.Fatalf("GetPolicyVersion v1: %v", err)
	}
}

// TestUpgradeFrom0002 opens a database that an older Tether left at schema
// 0002 with a tagged user in it: 0003 is applied, the user and its tags
// survive, and documents can be stored and tagged.
func TestUpgradeFrom0002(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "tether.db")
	ms, err := loadMigrations(migrationFiles)
	if err != nil {
		t.Fatal(err)
	}
	s := open(t, path)
	if _, err := s.w.ExecContext(ctx, `DROP TABLE documents; DROP TABLE document_versions;
		ALTER TABLE sessions DROP COLUMN transcript;
		DELETE FROM schema_migrations WHERE version > 2`); err != nil {
		t.Fatal(err)
	}
	if err := s.CreateUser(ctx, store.User{Name: "alice", ID: "AIDAAAAAAAAAAAAAAAAAA", CreatedAt: t0}); err != nil {
		t.Fatal(err)
	}
	if err := s.AddTags(ctx, store.ResourceUser, "alice", []store.Tag{{Key: "SSMSessionRunAs", Value: "alice"}}); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	s = open(t, path)
	defer s.Close()
	var top int
	if err := s.r.QueryRowContext(ctx, `SELECT MAX(version) FROM schema_migrations`).Scan(&top); err != nil {
		t.Fatal(err)
	}
	if top != len(ms) {
		t.Fatalf("schema version after upgrade: %d, want %d", top, len(ms))
	}
	if tags, err := s.ListTags(ctx, store.ResourceUser, "alice"); err != nil || len(tags) != 1 {
		t.Fatalf("ListTags of alice after upgrade: %v, %v", tags, err)
	}
	d := store.Document{Name: "Shell", Content: "{}", Format: "JSON", DocumentType: "Session", Hash: "h", CreatedDate: t0}
	if err := s.CreateDocument(ctx, d); err != nil {
		t.Fatal(err)
	}
	if err := s.AddTags(ctx, store.ResourceDocument, "Shell", []store.Tag{{Key: "k", Value: "v"}}); err != nil {
		t.Fatal(err)
	}
}

// TestDocumentDefaultVersionIntegrity checks the schema below the store's
// own checks: a document cannot be left without its default version.
func TestDocumentDefaultVersionIntegrity(t *testing.T) {
	ctx := t.Context()
	s := open(t, filepath.Join(t.TempDir(), "tether.db"))
	defer s.Close()
	d := store.Document{Name: "Shell", Content: "{}", Format: "JSON", DocumentType: "Session", Hash: "h", CreatedDate: t0}
	if err := s.CreateDocument(ctx, d); err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{
		`DELETE FROM document_versions WHERE document_name = 'Shell' AND version = 1`,
		`UPDATE documents SET default_version = 2, last_version = 2 WHERE name = 'Shell'`,
		`UPDATE documents SET last_version = 0 WHERE name = 'Shell'`,
		`INSERT INTO documents (name, document_type, default_version, last_version) VALUES ('Other', 'Session', 1, 1)`,
	} {
		if _, err := s.w.ExecContext(ctx, q); err == nil {
			t.Errorf("%s: no error", q)
		}
	}
	if _, err := s.GetDocument(ctx, "Shell", "1"); err != nil {
		t.Fatalf("GetDocument 1: %v", err)
	}
}
