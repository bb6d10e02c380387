-- 0004: the audit trail: one row per API call, policy denial, session state
-- change and forwarded connection.
--
-- Same conventions as before: STRICT, times as integer Unix milliseconds in
-- UTC. Rows are only ever inserted (retention, when it comes, deletes by
-- time). Listings go newest first by (time, id), which is total because id
-- is unique; every index ends in (time, id) so that a filter on one column
-- plus a time range plus keyset pagination is an index range scan, read
-- backwards, with no sort. kind and outcome have few values and are checked
-- on the rows the time (or other) index yields.
--
-- IF NOT EXISTS because the upgrade tests fake an old schema by dropping the
-- newer tables they know of and rewinding schema_migrations; a table this
-- migration created survives that and must not make it fail.
CREATE TABLE IF NOT EXISTS audit_events (
	id         TEXT PRIMARY KEY,
	time       INTEGER NOT NULL,
	kind       TEXT NOT NULL,
	principal  TEXT NOT NULL,
	action     TEXT NOT NULL,
	resource   TEXT NOT NULL,
	source_ip  TEXT NOT NULL,
	outcome    TEXT NOT NULL,
	error_code TEXT NOT NULL,
	reason     TEXT NOT NULL,
	request_id TEXT NOT NULL,
	parameters TEXT NOT NULL, -- JSON object with secrets removed, '' if none
	details    TEXT NOT NULL  -- JSON object of strings, '' if none
) STRICT;

CREATE INDEX IF NOT EXISTS audit_events_by_time ON audit_events (time, id);
CREATE INDEX IF NOT EXISTS audit_events_by_principal ON audit_events (principal, time, id);
CREATE INDEX IF NOT EXISTS audit_events_by_resource ON audit_events (resource, time, id);
CREATE INDEX IF NOT EXISTS audit_events_by_action ON audit_events (action, time, id);
