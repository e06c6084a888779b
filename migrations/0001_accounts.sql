-- Accounts: users (local or from an external issuer), sign-in sessions and their refresh tokens.

CREATE TABLE users (
  id            uuid PRIMARY KEY,
  username      text NOT NULL,
  email         text,
  password_hash text,
  role          text NOT NULL DEFAULT 'user' CHECK (role IN ('user', 'admin')),
  is_active     boolean NOT NULL DEFAULT true,
  issuer        text,
  external_id   text,
  created_at    timestamptz NOT NULL DEFAULT now(),
  updated_at    timestamptz NOT NULL DEFAULT now(),
  CHECK ((issuer IS NULL) = (external_id IS NULL))
);

-- Local usernames are unique regardless of case; external users are unique per (issuer, external id).
CREATE UNIQUE INDEX users_local_username_key ON users (lower(username)) WHERE issuer IS NULL;
CREATE UNIQUE INDEX users_issuer_external_id_key ON users (issuer, external_id) WHERE issuer IS NOT NULL;
-- Emails are not unique (registration must not reveal which emails exist); login by email
-- takes the earliest local account that registered it.
CREATE INDEX users_local_email_idx ON users (lower(email), created_at) WHERE issuer IS NULL AND email IS NOT NULL;

CREATE TABLE sessions (
  id                uuid PRIMARY KEY,
  user_id           uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  created_at        timestamptz NOT NULL,
  last_refreshed_at timestamptz NOT NULL,
  revoked_at        timestamptz,
  revoked_reason    text
);
CREATE INDEX sessions_user_id_idx ON sessions (user_id);

CREATE TABLE refresh_tokens (
  id          uuid PRIMARY KEY,
  session_id  uuid NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
  token_hash  text NOT NULL UNIQUE,
  created_at  timestamptz NOT NULL,
  expires_at  timestamptz NOT NULL,
  rotated_at  timestamptz
);
CREATE INDEX refresh_tokens_session_id_idx ON refresh_tokens (session_id);
