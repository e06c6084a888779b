-- A conversation deleted while a reply runs in it ends that reply on whichever instance runs it,
-- as a stop does (§6): nobody can read the reply any more, so its model call is not paid for to
-- the end. A stop is a mark on the conversation's row (stop_reply_id, polled by every instance),
-- which a deleted row cannot hold: the deletion leaves the reply's id here instead, whether the
-- conversation was deleted itself or with its chatbot. Instances poll this table with the stop
-- requests (turns.repo.ts) and delete what is older than any lease (cut-turns sweep).
-- The table holds no one's data (a random reply id and a time), so, as `instances`, it is not a
-- tenant table and has no row security: the deleting role writes it from the trigger.
CREATE TABLE reply_stops (
  reply_id uuid PRIMARY KEY,
  at timestamptz NOT NULL DEFAULT now()
);

CREATE FUNCTION conversation_deleted_stops_reply() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO reply_stops (reply_id) VALUES (OLD.busy_reply_id) ON CONFLICT DO NOTHING;
  RETURN NULL;
END
$$;

-- Only a conversation a reply holds: every other deletion pays for the WHEN test alone.
CREATE TRIGGER conversations_deleted_stop_reply AFTER DELETE ON conversations
  FOR EACH ROW WHEN (OLD.busy_reply_id IS NOT NULL) EXECUTE FUNCTION conversation_deleted_stops_reply();
