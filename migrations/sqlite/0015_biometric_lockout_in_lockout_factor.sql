-- The consecutive failed biometric comparisons are counted in lockout_factor (factor
-- 'biometric'), beside the code factors, so one compare-and-set claims an attempt before it is
-- evaluated for both (issue 15: store::lockout). Existing counts move over; the old table goes.
INSERT INTO lockout_factor (tenant_id, customer_ref, factor, failures, last_failure_at)
SELECT tenant_id, customer_ref, 'biometric', failures, updated_at
FROM lockout_biometric
WHERE failures > 0;

DROP TABLE lockout_biometric;
