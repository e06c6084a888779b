-- Databases that ran a migration in the text it first shipped in, before that text was rewritten,
-- are brought to the schema a new database gets. src/db/migrate.ts accepts those earlier texts
-- (EARLIER_TEXTS) as applied; this gives their databases what the rewrites added. On any other
-- database every statement here leaves things as they are.

-- 0004 as first shipped read the settings through two SQL functions, once for every row a policy
-- tests; rewritten, each policy reads them in a scalar subquery, once per statement.
ALTER POLICY users_self_read ON users USING (id = (SELECT nullif(current_setting('app.user_id', true), '')::uuid));
ALTER POLICY users_self_change ON users USING (id = (SELECT nullif(current_setting('app.user_id', true), '')::uuid)) WITH CHECK (id = (SELECT nullif(current_setting('app.user_id', true), '')::uuid));
ALTER POLICY users_auth_read ON users USING ((SELECT current_setting('app.scope', true) = 'auth'));
ALTER POLICY users_auth_add ON users WITH CHECK ((SELECT current_setting('app.scope', true) = 'auth'));
ALTER POLICY users_auth_change ON users USING ((SELECT current_setting('app.scope', true) = 'auth')) WITH CHECK ((SELECT current_setting('app.scope', true) = 'auth'));
ALTER POLICY users_admin_read ON users USING ((SELECT current_setting('app.scope', true) = 'admin'));
ALTER POLICY users_admin_change ON users USING ((SELECT current_setting('app.scope', true) = 'admin')) WITH CHECK ((SELECT current_setting('app.scope', true) = 'admin'));
ALTER POLICY sessions_own ON sessions USING (user_id = (SELECT nullif(current_setting('app.user_id', true), '')::uuid)) WITH CHECK (user_id = (SELECT nullif(current_setting('app.user_id', true), '')::uuid));
ALTER POLICY sessions_auth ON sessions USING ((SELECT current_setting('app.scope', true) = 'auth')) WITH CHECK ((SELECT current_setting('app.scope', true) = 'auth'));
ALTER POLICY chatbots_own ON chatbots USING (user_id = (SELECT nullif(current_setting('app.user_id', true), '')::uuid)) WITH CHECK (user_id = (SELECT nullif(current_setting('app.user_id', true), '')::uuid));
ALTER POLICY chatbots_admin_read ON chatbots USING ((SELECT current_setting('app.scope', true) = 'admin'));
ALTER POLICY chatbots_slugs_read ON chatbots USING ((SELECT current_setting('app.scope', true) = 'slugs'));
ALTER POLICY knowledge_documents_own ON knowledge_documents USING (user_id = (SELECT nullif(current_setting('app.user_id', true), '')::uuid)) WITH CHECK (user_id = (SELECT nullif(current_setting('app.user_id', true), '')::uuid));
ALTER POLICY knowledge_documents_admin_read ON knowledge_documents USING ((SELECT current_setting('app.scope', true) = 'admin'));
ALTER POLICY knowledge_chunks_own ON knowledge_chunks USING (user_id = (SELECT nullif(current_setting('app.user_id', true), '')::uuid)) WITH CHECK (user_id = (SELECT nullif(current_setting('app.user_id', true), '')::uuid));
ALTER POLICY knowledge_chunks_admin_read ON knowledge_chunks USING ((SELECT current_setting('app.scope', true) = 'admin'));
ALTER POLICY conversations_own ON conversations USING (user_id = (SELECT nullif(current_setting('app.user_id', true), '')::uuid)) WITH CHECK (user_id = (SELECT nullif(current_setting('app.user_id', true), '')::uuid));
ALTER POLICY conversations_admin_read ON conversations USING ((SELECT current_setting('app.scope', true) = 'admin'));
ALTER POLICY conversations_stop_poll_read ON conversations USING ((SELECT current_setting('app.scope', true) = 'stop-poll'));
ALTER POLICY messages_own ON messages USING (user_id = (SELECT nullif(current_setting('app.user_id', true), '')::uuid)) WITH CHECK (user_id = (SELECT nullif(current_setting('app.user_id', true), '')::uuid));
ALTER POLICY messages_admin_read ON messages USING ((SELECT current_setting('app.scope', true) = 'admin'));
ALTER POLICY idempotency_keys_own ON idempotency_keys USING (user_id = (SELECT nullif(current_setting('app.user_id', true), '')::uuid)) WITH CHECK (user_id = (SELECT nullif(current_setting('app.user_id', true), '')::uuid));
ALTER POLICY idempotency_keys_sweep_read ON idempotency_keys USING ((SELECT current_setting('app.scope', true) = 'sweep') AND expires_at < now());
ALTER POLICY idempotency_keys_sweep ON idempotency_keys USING ((SELECT current_setting('app.scope', true) = 'sweep') AND expires_at < now());
DROP FUNCTION IF EXISTS parley_user_id();
DROP FUNCTION IF EXISTS parley_scope();

-- 0007 and 0008 as first shipped stated the public scopes' cross-table rules as subqueries, planned
-- into every statement on users and profiles; rewritten, they are PL/pgSQL functions.
CREATE OR REPLACE FUNCTION shows_profile(owner uuid) RETURNS boolean LANGUAGE plpgsql STABLE AS $$
BEGIN
  RETURN EXISTS (SELECT 1 FROM chatbots WHERE user_id = owner AND is_public AND use_profile);
END
$$;
CREATE OR REPLACE FUNCTION owns_public_chatbot(owner uuid) RETURNS boolean LANGUAGE plpgsql STABLE AS $$
BEGIN
  RETURN EXISTS (SELECT 1 FROM chatbots WHERE user_id = owner AND is_public);
END
$$;
ALTER POLICY users_public_profile_read ON users
  USING ((SELECT current_setting('app.scope', true) = 'public-profile') AND shows_profile(id));
ALTER POLICY profiles_public_profile_read ON profiles
  USING ((SELECT current_setting('app.scope', true) = 'public-profile') AND shows_profile(user_id));
ALTER POLICY users_public_owner_read ON users
  USING ((SELECT current_setting('app.scope', true) = 'public') AND owns_public_chatbot(id));

-- 0012 as first shipped lacked the policy by which a key's check reads its chatbot's slug: every
-- key of such a database was refused.
DROP POLICY IF EXISTS chatbots_api_key_read ON chatbots;
CREATE POLICY chatbots_api_key_read ON chatbots FOR SELECT USING ((SELECT current_setting('app.scope', true) = 'api-key'));
