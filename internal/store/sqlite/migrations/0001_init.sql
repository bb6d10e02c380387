-- 0001: the initial schema.
--
-- Times are integer Unix milliseconds in UTC; NULL stands for the zero
-- time.Time ("never", "not ended"). Tables are STRICT so a wrong Go type is
-- an error instead of a silent affinity conversion.

CREATE TABLE meta (
	key   TEXT PRIMARY KEY,
	value TEXT NOT NULL
) STRICT;

CREATE TABLE users (
	name       TEXT PRIMARY KEY,
	id         TEXT NOT NULL UNIQUE,
	created_at INTEGER
) STRICT;

CREATE TABLE user_policies (
	user_name TEXT NOT NULL REFERENCES users (name) ON DELETE CASCADE,
	name      TEXT NOT NULL,
	document  TEXT NOT NULL,
	PRIMARY KEY (user_name, name)
) STRICT;

-- sealed_secret is stored exactly as given: sealed by the server key.
CREATE TABLE access_keys (
	id            TEXT PRIMARY KEY,
	user_name     TEXT NOT NULL REFERENCES users (name) ON DELETE CASCADE,
	sealed_secret BLOB NOT NULL,
	status        TEXT NOT NULL CHECK (status IN ('Active', 'Inactive')),
	created_at    INTEGER,
	last_used_at  INTEGER
) STRICT;

CREATE INDEX access_keys_by_user ON access_keys (user_name, created_at, id);

-- code_hash is the SHA-256 of the activation code; the code is never stored.
CREATE TABLE activations (
	id                    TEXT PRIMARY KEY,
	code_hash             BLOB NOT NULL,
	description           TEXT NOT NULL,
	default_instance_name TEXT NOT NULL,
	iam_role              TEXT NOT NULL,
	registration_limit    INTEGER NOT NULL,
	registrations_count   INTEGER NOT NULL,
	expiration_date       INTEGER,
	created_date          INTEGER
) STRICT;

CREATE INDEX activations_by_created ON activations (created_date, id);

-- activation_id is not a foreign key: deleting an activation stops new
-- registrations but leaves the instances it registered in place.
CREATE TABLE instances (
	id                TEXT PRIMARY KEY,
	name              TEXT NOT NULL,
	activation_id     TEXT NOT NULL,
	iam_role          TEXT NOT NULL,
	public_key        BLOB NOT NULL,
	registration_date INTEGER,
	computer_name     TEXT NOT NULL,
	platform_type     TEXT NOT NULL,
	platform_name     TEXT NOT NULL,
	platform_version  TEXT NOT NULL,
	agent_version     TEXT NOT NULL,
	ip_address        TEXT NOT NULL,
	last_ping_at      INTEGER
) STRICT;

-- Tags hang off three resource kinds, so there is no foreign key; the store
-- checks the resource exists before tagging and deletes tags with it.
CREATE TABLE tags (
	resource_type TEXT NOT NULL,
	resource_id   TEXT NOT NULL,
	key           TEXT NOT NULL,
	value         TEXT NOT NULL,
	PRIMARY KEY (resource_type, resource_id, key)
) STRICT, WITHOUT ROWID;

-- target is not a foreign key: session history outlives the instance.
CREATE TABLE sessions (
	id                   TEXT PRIMARY KEY,
	target               TEXT NOT NULL,
	owner                TEXT NOT NULL,
	document_name        TEXT NOT NULL,
	reason               TEXT NOT NULL,
	status               TEXT NOT NULL,
	start_date           INTEGER,
	end_date             INTEGER,
	details              TEXT NOT NULL,
	max_session_duration TEXT NOT NULL,
	exit_code            INTEGER,
	parameters           TEXT NOT NULL
) STRICT;

CREATE INDEX sessions_by_start ON sessions (start_date DESC, id);
CREATE INDEX sessions_by_target ON sessions (target);
CREATE INDEX sessions_by_owner ON sessions (owner);

-- hash is the SHA-256 of the bearer token; the token is never stored.
CREATE TABLE tokens (
	hash       BLOB PRIMARY KEY,
	kind       TEXT NOT NULL,
	subject    TEXT NOT NULL,
	expires_at INTEGER NOT NULL,
	used_at    INTEGER
) STRICT;

CREATE INDEX tokens_by_expiry ON tokens (expires_at);
