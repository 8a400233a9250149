-- Gateway sessions end with the credential that opened them (F07).

-- A service principal's current secret has an id. Tokens minted from it
-- carry it as `sid`; a rotation gives the new secret a new id, which ends
-- the old secret's tokens and the sessions opened with them. Principals
-- created before this migration have none until their first rotation.
ALTER TABLE service_principals ADD COLUMN secret_id TEXT;

-- The `jti` of the access token a gateway session was opened with, so that
-- revoking that token ends the session.
ALTER TABLE gateway_sessions ADD COLUMN token_jti TEXT;
CREATE INDEX gateway_sessions_token_jti ON gateway_sessions (token_jti);
CREATE INDEX gateway_sessions_subject ON gateway_sessions (subject);
CREATE INDEX gateway_sessions_token_family ON gateway_sessions (token_family);

-- A password reset revokes every login of the user.
CREATE INDEX token_families_user ON token_families (user_id);
