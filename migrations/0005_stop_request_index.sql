-- Every instance polls for stop requests twice a second; almost no conversation has one, so a
-- partial index keeps each poll a lookup in a nearly empty index instead of a scan of the table.
CREATE INDEX conversations_stop_requested_idx ON conversations (stop_reply_id) WHERE stop_reply_id IS NOT NULL;
