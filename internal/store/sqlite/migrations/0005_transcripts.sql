-- Where each session's transcript goes and where it went (JSON of
-- store.Transcript; '' for none).
ALTER TABLE sessions ADD COLUMN transcript TEXT NOT NULL DEFAULT '';
