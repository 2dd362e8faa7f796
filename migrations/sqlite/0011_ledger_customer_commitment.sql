-- The consent gates (enrolment, camera grants) confirm a consent on the log, not on its row:
-- a consent's end entries are found by the customer commitment hashed into every leaf (a row
-- whose end_ledger_index was nulled cannot hide them). This index keeps that lookup small.
CREATE INDEX ledger_entries_commitment ON ledger_entries(tenant_id, customer_commitment);
