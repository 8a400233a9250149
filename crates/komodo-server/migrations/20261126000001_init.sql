-- Komodo platform schema. Portable between SQLite and PostgreSQL: ids are
-- UUID text, times are BIGINT seconds since the epoch, hashes are hex text.

CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);

CREATE TABLE organizations (
    id         TEXT PRIMARY KEY,
    slug       TEXT NOT NULL UNIQUE,
    name       TEXT NOT NULL,
    created_at BIGINT NOT NULL
);

CREATE TABLE accounts (
    id              TEXT PRIMARY KEY,
    organization_id TEXT NOT NULL REFERENCES organizations (id),
    slug            TEXT NOT NULL UNIQUE,
    name            TEXT NOT NULL,
    created_at      BIGINT NOT NULL
);

CREATE TABLE users (
    id            TEXT PRIMARY KEY,
    email         TEXT NOT NULL UNIQUE,
    name          TEXT,
    password_hash TEXT NOT NULL,
    created_at    BIGINT NOT NULL
);

CREATE TABLE memberships (
    account_id TEXT NOT NULL REFERENCES accounts (id),
    user_id    TEXT NOT NULL REFERENCES users (id),
    role       TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (account_id, user_id)
);

CREATE TABLE service_principals (
    id          TEXT PRIMARY KEY,
    account_id  TEXT NOT NULL REFERENCES accounts (id),
    client_id   TEXT NOT NULL UNIQUE,
    name        TEXT NOT NULL,
    description TEXT,
    secret_hash TEXT NOT NULL,
    created_at  BIGINT NOT NULL,
    deleted_at  BIGINT
);
CREATE INDEX service_principals_account ON service_principals (account_id);

CREATE TABLE clients (
    client_id     TEXT PRIMARY KEY,
    name          TEXT NOT NULL,
    redirect_uris TEXT NOT NULL,
    created_at    BIGINT NOT NULL
);

CREATE TABLE signing_keys (
    kid         TEXT PRIMARY KEY,
    alg         TEXT NOT NULL,
    private_key TEXT NOT NULL,
    public_jwk  TEXT NOT NULL,
    created_at  BIGINT NOT NULL,
    active_from BIGINT NOT NULL
);

CREATE TABLE auth_requests (
    id             TEXT PRIMARY KEY,
    kind           TEXT NOT NULL,
    client_id      TEXT NOT NULL,
    redirect_uri   TEXT,
    scope          TEXT NOT NULL,
    state          TEXT,
    nonce          TEXT,
    code_challenge TEXT,
    browser_hash   TEXT NOT NULL,
    device_hash    TEXT,
    user_id        TEXT,
    auth_time      BIGINT,
    created_at     BIGINT NOT NULL,
    expires_at     BIGINT NOT NULL,
    completed_at   BIGINT
);

CREATE TABLE token_families (
    id         TEXT PRIMARY KEY,
    client_id  TEXT NOT NULL,
    user_id    TEXT NOT NULL,
    scope      TEXT NOT NULL,
    auth_time  BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    revoked_at BIGINT
);

CREATE TABLE auth_codes (
    code_hash      TEXT PRIMARY KEY,
    client_id      TEXT NOT NULL,
    redirect_uri   TEXT NOT NULL,
    user_id        TEXT NOT NULL,
    scope          TEXT NOT NULL,
    nonce          TEXT,
    code_challenge TEXT,
    auth_time      BIGINT NOT NULL,
    family_id      TEXT NOT NULL,
    created_at     BIGINT NOT NULL,
    expires_at     BIGINT NOT NULL,
    used_at        BIGINT
);

CREATE TABLE refresh_tokens (
    token_hash TEXT PRIMARY KEY,
    family_id  TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    used_at    BIGINT
);
CREATE INDEX refresh_tokens_family ON refresh_tokens (family_id);

CREATE TABLE device_codes (
    device_hash   TEXT PRIMARY KEY,
    user_code     TEXT NOT NULL UNIQUE,
    client_id     TEXT NOT NULL,
    scope         TEXT NOT NULL,
    status        TEXT NOT NULL,
    user_id       TEXT,
    auth_time     BIGINT,
    family_id     TEXT NOT NULL,
    interval_secs BIGINT NOT NULL,
    last_poll_ms  BIGINT,
    created_at    BIGINT NOT NULL,
    expires_at    BIGINT NOT NULL
);

CREATE TABLE revoked_tokens (
    jti        TEXT PRIMARY KEY,
    expires_at BIGINT NOT NULL
);

CREATE TABLE rate_limits (
    key          TEXT PRIMARY KEY,
    window_start BIGINT NOT NULL,
    count        BIGINT NOT NULL
);
