-- 0003: Session documents owned by the account, with numbered versions.
--
-- Same conventions as 0001 and 0002: STRICT tables, times as integer Unix
-- milliseconds in UTC (NULL for the zero time), names compared byte for
-- byte.
--
-- Documents carry tags (resource_type 'Document' in the tags table of 0001,
-- which has no foreign key): the store deletes them with the document.

-- A caller sees versions as the decimal text of version. last_version is
-- the highest number ever handed out, so a number is never given twice;
-- default_version is the version in force (the one StartSession and an
-- unqualified GetDocument use). As for managed policies, the deferred
-- foreign key keeps the default pointing at an existing version, and is
-- deferred because the document and its version 1 are inserted in one
-- transaction, document first. created_at is when version 1 was created.
CREATE TABLE documents (
	name            TEXT PRIMARY KEY,
	document_type   TEXT NOT NULL,
	default_version INTEGER NOT NULL,
	last_version    INTEGER NOT NULL CHECK (last_version >= default_version),
	created_at      INTEGER,
	FOREIGN KEY (name, default_version) REFERENCES document_versions (document_name, version)
		DEFERRABLE INITIALLY DEFERRED
) STRICT;

-- content is stored exactly as given (JSON or YAML text); hash is its
-- SHA-256 in hex, as the caller computed it.
CREATE TABLE document_versions (
	document_name TEXT NOT NULL REFERENCES documents (name) ON DELETE CASCADE,
	version       INTEGER NOT NULL CHECK (version >= 1),
	content       TEXT NOT NULL,
	format        TEXT NOT NULL,
	hash          TEXT NOT NULL,
	created_at    INTEGER,
	PRIMARY KEY (document_name, version)
) STRICT;
