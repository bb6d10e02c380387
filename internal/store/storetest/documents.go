package storetest

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tetherhq/tether/internal/store"
)

// document returns version 1 of a Session document as CreateDocument
// stores it, with its hash computed from its content.
func document(name, content string, created time.Time) store.Document {
	return store.Document{
		Name: name, Version: "1", Content: content, Format: "JSON",
		DocumentType: "Session", Hash: hashOf(content), CreatedDate: created,
	}
}

func hashOf(content string) string {
	sum := sha256.Sum256([]byte(content))
	return hex.EncodeToString(sum[:])
}

// info is what GetDocumentInfo reports of a document created as d with
// its latest and default versions as given.
func info(d store.Document, format, def, latest string) store.DocumentInfo {
	return store.DocumentInfo{
		Name: d.Name, DocumentType: d.DocumentType, Format: format,
		DefaultVersion: def, LatestVersion: latest, CreatedDate: d.CreatedDate,
	}
}

func testDocuments(t *testing.T, s store.Store) {
	ctx := t.Context()
	{
		got, err := s.ListDocuments(ctx)
		wantEmpty(t, "ListDocuments on an empty store", got, err)
	}

	// What the caller passes as the version does not matter: it is "1".
	shell := document("Shell", `{"schemaVersion":"1.0"}`, t0)
	given := shell
	given.Version = "7"
	ok(t, s.CreateDocument(ctx, given), "CreateDocument Shell")
	for _, v := range []string{"", "$DEFAULT", "$LATEST", "1"} {
		got, err := s.GetDocument(ctx, "Shell", v)
		ok(t, err, fmt.Sprintf("GetDocument %q", v))
		wantEqual(t, fmt.Sprintf("GetDocument %q after create", v), got, shell)
	}
	got, err := s.GetDocumentInfo(ctx, "Shell")
	ok(t, err, "GetDocumentInfo")
	wantEqual(t, "GetDocumentInfo after create", got, info(shell, "JSON", "1", "1"))

	// A refused duplicate changes nothing.
	dup := document("Shell", "other: content", at(time.Hour))
	dup.Format = "YAML"
	wantErr(t, s.CreateDocument(ctx, dup), store.ErrAlreadyExists, "CreateDocument Shell again")
	again, err := s.GetDocument(ctx, "Shell", "")
	ok(t, err, "GetDocument after a refused duplicate")
	wantEqual(t, "Shell after a refused duplicate", again, shell)
	vs, err := s.ListDocumentVersions(ctx, "Shell")
	ok(t, err, "ListDocumentVersions")
	wantEqual(t, "versions after a refused duplicate", vs, []store.Document{shell})

	// Names are case-sensitive; everything about a missing document is
	// store.ErrNotFound.
	for _, name := range []string{"shell", "Missing"} {
		_, err = s.GetDocument(ctx, name, "")
		wantErr(t, err, store.ErrNotFound, "GetDocument "+name)
		_, err = s.GetDocument(ctx, name, "1")
		wantErr(t, err, store.ErrNotFound, "GetDocument 1 of "+name)
		_, err = s.GetDocumentInfo(ctx, name)
		wantErr(t, err, store.ErrNotFound, "GetDocumentInfo "+name)
		_, err = s.ListDocumentVersions(ctx, name)
		wantErr(t, err, store.ErrNotFound, "ListDocumentVersions "+name)
		_, err = s.AddDocumentVersion(ctx, name, "{}", "JSON", hashOf("{}"), t0)
		wantErr(t, err, store.ErrNotFound, "AddDocumentVersion "+name)
		wantErr(t, s.SetDefaultDocumentVersion(ctx, name, "1"), store.ErrNotFound, "SetDefaultDocumentVersion "+name)
		wantErr(t, s.DeleteDocument(ctx, name), store.ErrNotFound, "DeleteDocument "+name)
	}

	// By name in byte order, whatever the creation order; each with its
	// type and the format of its default version.
	want := []store.DocumentInfo{info(shell, "JSON", "1", "1")}
	for i, n := range byteOrderNames {
		d := document(n, "doc "+n, at(time.Duration(-i)*time.Hour))
		if i%2 == 1 {
			d.Format = "YAML"
		}
		ok(t, s.CreateDocument(ctx, d), "CreateDocument "+n)
		want = append(want, info(d, d.Format, "1", "1"))
	}
	slices.SortFunc(want, func(a, b store.DocumentInfo) int { return strings.Compare(a.Name, b.Name) })
	list, err := s.ListDocuments(ctx)
	ok(t, err, "ListDocuments")
	wantEqual(t, "ListDocuments by name", list, want)

	// Deleting removes every version and the tags; a new document of the
	// same name starts again at version 1 with only its own content.
	_, err = s.AddDocumentVersion(ctx, "Shell", "v2", "YAML", hashOf("v2"), at(time.Minute))
	ok(t, err, "AddDocumentVersion")
	ok(t, s.AddTags(ctx, store.ResourceDocument, "Shell", []store.Tag{{Key: "Env", Value: "prod"}}), "AddTags")
	ok(t, s.DeleteDocument(ctx, "Shell"), "DeleteDocument")
	wantErr(t, s.DeleteDocument(ctx, "Shell"), store.ErrNotFound, "DeleteDocument twice")
	_, err = s.GetDocument(ctx, "Shell", "1")
	wantErr(t, err, store.ErrNotFound, "GetDocument after delete")
	_, err = s.ListTags(ctx, store.ResourceDocument, "Shell")
	wantErr(t, err, store.ErrNotFound, "ListTags of a deleted document")
	renewed := document("Shell", "new", at(time.Hour))
	ok(t, s.CreateDocument(ctx, renewed), "CreateDocument Shell after delete")
	vs, err = s.ListDocumentVersions(ctx, "Shell")
	ok(t, err, "ListDocumentVersions")
	wantEqual(t, "versions of the new Shell", vs, []store.Document{renewed})
	tags, err := s.ListTags(ctx, store.ResourceDocument, "Shell")
	wantEmpty(t, "tags of the new Shell", tags, err)
	got, err = s.GetDocumentInfo(ctx, "Shell")
	ok(t, err, "GetDocumentInfo")
	wantEqual(t, "the new Shell", got, info(renewed, "JSON", "1", "1"))

	// Deleting one document leaves the others and their tags.
	ok(t, s.AddTags(ctx, store.ResourceDocument, "alice", []store.Tag{{Key: "k", Value: "v"}}), "AddTags alice")
	ok(t, s.DeleteDocument(ctx, "Alice"), "DeleteDocument Alice")
	tags, err = s.ListTags(ctx, store.ResourceDocument, "alice")
	ok(t, err, "ListTags alice")
	wantEqual(t, "alice's tags after deleting Alice", tags, []store.Tag{{Key: "k", Value: "v"}})
}

func testDocumentVersions(t *testing.T, s store.Store) {
	ctx := t.Context()
	d1 := document("Doc", "content 1", t0)
	ok(t, s.CreateDocument(ctx, d1), "CreateDocument")
	ver := func(n int, content, format string, created time.Time) store.Document {
		return store.Document{Name: "Doc", Version: fmt.Sprint(n), Content: content, Format: format,
			DocumentType: "Session", Hash: hashOf(content), CreatedDate: created}
	}
	check := func(what, def, latest, format string, versions ...store.Document) {
		t.Helper()
		got, err := s.GetDocumentInfo(ctx, "Doc")
		ok(t, err, what+": GetDocumentInfo")
		wantEqual(t, what+": GetDocumentInfo", got, info(d1, format, def, latest))
		vs, err := s.ListDocumentVersions(ctx, "Doc")
		ok(t, err, what+": ListDocumentVersions")
		wantEqual(t, what+": ListDocumentVersions newest first", vs, versions)
		for _, w := range versions {
			v, err := s.GetDocument(ctx, "Doc", w.Version)
			ok(t, err, what+": GetDocument "+w.Version)
			wantEqual(t, what+": GetDocument "+w.Version, v, w)
		}
		byName := map[string]string{"": def, "$DEFAULT": def, "$LATEST": latest}
		for spelling, n := range byName {
			v, err := s.GetDocument(ctx, "Doc", spelling)
			ok(t, err, what+": GetDocument "+spelling)
			wantEqual(t, what+": GetDocument "+spelling+" is version", v.Version, n)
		}
	}
	check("after create", "1", "1", "JSON", d1)

	// A new version is the latest, not the default.
	v2, err := s.AddDocumentVersion(ctx, "Doc", "content 2", "YAML", hashOf("content 2"), at(time.Minute))
	ok(t, err, "AddDocumentVersion 2")
	wantEqual(t, "AddDocumentVersion 2 returns", v2, ver(2, "content 2", "YAML", at(time.Minute)))
	v3, err := s.AddDocumentVersion(ctx, "Doc", "content 3", "JSON", hashOf("content 3"), at(2*time.Minute))
	ok(t, err, "AddDocumentVersion 3")
	check("after 2 and 3", "1", "3", "JSON", v3, v2, d1)

	// The default moves, and Format follows it; setting it again is no
	// change.
	ok(t, s.SetDefaultDocumentVersion(ctx, "Doc", "2"), "SetDefaultDocumentVersion 2")
	check("after SetDefault 2", "2", "3", "YAML", v3, v2, d1)
	ok(t, s.SetDefaultDocumentVersion(ctx, "Doc", "2"), "SetDefaultDocumentVersion 2 again")
	check("after SetDefault 2 again", "2", "3", "YAML", v3, v2, d1)
	v4, err := s.AddDocumentVersion(ctx, "Doc", "content 4", "JSON", hashOf("content 4"), at(3*time.Minute))
	ok(t, err, "AddDocumentVersion 4")
	check("after 4", "2", "4", "YAML", v4, v3, v2, d1)

	// Versions that are not a number in its shortest form, or that do not
	// exist, name nothing; a refused SetDefault changes nothing.
	for _, v := range []string{"0", "01", "+1", "-1", "v1", " 1", "1 ", "1.0", "5", "$latest", "$Default", "LATEST", "abc"} {
		_, err := s.GetDocument(ctx, "Doc", v)
		wantErr(t, err, store.ErrNotFound, fmt.Sprintf("GetDocument %q", v))
		wantErr(t, s.SetDefaultDocumentVersion(ctx, "Doc", v), store.ErrNotFound, fmt.Sprintf("SetDefaultDocumentVersion %q", v))
	}
	check("after refused versions", "2", "4", "YAML", v4, v3, v2, d1)

	// Versions belong to their document.
	ok(t, s.CreateDocument(ctx, document("Other", "other 1", t0)), "CreateDocument Other")
	_, err = s.GetDocument(ctx, "Other", "4")
	wantErr(t, err, store.ErrNotFound, "GetDocument of another document's version")
	wantErr(t, s.SetDefaultDocumentVersion(ctx, "Other", "4"), store.ErrNotFound, "SetDefaultDocumentVersion of another document's version")
	o2, err := s.AddDocumentVersion(ctx, "Other", "other 2", "JSON", hashOf("other 2"), t0)
	ok(t, err, "AddDocumentVersion Other")
	wantEqual(t, "Other numbers its own versions", o2.Version, "2")
}

// testDocumentVersionsConcurrent races AddDocumentVersion: reading the last
// number and inserting the next must be one step, or a number is handed out
// twice.
func testDocumentVersionsConcurrent(t *testing.T, s store.Store) {
	ctx := t.Context()
	ok(t, s.CreateDocument(ctx, document("Doc", "content 0", t0)), "CreateDocument")
	const n = 10
	got := make([]store.Document, n)
	errs := concurrently(n, func(i int) error {
		c := fmt.Sprintf("content %d", i+1)
		d, err := s.AddDocumentVersion(ctx, "Doc", c, "JSON", hashOf(c), at(time.Duration(i+1)*time.Second))
		got[i] = d
		return err
	})
	seen := map[string]bool{"1": true}
	for i, err := range errs {
		ok(t, err, fmt.Sprintf("AddDocumentVersion %d", i))
		if seen[got[i].Version] {
			t.Fatalf("version %s handed out twice", got[i].Version)
		}
		seen[got[i].Version] = true
		v, err := s.GetDocument(ctx, "Doc", got[i].Version)
		ok(t, err, "GetDocument "+got[i].Version)
		wantEqual(t, "version "+got[i].Version+" holds its own content", v, got[i])
	}
	i, err := s.GetDocumentInfo(ctx, "Doc")
	ok(t, err, "GetDocumentInfo")
	wantEqual(t, "latest after the race", i.LatestVersion, fmt.Sprint(n+1))
	wantEqual(t, "default after the race", i.DefaultVersion, "1")
}

// testCancelledContextDocumentVersion: a version written under a cancelled
// context must leave neither the version nor a used-up number.
func testCancelledContextDocumentVersion(t *testing.T, s store.Store) {
	ctx := t.Context()
	ok(t, s.CreateDocument(ctx, document("Doc", "one", t0)), "CreateDocument")
	if _, err := s.AddDocumentVersion(cancelled(t), "Doc", "lost", "JSON", hashOf("lost"), t0); err == nil {
		t.Fatal("AddDocumentVersion with a cancelled context: no error")
	}
	if err := s.CreateDocument(cancelled(t), document("Lost", "lost", t0)); err == nil {
		t.Fatal("CreateDocument with a cancelled context: no error")
	}
	_, err := s.GetDocumentInfo(ctx, "Lost")
	wantErr(t, err, store.ErrNotFound, "GetDocumentInfo after a cancelled CreateDocument")
	v, err := s.AddDocumentVersion(ctx, "Doc", "kept", "JSON", hashOf("kept"), t0)
	ok(t, err, "AddDocumentVersion")
	wantEqual(t, "version after a cancelled one", v.Version, "2")
}
