-- A chatbot made private is closed to its visitors at once (§7): the replies running for them end
-- as a stop ends them, on whichever instance runs them. The instance that made the change ends
-- its own (chatbots.service.ts onPrivate); the others learn of the rest from reply_stops, which
-- every instance polls (migrations/0023). Visitors' conversations are the owner's rows with a
-- visitor id `v_…` (public/visitor-tokens.ts); an API key's end users (`k:…`) and the owner's own
-- conversations go on, as a private chatbot still answers them.
CREATE FUNCTION chatbot_closed_stops_visitor_replies() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO reply_stops (reply_id)
    SELECT c.busy_reply_id FROM conversations c
     WHERE c.chatbot_id = NEW.id AND c.busy_reply_id IS NOT NULL AND c.visitor_id LIKE 'v\_%'
  ON CONFLICT DO NOTHING;
  RETURN NULL;
END
$$;

-- Only a change from public to private: every other update of a chatbot pays for the WHEN test alone.
CREATE TRIGGER chatbots_closed_stop_visitor_replies AFTER UPDATE OF is_public ON chatbots
  FOR EACH ROW WHEN (OLD.is_public AND NOT NEW.is_public) EXECUTE FUNCTION chatbot_closed_stops_visitor_replies();
