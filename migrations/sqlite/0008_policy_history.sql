-- Every sector policy and tenant tightening the service has ever loaded, by content hash, with
-- its exact text: a decision records (policy id, version, SHA-256), and this table lets an
-- auditor read the rules that made it, long after the file changed. The service-wide table
-- (no tenant_id) holds sector policies; tightenings are keyed by their tenant in policy_id.
CREATE TABLE policy_versions (
    sha256           TEXT PRIMARY KEY,   -- hex SHA-256 of content (what decisions record)
    policy_id        TEXT NOT NULL,
    version          TEXT NOT NULL,
    content          TEXT NOT NULL,      -- the hashed bytes (sector file [+ tenant file])
    first_loaded_at  BIGINT NOT NULL,
    last_loaded_at   BIGINT NOT NULL
);
CREATE INDEX policy_versions_by_id ON policy_versions (policy_id, first_loaded_at);
