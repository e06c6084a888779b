-- A stop request for the reply being generated, so `POST …/stop` reaches it on whichever
-- instance runs it: that instance polls for requests on its own running replies.
ALTER TABLE conversations ADD COLUMN stop_reply_id uuid;
