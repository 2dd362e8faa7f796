-- The spine: tenants, their API keys, their customers, and encrypted biometric templates.

-- A tenant is one contact-centre customer of trustline. Its sector selects the policy.
CREATE TABLE tenants (
    tenant_id   TEXT PRIMARY KEY,
    name        TEXT NOT NULL,
    sector      TEXT NOT NULL,
    created_at  BIGINT NOT NULL
);

-- API keys: only a SHA-256 of the 256-bit secret is kept; key_id is the public lookup half.
CREATE TABLE api_keys (
    key_id       TEXT PRIMARY KEY,
    tenant_id    TEXT NOT NULL REFERENCES tenants(tenant_id),
    secret_hash  BYTEA NOT NULL,
    scopes       TEXT NOT NULL,          -- space-separated
    label        TEXT NOT NULL,
    created_at   BIGINT NOT NULL,
    revoked_at   BIGINT
);
CREATE INDEX api_keys_tenant ON api_keys(tenant_id);

-- Customers as the tenant knows them: an opaque reference, never a name.
CREATE TABLE customers (
    tenant_id     TEXT NOT NULL REFERENCES tenants(tenant_id),
    customer_ref  TEXT NOT NULL,
    methods       TEXT NOT NULL,         -- space-separated preferred methods
    created_at    BIGINT NOT NULL,
    updated_at    BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, customer_ref)
);

-- Per-customer data keys, wrapped (AES-256-GCM) by the master key. Deleting a customer's
-- biometric data destroys this row, which makes every template encrypted under it unreadable.
CREATE TABLE customer_keys (
    tenant_id     TEXT NOT NULL,
    customer_ref  TEXT NOT NULL,
    wrapped_key   BYTEA NOT NULL,
    created_at    BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, customer_ref)
);

-- Biometric templates, encrypted under the customer's data key. No audio, no characters.
CREATE TABLE biometric_templates (
    tenant_id      TEXT NOT NULL,
    customer_ref   TEXT NOT NULL,
    modality       TEXT NOT NULL,        -- voice | keystroke_fixed | keystroke_free
    model_id       TEXT NOT NULL,
    model_version  TEXT NOT NULL,
    ciphertext     BYTEA NOT NULL,        -- nonce || AES-256-GCM(template)
    created_at     BIGINT NOT NULL,
    last_used_at   BIGINT,
    PRIMARY KEY (tenant_id, customer_ref, modality)
);
