-- Passkeys (WebAuthn) of customers, registered in the privacy centre (issue 13), and the
-- step-up requests a platform makes for a session, approved on the customer's phone with one
-- (the CIBA pattern). Public keys only: a passkey's private key never leaves the authenticator.

-- The WebAuthn user handle of a customer: random, so the authenticator never stores the
-- tenant's customer reference.
CREATE TABLE passkey_users (
    tenant_id     TEXT NOT NULL,
    customer_ref  TEXT NOT NULL,
    user_handle   TEXT NOT NULL,
    created_at    BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, customer_ref)
);

-- One row per registered credential. `credential` is webauthn-rs's serialised Passkey (public
-- key, algorithm, signature counter); a credential id is registered to at most one customer.
CREATE TABLE passkeys (
    tenant_id      TEXT NOT NULL,
    passkey_id     TEXT NOT NULL,
    customer_ref   TEXT NOT NULL,
    credential_id  TEXT NOT NULL,
    credential     TEXT NOT NULL,
    name           TEXT NOT NULL,
    created_at     BIGINT NOT NULL,
    last_used_at   BIGINT,
    PRIMARY KEY (tenant_id, passkey_id),
    UNIQUE (tenant_id, credential_id)
);
CREATE INDEX passkeys_customer ON passkeys (tenant_id, customer_ref);

-- A ceremony in flight (challenge state between "start" and "finish"), single use: finishing
-- deletes the row first, so an assertion replayed against the same challenge finds nothing.
-- `bound_to` is what may finish it: the browser session (privacy centre) or the step-up
-- request it was started for.
CREATE TABLE passkey_ceremonies (
    tenant_id     TEXT NOT NULL,
    ceremony_id   TEXT NOT NULL,
    customer_ref  TEXT NOT NULL,
    kind          TEXT NOT NULL,
    bound_to      TEXT NOT NULL,
    state         TEXT NOT NULL,
    expires_at    BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, ceremony_id)
);

-- Step-up requests (CIBA: the platform asks, the customer approves on their own device).
-- The link token is stored only as its SHA-256.
CREATE TABLE passkey_requests (
    tenant_id     TEXT NOT NULL,
    request_id    TEXT NOT NULL,
    session_id    TEXT NOT NULL,
    customer_ref  TEXT NOT NULL,
    token_hash    TEXT NOT NULL UNIQUE,
    binding_code  TEXT NOT NULL,
    status        TEXT NOT NULL,
    requested_by  TEXT NOT NULL,
    created_at    BIGINT NOT NULL,
    expires_at    BIGINT NOT NULL,
    decided_at    BIGINT,
    passkey_id    TEXT,
    PRIMARY KEY (tenant_id, request_id)
);
CREATE INDEX passkey_requests_session ON passkey_requests (tenant_id, session_id);
