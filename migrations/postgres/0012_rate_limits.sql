-- Fixed-window request counters shared by every instance on this database (issue 15: rate
-- limits per API key and per customer reference on verification, factor and link endpoints).
-- One row per bucket: `key:<api key id>` or `customer:<customer_ref>`; the window start is in
-- milliseconds. A row is overwritten when its window has passed, and rows of windows long gone
-- are deleted as the tenant's key buckets roll over, so the table stays small.
CREATE TABLE rate_limits (
    tenant_id     TEXT NOT NULL,
    bucket        TEXT NOT NULL,
    window_start  BIGINT NOT NULL,
    hits          BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, bucket)
);
