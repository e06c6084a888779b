-- What a chatbot spent stays spent when the chatbot is deleted: its usage rows were deleted with it
-- (ON DELETE CASCADE), so GET /v1/usage and the admin stats forgot replies the model had been paid
-- for, and an account could wipe its month's usage by deleting a chatbot. The rows now keep the
-- deleted chatbot's id, which names nothing (ids are never reused): they count in an account's
-- totals and no longer as a chatbot of its own. They still go with their account (user_id's key).
-- It also takes a lock out of a turn: a day's first usage row no longer checks its chatbot's row.
ALTER TABLE usage_daily DROP CONSTRAINT usage_daily_chatbot_id_fkey;
