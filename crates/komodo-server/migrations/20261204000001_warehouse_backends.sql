-- An account whose warehouse is an upstream Snowflake account (no row: the
-- embedded warehouse). The private key is sealed with the master key
-- (AES-256-GCM, bound to the account id), never stored in the clear.
CREATE TABLE warehouse_backends (
    account_id      TEXT PRIMARY KEY REFERENCES accounts (id),
    kind            TEXT NOT NULL,
    host            TEXT NOT NULL,
    account_name    TEXT NOT NULL,
    user_name       TEXT NOT NULL,
    private_key     TEXT NOT NULL,
    key_fingerprint TEXT NOT NULL,
    role_name       TEXT,
    warehouse       TEXT,
    database_name   TEXT,
    schema_name     TEXT,
    updated_at      BIGINT NOT NULL
);
