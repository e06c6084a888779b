-- Collecting data in conversation (§9). A chatbot's `collect` (chatbots.collect, since 0002)
-- declares the fields to gather; a conversation's `data` holds the values gathered so far, each
-- stored only once it passed its field's validation.
ALTER TABLE conversations ADD COLUMN data jsonb NOT NULL DEFAULT '{}'::jsonb;
-- Bulk exports walk one chatbot's conversations in (created_at, id) order, a batch at a time.
CREATE INDEX conversations_export_idx ON conversations (chatbot_id, created_at, id);
