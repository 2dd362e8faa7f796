-- Service signing keys (Ed25519): assertions (JWT), camera grants, consent receipts, tree heads.
-- The one table without tenant_id: these keys belong to the service and sign for every tenant;
-- the tenant is inside every signed payload. Private halves are sealed under the master key.
CREATE TABLE signing_keys (
    kid             TEXT PRIMARY KEY,
    public_key      BLOB NOT NULL,
    sealed_private  BLOB NOT NULL,       -- nonce || AES-256-GCM(PKCS#8), context "signing-key"
    created_at      BIGINT NOT NULL,
    retired_at      BIGINT,              -- stopped signing (rotation)
    unpublish_at    BIGINT               -- removed from the JWKS once everything it signed expired
);
