-- Public visitors (§7), the owner's inbox, and usage (§11).
--
-- A visitor belongs to one public chatbot and to its owner, the tenant: their conversations are
-- the owner's rows (user_id) marked with the visitor, so row security needs nothing new to keep
-- tenants apart. The visitor's id is 128 bits of server randomness ('v_' + base64url): the
-- client-chosen `visitor_id` is only a label and never finds a visitor.
CREATE TABLE visitors (
  id         text PRIMARY KEY,
  user_id    uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  chatbot_id uuid NOT NULL REFERENCES chatbots (id) ON DELETE CASCADE,
  visitor_id text NOT NULL,
  name       text,
  first_seen timestamptz NOT NULL,
  last_seen  timestamptz NOT NULL
);
CREATE INDEX visitors_chatbot_idx ON visitors (chatbot_id, last_seen DESC);

-- unread_count: visitors' messages since the owner last marked the conversation read; kept by
-- the turn's own statement, so the inbox never counts messages.
ALTER TABLE conversations ADD COLUMN visitor_id text REFERENCES visitors (id) ON DELETE CASCADE;
ALTER TABLE conversations ADD COLUMN unread_count integer NOT NULL DEFAULT 0;
CREATE INDEX conversations_visitor_idx ON conversations (visitor_id) WHERE visitor_id IS NOT NULL;

-- The owner's own list skips visitors' conversations without reading past them.
DROP INDEX conversations_user_activity_idx;
CREATE INDEX conversations_user_activity_idx ON conversations (user_id, updated_at DESC, id DESC) WHERE visitor_id IS NULL;

-- Usage per chatbot and UTC day, added to by each turn's finish statement. A chatbot's row is
-- split in shards (the turn picks one) so concurrent turns of one busy public chatbot do not
-- queue on one row lock until their commits; readers add the shards up.
CREATE TABLE usage_daily (
  chatbot_id        uuid NOT NULL REFERENCES chatbots (id) ON DELETE CASCADE,
  day               date NOT NULL,
  shard             smallint NOT NULL,
  user_id           uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  messages          integer NOT NULL DEFAULT 0,
  prompt_tokens     bigint NOT NULL DEFAULT 0,
  completion_tokens bigint NOT NULL DEFAULT 0,
  PRIMARY KEY (chatbot_id, day, shard)
);
CREATE INDEX usage_daily_user_idx ON usage_daily (user_id, day);

ALTER TABLE visitors ENABLE ROW LEVEL SECURITY;
ALTER TABLE visitors FORCE ROW LEVEL SECURITY;
CREATE POLICY visitors_own ON visitors USING (user_id = (SELECT nullif(current_setting('app.user_id', true), '')::uuid)) WITH CHECK (user_id = (SELECT nullif(current_setting('app.user_id', true), '')::uuid));
CREATE POLICY visitors_admin_read ON visitors FOR SELECT USING ((SELECT current_setting('app.scope', true) = 'admin'));

ALTER TABLE usage_daily ENABLE ROW LEVEL SECURITY;
ALTER TABLE usage_daily FORCE ROW LEVEL SECURITY;
CREATE POLICY usage_daily_own ON usage_daily USING (user_id = (SELECT nullif(current_setting('app.user_id', true), '')::uuid)) WITH CHECK (user_id = (SELECT nullif(current_setting('app.user_id', true), '')::uuid));
CREATE POLICY usage_daily_admin_read ON usage_daily FOR SELECT USING ((SELECT current_setting('app.scope', true) = 'admin'));

-- A browser's preflight for a visitor's conversation carries no token: the `public` scope may
-- read which public chatbot a visitor's conversation belongs to, to answer it with that
-- chatbot's origins. The query reads nothing else; the rule is stated here all the same.
CREATE FUNCTION chatbot_is_public(chatbot uuid) RETURNS boolean LANGUAGE plpgsql STABLE AS $$
BEGIN
  RETURN EXISTS (SELECT 1 FROM chatbots WHERE id = chatbot AND is_public);
END
$$;
CREATE POLICY conversations_public_read ON conversations FOR SELECT
  USING ((SELECT current_setting('app.scope', true) = 'public') AND visitor_id IS NOT NULL AND chatbot_is_public(chatbot_id));
