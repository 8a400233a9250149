-- The connector gateway: sessions and query handles, shared by every
-- replica so that any replica can serve any session.

CREATE TABLE gateway_sessions (
    id                TEXT PRIMARY KEY,
    numeric_id        BIGINT NOT NULL,
    account_id        TEXT NOT NULL REFERENCES accounts (id),
    subject           TEXT NOT NULL,
    token_family      TEXT,
    token_hash        TEXT NOT NULL UNIQUE,
    token_expires_at  BIGINT NOT NULL,
    master_hash       TEXT NOT NULL UNIQUE,
    master_expires_at BIGINT NOT NULL,
    database_name     TEXT,
    schema_name       TEXT,
    client_app        TEXT,
    created_at        BIGINT NOT NULL,
    closed_at         BIGINT
);
CREATE INDEX gateway_sessions_account ON gateway_sessions (account_id);

CREATE TABLE gateway_queries (
    id                TEXT PRIMARY KEY,
    account_id        TEXT NOT NULL REFERENCES accounts (id),
    session_id        TEXT NOT NULL,
    subject           TEXT NOT NULL,
    request_id        TEXT,
    sql_text          TEXT NOT NULL,
    status            TEXT NOT NULL,
    result_format     TEXT NOT NULL,
    replica           TEXT NOT NULL,
    error_code        TEXT,
    error_message     TEXT,
    sql_state         TEXT,
    started_at        BIGINT NOT NULL,
    ended_at          BIGINT
);
CREATE INDEX gateway_queries_request ON gateway_queries (session_id, request_id);
CREATE INDEX gateway_queries_started ON gateway_queries (started_at);

-- Finished results that every replica can read (Arrow IPC stream, base64).
CREATE TABLE gateway_results (
    query_id          TEXT PRIMARY KEY REFERENCES gateway_queries (id) ON DELETE CASCADE,
    account_id        TEXT NOT NULL,
    statement_type_id BIGINT NOT NULL,
    rows_affected     BIGINT,
    total_rows        BIGINT NOT NULL,
    ipc               TEXT NOT NULL,
    created_at        BIGINT NOT NULL
);
