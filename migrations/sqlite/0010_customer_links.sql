-- Customer links (issue 13): one short-lived, single-use link into a customer page (camera
-- consent for a live session, or the privacy centre), bound to tenant, customer and session.
--
-- The link token travels in the URL and is kept only as its SHA-256. Redemption also needs the
-- confirmation code an agent reads out in the live conversation (shown only on the signed-in
-- agent's page, never in an API answer or a webhook): a forwarded link, or the platform holding
-- only its API key and the link, cannot redeem it. The code is erased once the link is redeemed,
-- locked or expired.
CREATE TABLE customer_links (
    tenant_id        TEXT NOT NULL,
    link_id          TEXT NOT NULL,
    purpose          TEXT NOT NULL,          -- camera | privacy
    customer_ref     TEXT NOT NULL,
    session_id       TEXT NOT NULL,
    token_hash       TEXT NOT NULL UNIQUE,   -- SHA-256 of the URL token
    agent_code       TEXT,                   -- NULL once redeemed, locked or expired
    attempts         BIGINT NOT NULL,        -- wrong codes typed
    minted_by        TEXT NOT NULL,          -- API key id that asked
    outbox_id        TEXT,                   -- webhook delivery, when one is configured
    created_at       BIGINT NOT NULL,
    expires_at       BIGINT NOT NULL,
    delivery_logged  BIGINT,                 -- when the webhook delivery reached the log
    opened_at        BIGINT,
    code_shown_to    TEXT,                   -- the agent (staff subject) first shown the code
    redeemed_at      BIGINT,
    device_session   TEXT,                   -- SHA-256 of the browser session that redeemed
    locked_at        BIGINT,
    last_choice      TEXT,                   -- camera: the customer's latest choice (JSON)
    PRIMARY KEY (tenant_id, link_id)
);
CREATE INDEX customer_links_session ON customer_links(tenant_id, session_id);

-- The customer's camera choice (mode and the policy's options), stored with the consent it
-- qualifies and carried in every camera grant's claims. NULL for other purposes.
ALTER TABLE consents ADD COLUMN terms TEXT;

-- The tenant's brand on its customer pages (camera page, link landing, privacy centre), set by
-- a tenant_admin in the console. The logo is stored only after validation: PNG as uploaded,
-- SVG re-serialised from a whitelist (no script, no event handlers, no external references).
CREATE TABLE tenant_brands (
    tenant_id      TEXT PRIMARY KEY,
    display_name   TEXT NOT NULL,
    primary_color  TEXT NOT NULL,            -- #rrggbb, WCAG AA against white text
    accent_color   TEXT NOT NULL,            -- #rrggbb, WCAG AA against the page background
    logo_type      TEXT,                     -- image/png | image/svg+xml
    logo           BLOB,
    updated_at     BIGINT NOT NULL,
    updated_by     TEXT NOT NULL             -- staff subject
);
