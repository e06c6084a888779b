-- Chatbot API keys (§3.3, §8, §12) and what the server-to-server channels need of conversations.
--
-- A key is stored as the SHA-256 of the whole key (the key has 178 bits of randomness, so a fast
-- hash is enough: nothing to guess) and its display prefix. Keys live in the chatbot owner's
-- tenant; the credential check, which cannot name a tenant before it has found the key, reads
-- them in the `api-key` scope by hash, and writes back only last_used_at (coalesced, §8).
CREATE TABLE api_keys (
  id uuid PRIMARY KEY,
  user_id uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  chatbot_id uuid NOT NULL REFERENCES chatbots (id) ON DELETE CASCADE,
  name text,
  prefix text NOT NULL,
  hash text NOT NULL UNIQUE,
  created_at timestamptz NOT NULL DEFAULT now(),
  last_used_at timestamptz
);
CREATE INDEX api_keys_chatbot_idx ON api_keys (chatbot_id, created_at);

ALTER TABLE api_keys ENABLE ROW LEVEL SECURITY;
ALTER TABLE api_keys FORCE ROW LEVEL SECURITY;
CREATE POLICY api_keys_own ON api_keys
  USING (user_id = (SELECT nullif(current_setting('app.user_id', true), '')::uuid))
  WITH CHECK (user_id = (SELECT nullif(current_setting('app.user_id', true), '')::uuid));
CREATE POLICY api_keys_lookup ON api_keys FOR SELECT USING ((SELECT current_setting('app.scope', true) = 'api-key'));
CREATE POLICY api_keys_touch ON api_keys FOR UPDATE
  USING ((SELECT current_setting('app.scope', true) = 'api-key'))
  WITH CHECK ((SELECT current_setting('app.scope', true) = 'api-key'));
-- A deactivated owner's keys stop at once (§3): the check reads the owner's is_active with the key.
CREATE POLICY users_api_key_read ON users FOR SELECT USING ((SELECT current_setting('app.scope', true) = 'api-key'));
CREATE POLICY api_keys_admin_read ON api_keys FOR SELECT USING ((SELECT current_setting('app.scope', true) = 'admin'));

-- The AI SDK channel's chat ids (§8): the client names the conversation. Unique per caller: the
-- owner (user_id) and, within the owner's tenant, the visitor or key end user (visitor_id), so
-- another caller's chat with the same id is another conversation.
ALTER TABLE conversations ADD COLUMN client_chat_id text;
CREATE UNIQUE INDEX conversations_client_chat_key ON conversations (user_id, coalesce(visitor_id, ''), client_chat_id)
  WHERE client_chat_id IS NOT NULL;

-- The text of a reply still being generated, written while it streams on channels that resume
-- (§8: the AI SDK's resume reads it from PostgreSQL alone, on any instance). Cleared when stored.
ALTER TABLE conversations ADD COLUMN busy_text text;
