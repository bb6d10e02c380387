-- 0002: IAM's principal model: groups with members and inline policies,
-- managed policies with numbered versions, and their attachments to users
-- and groups.
--
-- Same conventions as 0001: STRICT tables, times as integer Unix
-- milliseconds in UTC (NULL for the zero time), names compared byte for
-- byte (the default BINARY collation).
--
-- Groups also carry tags (resource_type 'Group' in the tags table of 0001,
-- which has no foreign key): the store deletes them with the group.

CREATE TABLE groups (
	name       TEXT PRIMARY KEY,
	id         TEXT NOT NULL UNIQUE,
	created_at INTEGER
) STRICT;

-- Membership belongs to both sides: deleting either the user or the group
-- removes it.
CREATE TABLE group_members (
	group_name TEXT NOT NULL REFERENCES groups (name) ON DELETE CASCADE,
	user_name  TEXT NOT NULL REFERENCES users (name) ON DELETE CASCADE,
	PRIMARY KEY (group_name, user_name)
) STRICT, WITHOUT ROWID;

CREATE INDEX group_members_by_user ON group_members (user_name, group_name);

CREATE TABLE group_policies (
	group_name TEXT NOT NULL REFERENCES groups (name) ON DELETE CASCADE,
	name       TEXT NOT NULL,
	document   TEXT NOT NULL,
	PRIMARY KEY (group_name, name)
) STRICT;

-- Versions are numbered per policy; the id a caller sees is 'v' || number.
-- last_version is the highest number ever handed out, so a number is never
-- reused after its version is deleted. default_version is the one in force
-- (the only record of which version is the default); the deferred foreign
-- key keeps it pointing at an existing version. It is deferred because the
-- policy row and its v1 are inserted in one transaction, policy first.
-- updated_at is when the default version last changed.
CREATE TABLE managed_policies (
	name            TEXT PRIMARY KEY,
	id              TEXT NOT NULL UNIQUE,
	description     TEXT NOT NULL,
	default_version INTEGER NOT NULL,
	last_version    INTEGER NOT NULL CHECK (last_version >= default_version),
	created_at      INTEGER,
	updated_at      INTEGER,
	FOREIGN KEY (name, default_version) REFERENCES policy_versions (policy_name, version)
		DEFERRABLE INITIALLY DEFERRED
) STRICT;

CREATE TABLE policy_versions (
	policy_name TEXT NOT NULL REFERENCES managed_policies (name) ON DELETE CASCADE,
	version     INTEGER NOT NULL CHECK (version >= 1),
	document    TEXT NOT NULL,
	created_at  INTEGER,
	PRIMARY KEY (policy_name, version)
) STRICT;

-- An attachment is owned by its principal, a user or a group: exactly one
-- of user_name and group_name is set, and deleting that principal removes
-- the attachment. The policy does not own its attachments: the store
-- refuses to delete an attached policy, and the foreign key (NO ACTION)
-- backs that up.
CREATE TABLE policy_attachments (
	policy_name TEXT NOT NULL REFERENCES managed_policies (name),
	user_name   TEXT REFERENCES users (name) ON DELETE CASCADE,
	group_name  TEXT REFERENCES groups (name) ON DELETE CASCADE,
	CHECK ((user_name IS NULL) <> (group_name IS NULL))
) STRICT;

CREATE UNIQUE INDEX policy_attachments_by_user
	ON policy_attachments (user_name, policy_name) WHERE user_name IS NOT NULL;
CREATE UNIQUE INDEX policy_attachments_by_group
	ON policy_attachments (group_name, policy_name) WHERE group_name IS NOT NULL;
CREATE INDEX policy_attachments_by_policy ON policy_attachments (policy_name);
