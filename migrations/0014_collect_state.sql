-- Where the collector stands in a conversation (§9): the field it asked for last, a list item
-- half entered, the conversation's language and why values were refused. Kept apart from `data`,
-- which holds only accepted values, so exports and webhooks never see the collector's working.
ALTER TABLE conversations ADD COLUMN collect_state jsonb;
