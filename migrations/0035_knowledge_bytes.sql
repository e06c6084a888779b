-- An account stores at most KNOWLEDGE_LIMIT_PER_ACCOUNT bytes of knowledge: the UTF-8 bytes of its
-- documents' content over all its chatbots. Each chatbot keeps the bytes of its documents as it
-- keeps their chunks' count, so an upload sums its account's chatbots (a few rows, read by
-- chatbots_user_idx) rather than every document, and a chatbot's deletion frees its share with the
-- row. Filled for the documents stored before; octet_length reads a stored text's size without
-- reading the text. Row security is lifted for this transaction only, as in 0028: where it holds
-- the owner (a managed PostgreSQL whose tables' owner is no superuser) the update would see nothing.
ALTER TABLE chatbots ADD COLUMN knowledge_bytes bigint NOT NULL DEFAULT 0;
ALTER TABLE chatbots NO FORCE ROW LEVEL SECURITY;
ALTER TABLE knowledge_documents NO FORCE ROW LEVEL SECURITY;
UPDATE chatbots
   SET knowledge_bytes = d.bytes
  FROM (SELECT chatbot_id, sum(octet_length(content)) AS bytes FROM knowledge_documents GROUP BY chatbot_id) d
 WHERE d.chatbot_id = chatbots.id;
ALTER TABLE knowledge_documents FORCE ROW LEVEL SECURITY;
ALTER TABLE chatbots FORCE ROW LEVEL SECURITY;
