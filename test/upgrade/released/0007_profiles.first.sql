-- Profiles (§4): one per user, free text a chatbot with use_profile answers from. Absent fields
-- are empty strings, so reading a profile never has to tell "unset" from "cleared".

CREATE TABLE profiles (
  user_id    uuid PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
  name       text NOT NULL DEFAULT '',
  location   text NOT NULL DEFAULT '',
  bio        text NOT NULL DEFAULT '',
  skills     text NOT NULL DEFAULT '',
  experience text NOT NULL DEFAULT '',
  interests  text NOT NULL DEFAULT '',
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now()
);

-- Public profiles are found by username, in any case, as login finds local accounts; this index
-- covers external users too (the login index is for local accounts only).
CREATE INDEX users_username_lower_idx ON users (lower(username));

-- Row security as on every tenant table (0004): the owner's rows, and admins read.
ALTER TABLE profiles ENABLE ROW LEVEL SECURITY;
ALTER TABLE profiles FORCE ROW LEVEL SECURITY;
CREATE POLICY profiles_own ON profiles USING (user_id = (SELECT nullif(current_setting('app.user_id', true), '')::uuid)) WITH CHECK (user_id = (SELECT nullif(current_setting('app.user_id', true), '')::uuid));
CREATE POLICY profiles_admin_read ON profiles FOR SELECT USING ((SELECT current_setting('app.scope', true) = 'admin'));

-- The public-profile scope serves GET /v1/public/profiles/{username} to anyone: it reads a user,
-- their profile and the chatbot that makes it public only when that user has a public chatbot
-- with use_profile, and changes nothing. The rule lives here rather than only in the query, so a
-- query that forgot it still shows no one else. Each policy states the rule itself instead of
-- leaning on the chatbots policies beneath its subquery, so it reads the same in isolation.
CREATE POLICY chatbots_public_profile_read ON chatbots FOR SELECT
  USING ((SELECT current_setting('app.scope', true) = 'public-profile') AND is_public AND use_profile);
CREATE POLICY users_public_profile_read ON users FOR SELECT
  USING ((SELECT current_setting('app.scope', true) = 'public-profile')
         AND id IN (SELECT user_id FROM chatbots WHERE is_public AND use_profile));
CREATE POLICY profiles_public_profile_read ON profiles FOR SELECT
  USING ((SELECT current_setting('app.scope', true) = 'public-profile')
         AND user_id IN (SELECT user_id FROM chatbots WHERE is_public AND use_profile));
