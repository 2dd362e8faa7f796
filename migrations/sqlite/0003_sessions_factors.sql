-- Sessions, active factors, lockout counters, and the webhook outbox (issue 5).

-- A recognition session: the claimed customer, the channel, the evidence so far and the
-- current decision (JSON, no codes or personal data beyond the tenant's own reference).
CREATE TABLE sessions (
    session_id      TEXT PRIMARY KEY,
    tenant_id       TEXT NOT NULL REFERENCES tenants(tenant_id),
    customer_ref    TEXT NOT NULL,
    channel         TEXT NOT NULL,
    outcome         TEXT NOT NULL,
    assurance       TEXT NOT NULL,
    policy_id       TEXT NOT NULL,
    policy_version  TEXT NOT NULL,
    policy_hash     TEXT NOT NULL,
    evidence        TEXT NOT NULL,
    decision        TEXT NOT NULL,
    handoff_from    TEXT,
    revision        BIGINT NOT NULL,
    created_at      BIGINT NOT NULL,
    updated_at      BIGINT NOT NULL,
    expires_at      BIGINT NOT NULL,
    verified_at     BIGINT
);
CREATE INDEX sessions_tenant_customer ON sessions(tenant_id, customer_ref);

-- TOTP secrets, sealed under the customer's data key. last_step enforces single use:
-- a code is accepted only by an UPDATE that raises last_step (RFC 6238 §5.2).
CREATE TABLE factor_totp (
    tenant_id      TEXT NOT NULL,
    customer_ref   TEXT NOT NULL,
    sealed_secret  BLOB NOT NULL,
    algorithm      TEXT NOT NULL,
    digits         BIGINT NOT NULL,
    period_secs    BIGINT NOT NULL,
    last_step      BIGINT NOT NULL,
    confirmed_at   BIGINT,
    created_at     BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, customer_ref)
);

-- PINs: Argon2id PHC strings (m=19456 KiB, t=2, p=1).
CREATE TABLE factor_pins (
    tenant_id     TEXT NOT NULL,
    customer_ref  TEXT NOT NULL,
    phc           TEXT NOT NULL,
    created_at    BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, customer_ref)
);

-- Recovery codes: salted SHA-256; used_at set by a conditional UPDATE (exactly one use wins).
CREATE TABLE recovery_codes (
    tenant_id     TEXT NOT NULL,
    customer_ref  TEXT NOT NULL,
    code_id       TEXT NOT NULL,
    salt          BLOB NOT NULL,
    code_hash     BLOB NOT NULL,
    used_at       BIGINT,
    created_at    BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, customer_ref, code_id)
);

-- One-time codes sent through the platform, bound to one session.
CREATE TABLE one_time_codes (
    challenge_id  TEXT PRIMARY KEY,
    tenant_id     TEXT NOT NULL,
    customer_ref  TEXT NOT NULL,
    session_id    TEXT NOT NULL,
    salt          BLOB NOT NULL,
    code_hash     BLOB NOT NULL,
    expires_at    BIGINT NOT NULL,
    used_at       BIGINT,
    created_at    BIGINT NOT NULL
);
CREATE INDEX one_time_codes_session ON one_time_codes(tenant_id, session_id);

-- Lockout counters, shared by every instance (NIST SP 800-63B-4 §3.2.3 and rate limiting).
CREATE TABLE lockout_biometric (
    tenant_id     TEXT NOT NULL,
    customer_ref  TEXT NOT NULL,
    failures      BIGINT NOT NULL,
    updated_at    BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, customer_ref)
);
CREATE TABLE lockout_factor (
    tenant_id        TEXT NOT NULL,
    customer_ref     TEXT NOT NULL,
    factor           TEXT NOT NULL,
    failures         BIGINT NOT NULL,
    last_failure_at  BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, customer_ref, factor)
);

-- Where a tenant's platform receives one-time codes to deliver (HMAC-signed POSTs).
CREATE TABLE webhooks (
    tenant_id   TEXT PRIMARY KEY REFERENCES tenants(tenant_id),
    url         TEXT NOT NULL,
    secret      BLOB NOT NULL,
    created_at  BIGINT NOT NULL
);

-- Transactional outbox: written with the code, delivered by a worker with retries and
-- backoff. outbox_id doubles as the Idempotency-Key header. The payload is erased once
-- delivered (it carries the code).
CREATE TABLE outbox (
    outbox_id        TEXT PRIMARY KEY,
    tenant_id        TEXT NOT NULL,
    kind             TEXT NOT NULL,
    payload          TEXT,
    status           TEXT NOT NULL,
    attempts         BIGINT NOT NULL,
    next_attempt_at  BIGINT NOT NULL,
    last_error       TEXT,
    created_at       BIGINT NOT NULL,
    delivered_at     BIGINT
);
CREATE INDEX outbox_due ON outbox(status, next_attempt_at);
