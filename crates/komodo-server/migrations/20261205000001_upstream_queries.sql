-- A query the gateway forwarded to the account's upstream Snowflake
-- account: its id there, so that any replica (or this one after a restart)
-- can answer its result polls, monitoring and aborts.
ALTER TABLE gateway_queries ADD COLUMN upstream_id TEXT;
