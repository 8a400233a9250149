-- What a gateway session set with ALTER SESSION (JSON), for every replica
-- that serves the session to apply.
ALTER TABLE gateway_sessions ADD COLUMN parameters TEXT;
