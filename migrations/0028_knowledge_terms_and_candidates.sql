-- Terms are made without the characters nobody sees inside words (soft hyphens, direction marks,
-- joiners, word joiners, byte order marks) and with Turkish "İ" lowercased to a plain "i"
-- (search-text.ts INVISIBLE, DOTTED_I). Chunks stored before keep terms such as "öff­nungs­zeiten"
-- and "i̇stanbul", which a question now never asks for: their terms are made again the same way.
-- Lexemes that become equal are merged by the cast, positions and all. Row security, forced on the
-- table, holds its owner too where the owner is no superuser (a managed PostgreSQL): there the
-- update would see no chunk at all. It is lifted for this transaction only, which holds the table.
ALTER TABLE knowledge_chunks NO FORCE ROW LEVEL SECURITY;
UPDATE knowledge_chunks
   SET search = (
     SELECT coalesce(string_agg('''' || replace(replace(v.term, '\', '\\'), '''', '''''') || '''' || v.at, ' '), '')::tsvector
       FROM (SELECT regexp_replace(replace(u.lexeme, 'i' || chr(775), 'i'),
                                   '[\u00AD\u061C\u180E\u200C-\u200F\u202A-\u202E\u2060-\u2064\u2066-\u206F\uFEFF]', '', 'g') AS term,
                    CASE WHEN u.positions IS NULL THEN '' ELSE ':' || array_to_string(u.positions, ',') END AS at
               FROM unnest(search) AS u) v
   )
 WHERE search::text ~ ('[\u00AD\u061C\u180E\u200C-\u200F\u202A-\u202E\u2060-\u2064\u2066-\u206F\uFEFF]|i' || chr(775));
ALTER TABLE knowledge_chunks FORCE ROW LEVEL SECURITY;

-- The search ranks at most 1,000 chunks. When the question's rarest term is in more than that
-- (then it is the only term they are found by), which 1,000 was the order the index gave them in,
-- the chunks stored first: a one-line answer added after large documents that use its word
-- throughout was never ranked, though its rank is the best of all. The shortest are ranked now,
-- which ts_rank's length normalisation puts first among chunks sharing one term; that reads every
-- chunk holding the term (not its terms) where it read 1,000. Otherwise as migrations/0025.
CREATE OR REPLACE FUNCTION knowledge_search(chatbot uuid, terms text[], chunks integer, wanted integer)
RETURNS TABLE (content text, tokens integer, rank real)
LANGUAGE plpgsql STABLE SECURITY DEFINER
SET search_path FROM CURRENT
SET enable_seqscan = off
AS $$
DECLARE
  owner uuid := nullif(current_setting('app.user_id', true), '')::uuid;
  bot tsquery := quote_literal('chatbot ' || chatbot::text)::tsquery;
BEGIN
  IF owner IS NULL OR chatbot IS NULL OR terms IS NULL THEN
    RETURN;
  END IF;
  IF row_security_active('knowledge_chunks') THEN
    RETURN QUERY
      SELECT kc.content, kc.tokens, ts_rank(kc.search, q.q, 1)
        FROM knowledge_chunks kc, (SELECT array_to_string(terms, ' | ')::tsquery AS q) q
       WHERE kc.chatbot_id = chatbot AND kc.user_id = owner AND kc.search @@ q.q
       ORDER BY 3 DESC, kc.document_id, kc.position
       LIMIT wanted;
    RETURN;
  END IF;
  RETURN QUERY
    WITH held AS MATERIALIZED (
      SELECT t.term, (SELECT count(*) FROM (SELECT 1 FROM knowledge_chunks kc
                       WHERE (kc.search || array_to_tsvector(ARRAY['chatbot ' || kc.chatbot_id::text])) @@ (bot && t.term::tsquery)
                         AND kc.user_id = owner
                       LIMIT 1000) m) AS held
        FROM unnest(terms) AS t(term)
    ),
    ranked AS (
      SELECT h.term, h.held, row_number() OVER rarer AS rarest, sum(h.held) OVER rarer AS brought
        FROM held h WHERE h.held > 0
      WINDOW rarer AS (ORDER BY h.held, h.term)
    ),
    asked AS (
      SELECT array_to_string(array_agg(r.term) FILTER (WHERE r.rarest = 1 OR (r.held * 2 <= chunks AND r.brought <= 1000)), ' | ')::tsquery AS found_by,
             array_to_string(array_agg(r.term) FILTER (WHERE r.rarest = 1 OR (r.held * 2 <= chunks AND r.held < 1000)), ' | ')::tsquery AS ranked_by
        FROM ranked r
    )
    SELECT c.content, c.tokens, ts_rank(c.search, c.ranked_by, 1)
      FROM (SELECT kc.content, kc.tokens, kc.search, kc.document_id, kc.position, asked.ranked_by
              FROM knowledge_chunks kc, asked
             WHERE (kc.search || array_to_tsvector(ARRAY['chatbot ' || kc.chatbot_id::text])) @@ (bot && asked.found_by)
               AND kc.user_id = owner
             ORDER BY kc.tokens, kc.document_id, kc.position
             LIMIT 1000) c
     ORDER BY 3 DESC, c.document_id, c.position
     LIMIT wanted;
END
$$;
