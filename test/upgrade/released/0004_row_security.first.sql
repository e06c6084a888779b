-- Row Level Security (§10). The application works as a role that neither owns these tables
-- nor bypasses row security (set up by src/db/row-security.ts), and FORCE makes the owner
-- subject too. Every row is visible only to the transaction whose app.user_id names its user;
-- with the setting unset, every tenant table is empty.
--
-- Paths that cannot name one user set app.scope instead, and each scope below gets exactly
-- the rows and commands it needs:
--   auth       sign-in, registration, refresh, external user sync: users, sessions, tokens
--   admin      admin routes and the users CLI: read everything, change users
--   slugs      choosing a free chatbot slug: read chatbots (slugs are unique server-wide)
--   stop-poll  the cross-instance stop poller: read conversations
--   sweep      the idempotency sweep: delete expired idempotency keys

-- Inlined into each policy, so the comparison stays an index condition.
CREATE FUNCTION parley_user_id() RETURNS uuid LANGUAGE sql STABLE
  AS $$ SELECT nullif(current_setting('app.user_id', true), '')::uuid $$;
CREATE FUNCTION parley_scope() RETURNS text LANGUAGE sql STABLE
  AS $$ SELECT coalesce(current_setting('app.scope', true), '') $$;

ALTER TABLE users ENABLE ROW LEVEL SECURITY;
ALTER TABLE users FORCE ROW LEVEL SECURITY;
CREATE POLICY users_self_read ON users FOR SELECT USING (id = parley_user_id());
CREATE POLICY users_self_change ON users FOR UPDATE USING (id = parley_user_id()) WITH CHECK (id = parley_user_id());
CREATE POLICY users_auth_read ON users FOR SELECT USING (parley_scope() = 'auth');
CREATE POLICY users_auth_add ON users FOR INSERT WITH CHECK (parley_scope() = 'auth');
CREATE POLICY users_auth_change ON users FOR UPDATE USING (parley_scope() = 'auth') WITH CHECK (parley_scope() = 'auth');
CREATE POLICY users_admin_read ON users FOR SELECT USING (parley_scope() = 'admin');
CREATE POLICY users_admin_change ON users FOR UPDATE USING (parley_scope() = 'admin') WITH CHECK (parley_scope() = 'admin');

ALTER TABLE sessions ENABLE ROW LEVEL SECURITY;
ALTER TABLE sessions FORCE ROW LEVEL SECURITY;
CREATE POLICY sessions_own ON sessions USING (user_id = parley_user_id()) WITH CHECK (user_id = parley_user_id());
CREATE POLICY sessions_auth ON sessions USING (parley_scope() = 'auth') WITH CHECK (parley_scope() = 'auth');

-- A refresh token is visible exactly when its session is (the subquery obeys sessions' policies).
ALTER TABLE refresh_tokens ENABLE ROW LEVEL SECURITY;
ALTER TABLE refresh_tokens FORCE ROW LEVEL SECURITY;
CREATE POLICY refresh_tokens_via_session ON refresh_tokens
  USING (session_id IN (SELECT id FROM sessions)) WITH CHECK (session_id IN (SELECT id FROM sessions));

ALTER TABLE chatbots ENABLE ROW LEVEL SECURITY;
ALTER TABLE chatbots FORCE ROW LEVEL SECURITY;
CREATE POLICY chatbots_own ON chatbots USING (user_id = parley_user_id()) WITH CHECK (user_id = parley_user_id());
CREATE POLICY chatbots_admin_read ON chatbots FOR SELECT USING (parley_scope() = 'admin');
CREATE POLICY chatbots_slugs_read ON chatbots FOR SELECT USING (parley_scope() = 'slugs');

ALTER TABLE knowledge_documents ENABLE ROW LEVEL SECURITY;
ALTER TABLE knowledge_documents FORCE ROW LEVEL SECURITY;
CREATE POLICY knowledge_documents_own ON knowledge_documents USING (user_id = parley_user_id()) WITH CHECK (user_id = parley_user_id());
CREATE POLICY knowledge_documents_admin_read ON knowledge_documents FOR SELECT USING (parley_scope() = 'admin');

ALTER TABLE knowledge_chunks ENABLE ROW LEVEL SECURITY;
ALTER TABLE knowledge_chunks FORCE ROW LEVEL SECURITY;
CREATE POLICY knowledge_chunks_own ON knowledge_chunks USING (user_id = parley_user_id()) WITH CHECK (user_id = parley_user_id());
CREATE POLICY knowledge_chunks_admin_read ON knowledge_chunks FOR SELECT USING (parley_scope() = 'admin');

ALTER TABLE conversations ENABLE ROW LEVEL SECURITY;
ALTER TABLE conversations FORCE ROW LEVEL SECURITY;
CREATE POLICY conversations_own ON conversations USING (user_id = parley_user_id()) WITH CHECK (user_id = parley_user_id());
CREATE POLICY conversations_admin_read ON conversations FOR SELECT USING (parley_scope() = 'admin');
CREATE POLICY conversations_stop_poll_read ON conversations FOR SELECT USING (parley_scope() = 'stop-poll');

ALTER TABLE messages ENABLE ROW LEVEL SECURITY;
ALTER TABLE messages FORCE ROW LEVEL SECURITY;
CREATE POLICY messages_own ON messages USING (user_id = parley_user_id()) WITH CHECK (user_id = parley_user_id());
CREATE POLICY messages_admin_read ON messages FOR SELECT USING (parley_scope() = 'admin');

-- DELETE ... WHERE reads the rows first, so the sweep needs the matching read policy too.
ALTER TABLE idempotency_keys ENABLE ROW LEVEL SECURITY;
ALTER TABLE idempotency_keys FORCE ROW LEVEL SECURITY;
CREATE POLICY idempotency_keys_own ON idempotency_keys USING (user_id = parley_user_id()) WITH CHECK (user_id = parley_user_id());
CREATE POLICY idempotency_keys_sweep_read ON idempotency_keys FOR SELECT USING (parley_scope() = 'sweep' AND expires_at < now());
CREATE POLICY idempotency_keys_sweep ON idempotency_keys FOR DELETE USING (parley_scope() = 'sweep' AND expires_at < now());
