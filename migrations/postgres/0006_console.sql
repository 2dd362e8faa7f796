-- Console and privacy centre: per-tenant identity providers, login flows in progress,
-- server-side browser sessions, and short-lived privacy-centre links for customers.

-- One OpenID provider per tenant and realm (staff = compliance console, customer = privacy
-- centre). The client secret is sealed under a data key wrapped by the master key.
CREATE TABLE identity_providers (
    tenant_id       TEXT NOT NULL REFERENCES tenants(tenant_id),
    realm           TEXT NOT NULL,          -- staff | customer
    issuer_url      TEXT NOT NULL,
    client_id       TEXT NOT NULL,
    secret_key      BYTEA NOT NULL,          -- data key, wrapped by the master key
    client_secret   BYTEA NOT NULL,          -- nonce || AES-256-GCM(secret) under that key
    scopes          TEXT NOT NULL,          -- extra scopes beyond openid, space-separated
    role_claim      TEXT NOT NULL,          -- staff: the claim listing roles
    customer_claim  TEXT NOT NULL,          -- customer: the claim holding the customer reference
    created_at      BIGINT NOT NULL,
    updated_at      BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, realm)
);

-- An authorization request in flight, keyed by the SHA-256 of a random cookie value.
-- Single use: the callback deletes it whatever the outcome.
CREATE TABLE login_flows (
    flow_hash      TEXT PRIMARY KEY,
    tenant_id      TEXT NOT NULL,
    realm          TEXT NOT NULL,
    state          TEXT NOT NULL,
    nonce          TEXT NOT NULL,
    pkce_verifier  TEXT NOT NULL,
    created_at     BIGINT NOT NULL,
    expires_at     BIGINT NOT NULL
);

-- Browser sessions. Only the SHA-256 of the cookie is stored; the subject is the IdP subject
-- for staff and the customer reference for customers.
CREATE TABLE web_sessions (
    session_hash   TEXT PRIMARY KEY,
    tenant_id      TEXT NOT NULL,
    realm          TEXT NOT NULL,
    subject        TEXT NOT NULL,
    roles          TEXT NOT NULL,           -- space-separated (staff)
    csrf_token     TEXT NOT NULL,
    created_at     BIGINT NOT NULL,
    expires_at     BIGINT NOT NULL
);
CREATE INDEX web_sessions_expiry ON web_sessions(expires_at);

-- Links into the privacy centre the platform requests for a customer it has verified.
-- Single use, short-lived; only the SHA-256 of the token is kept.
CREATE TABLE privacy_links (
    token_hash     TEXT PRIMARY KEY,
    tenant_id      TEXT NOT NULL,
    customer_ref   TEXT NOT NULL,
    created_at     BIGINT NOT NULL,
    expires_at     BIGINT NOT NULL,
    used_at        BIGINT
);
