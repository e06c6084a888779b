-- A chatbot's conversations by activity are read two ways: the owner's inbox (visitors' only) and
-- the owner's own list with ?chatbot_id= (the owner's own only). One index held both kinds, so
-- each read walked past the other: 40,000 own conversations on a chatbot made an inbox of no
-- visitor take 45 ms, and the own list of a chatbot with few of the owner's 60,000 took 87 ms.
-- Two partial indexes instead, each row in exactly one: a turn writes as many index entries as
-- before.
CREATE INDEX conversations_chatbot_visits_idx ON conversations (chatbot_id, updated_at DESC, id DESC) WHERE visitor_id IS NOT NULL;
CREATE INDEX conversations_chatbot_own_idx ON conversations (chatbot_id, updated_at DESC, id DESC) WHERE visitor_id IS NULL;
DROP INDEX conversations_chatbot_activity_idx;
