-- A verified visitor's read policies (0011) ask first whether a row is another tenant's, and read
-- the caller's id for that in place: PostgreSQL joins permissive policies in an order of its own,
-- and tried this test before the own-rows policy, so every row a scan passed looked the setting up
-- and parsed it again. A turn's history read passes every message of its conversation (PGlite:
-- 0.1 ms a turn with 200 messages). In an init plan the setting is read once per statement.
ALTER POLICY conversations_verified_read ON conversations
  USING (user_id <> (SELECT nullif(current_setting('app.user_id', true), '')::uuid) AND visitor_id IS NOT NULL AND is_my_visit(visitor_id));
ALTER POLICY messages_verified_read ON messages
  USING (user_id <> (SELECT nullif(current_setting('app.user_id', true), '')::uuid) AND is_my_visit_conversation(conversation_id));
