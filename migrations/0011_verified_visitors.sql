-- Verified visitors (§7): a host site passes its signed-in user's token when a visit starts, and
-- that user's visits of a public chatbot are one visitor bound to the user. The visitor and the
-- conversations stay in the chatbot owner's tenant (turns, usage, budget and the inbox work as for
-- any visitor); the user reads them through their own API, which these policies allow and nothing
-- more: the visitor rows bound to them, those visitors' conversations, and their messages.
ALTER TABLE visitors ADD COLUMN verified_user_id uuid REFERENCES users (id) ON DELETE CASCADE;
CREATE UNIQUE INDEX visitors_verified_key ON visitors (chatbot_id, verified_user_id) WHERE verified_user_id IS NOT NULL;
CREATE INDEX visitors_verified_user_idx ON visitors (verified_user_id) WHERE verified_user_id IS NOT NULL;

CREATE POLICY visitors_verified_read ON visitors FOR SELECT
  USING (verified_user_id = (SELECT nullif(current_setting('app.user_id', true), '')::uuid));

-- Functions, not subqueries, for the reason 0007 gives: a policy's subquery is planned into every
-- statement on its table, the turn's included. Each policy first asks whether the row is another
-- tenant's: PostgreSQL does not promise to try the own-rows policy first, and without that test
-- the turn's history read called the function once per message (PGlite turns −44%). That test reads
-- the setting in place rather than in a subquery, which would add a plan to every such statement.
CREATE FUNCTION is_my_visit(visitor text) RETURNS boolean LANGUAGE plpgsql STABLE AS $$
BEGIN
  RETURN EXISTS (SELECT 1 FROM visitors
                  WHERE id = visitor AND verified_user_id = nullif(current_setting('app.user_id', true), '')::uuid);
END
$$;
CREATE FUNCTION is_my_visit_conversation(conversation uuid) RETURNS boolean LANGUAGE plpgsql STABLE AS $$
BEGIN
  RETURN EXISTS (SELECT 1 FROM conversations c JOIN visitors v ON v.id = c.visitor_id
                  WHERE c.id = conversation AND v.verified_user_id = nullif(current_setting('app.user_id', true), '')::uuid);
END
$$;
CREATE POLICY conversations_verified_read ON conversations FOR SELECT
  USING (user_id <> nullif(current_setting('app.user_id', true), '')::uuid AND visitor_id IS NOT NULL AND is_my_visit(visitor_id));
CREATE POLICY messages_verified_read ON messages FOR SELECT
  USING (user_id <> nullif(current_setting('app.user_id', true), '')::uuid AND is_my_visit_conversation(conversation_id));
