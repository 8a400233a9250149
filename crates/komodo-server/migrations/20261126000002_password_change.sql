-- The bootstrap admin's one-time password must be replaced at first sign-in.
ALTER TABLE users ADD COLUMN password_change_required BIGINT NOT NULL DEFAULT 0;
