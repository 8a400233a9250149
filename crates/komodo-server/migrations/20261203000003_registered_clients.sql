-- Operator-registered OAuth clients (`komodo-server admin create-client`):
-- public or confidential (a keyed hash of the secret), the grants they may
-- use and the audiences they may ask for, beside the platform's own.
-- Clients registered before this migration keep what they could do.
ALTER TABLE clients ADD COLUMN secret_hash TEXT;
ALTER TABLE clients ADD COLUMN grants TEXT NOT NULL DEFAULT '["authorization_code","refresh_token","device"]';
ALTER TABLE clients ADD COLUMN audiences TEXT NOT NULL DEFAULT '[]';

-- The audience a token request named (`audience` or RFC 8707 `resource`),
-- carried from the request to the tokens of its session; NULL: the
-- platform's default audience.
ALTER TABLE auth_requests ADD COLUMN audience TEXT;
ALTER TABLE auth_codes ADD COLUMN audience TEXT;
ALTER TABLE device_codes ADD COLUMN audience TEXT;
ALTER TABLE token_families ADD COLUMN audience TEXT;
