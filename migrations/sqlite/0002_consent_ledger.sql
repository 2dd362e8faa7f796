-- Consent records and the per-tenant tamper-evident log (issue 6).

-- The log: one gapless sequence per tenant. Each leaf hash covers the row's hashed fields
-- (tenant, idx, prev_hash, kind, created_at, session_id, customer_commitment, body); the
-- plain customer_ref is NOT hashed, so erasing it (set NULL) keeps the log verifiable.
CREATE TABLE ledger_entries (
    tenant_id            TEXT NOT NULL,
    idx                  BIGINT NOT NULL,
    prev_hash            BLOB NOT NULL,
    leaf_hash            BLOB NOT NULL,
    kind                 TEXT NOT NULL,
    created_at           BIGINT NOT NULL,
    session_id           TEXT,
    customer_commitment  BLOB,              -- HMAC-SHA256(salt, customer_ref)
    customer_ref         TEXT,              -- not hashed; erased on request
    body                 TEXT NOT NULL,     -- JSON text exactly as hashed; ids and outcomes only
    PRIMARY KEY (tenant_id, idx)
);
CREATE INDEX ledger_entries_customer ON ledger_entries(tenant_id, customer_ref);

-- The tip of each tenant's log: next index and last leaf hash. Appends lock this row
-- (PostgreSQL: SELECT ... FOR UPDATE), which keeps one order across instances.
CREATE TABLE ledger_tips (
    tenant_id   TEXT PRIMARY KEY,
    size        BIGINT NOT NULL,
    last_hash   BLOB NOT NULL
);

-- Signed tree heads (RFC 9162 style): a compact JWS over {tenant, tree_size, root_hash, timestamp}.
CREATE TABLE ledger_tree_heads (
    tenant_id   TEXT NOT NULL,
    tree_size   BIGINT NOT NULL,
    root_hash   BLOB NOT NULL,
    created_at  BIGINT NOT NULL,
    jws         TEXT NOT NULL,
    PRIMARY KEY (tenant_id, tree_size)
);

-- Per-customer salts for the customer commitments in the log. Deleting a salt unlinks the
-- customer from every entry without changing a hashed byte.
CREATE TABLE ledger_customer_salts (
    tenant_id     TEXT NOT NULL,
    customer_ref  TEXT NOT NULL,
    salt          BLOB NOT NULL,
    PRIMARY KEY (tenant_id, customer_ref)
);

-- Consents: one row per grant. Withdrawal and expiry end it; the events are in the log.
CREATE TABLE consents (
    tenant_id        TEXT NOT NULL,
    consent_id       TEXT NOT NULL,
    customer_ref     TEXT NOT NULL,
    purpose          TEXT NOT NULL,
    notice_version   TEXT NOT NULL,
    notice_hash      TEXT NOT NULL,
    language         TEXT NOT NULL,         -- the notice language shown
    capture_method   TEXT NOT NULL,         -- customer_device | dtmf | verbal_witnessed
    witness          TEXT,                  -- agent id for verbal_witnessed
    scope            TEXT NOT NULL,         -- session | standing
    session_id       TEXT,
    granted_at       BIGINT NOT NULL,
    valid_until      BIGINT,
    ended_at         BIGINT,
    end_reason       TEXT,                  -- withdrawn | expired | purpose_ended
    ledger_index     BIGINT NOT NULL,
    end_ledger_index BIGINT,
    PRIMARY KEY (tenant_id, consent_id)
);
CREATE INDEX consents_customer ON consents(tenant_id, customer_ref, purpose);
CREATE INDEX consents_session ON consents(tenant_id, session_id);
CREATE INDEX consents_open ON consents(ended_at, valid_until);
