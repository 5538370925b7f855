-- One table per tree of the store: ordered byte keys, byte values (the same records sled holds).
CREATE TABLE kv_meta (k bytea PRIMARY KEY, v bytea NOT NULL);
CREATE TABLE kv_licenses (k bytea PRIMARY KEY, v bytea NOT NULL);
CREATE TABLE kv_license_tokens (k bytea PRIMARY KEY, v bytea NOT NULL);
CREATE TABLE kv_licenses_by_instance (k bytea PRIMARY KEY, v bytea NOT NULL);
CREATE TABLE kv_idempotency (k bytea PRIMARY KEY, v bytea NOT NULL);
CREATE TABLE kv_audit (k bytea PRIMARY KEY, v bytea NOT NULL);
CREATE TABLE kv_index (k bytea PRIMARY KEY, v bytea NOT NULL);
CREATE TABLE kv_signing_keys (k bytea PRIMARY KEY, v bytea NOT NULL);
CREATE TABLE kv_api_tokens (k bytea PRIMARY KEY, v bytea NOT NULL);
CREATE TABLE kv_km2_instances (k bytea PRIMARY KEY, v bytea NOT NULL);
CREATE TABLE kv_km2_codes (k bytea PRIMARY KEY, v bytea NOT NULL);
CREATE TABLE kv_km2_pending_codes (k bytea PRIMARY KEY, v bytea NOT NULL);
CREATE TABLE kv_km2_outbox (k bytea PRIMARY KEY, v bytea NOT NULL);
CREATE TABLE kv_km2_outbox_keys (k bytea PRIMARY KEY, v bytea NOT NULL);
-- A pending job is claimed by one instance at a time (FOR UPDATE SKIP LOCKED) until
-- claimed_until; a claim left by a killed instance lapses and the job is retried.
CREATE TABLE kv_km2_outbox_pending (
    k bytea PRIMARY KEY,
    v bytea NOT NULL,
    claimed_until timestamptz
);
-- The scheme B nonce cache, shared by every instance (insert ... on conflict).
CREATE TABLE kv_km2_nonces (k bytea PRIMARY KEY, v bytea NOT NULL);
CREATE TABLE kv_km_rejected_calls (k bytea PRIMARY KEY, v bytea NOT NULL);
CREATE TABLE kv_seat_leases (k bytea PRIMARY KEY, v bytea NOT NULL);
CREATE TABLE kv_seat_leases_held (k bytea PRIMARY KEY, v bytea NOT NULL);
CREATE TABLE kv_seat_deactivations (k bytea PRIMARY KEY, v bytea NOT NULL);
-- Audit event, rejected call and outbox job ids, unique across instances.
CREATE SEQUENCE koolicense_ids;
