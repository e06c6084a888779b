-- A user message keeps the `context` it was sent with (§6: extra knowledge for that turn only), so
-- a regenerate answers the same message with the same context. Null for messages sent without
-- one, for replies, and for every message stored before. Adding a column without a default
-- rewrites nothing.
ALTER TABLE messages ADD COLUMN context text;
