-- A knowledge search looks for a question's terms among one chatbot's chunks. With the chatbot's
-- own index and the full-text index apart, the planner (which learns the chatbot only as the turn's
-- statement runs) read every chunk of the chatbot and tested each against the terms, and ranked
-- every chunk holding any of them: 13,000 chunks, 100 ms of the embedded database's thread at each
-- turn. This index holds, with each chunk's terms, one term naming its chatbot, so the full-text
-- index alone finds the chunks of a chatbot that hold a term. The space in it keeps it apart from
-- every term a text gives (search-text.ts never makes a term with a space); the search tests the
-- chunk's owner as well.
CREATE INDEX knowledge_chunks_chatbot_search_idx ON knowledge_chunks
  USING gin ((search || array_to_tsvector(ARRAY['chatbot ' || chatbot_id::text])));
-- The full-text index on the terms alone has no other reader.
DROP INDEX knowledge_chunks_search_idx;

-- The one knowledge search (src/features/knowledge/knowledge.repo.ts): the best `wanted` chunks of
-- a chatbot for a question's terms, each a quoted single-term tsquery literal, by full-text rank,
-- ties in document order. `chunks` is how many chunks the chatbot has. Only the chunks of the
-- user the statement runs for (app.user_id, as row security reads it) are ever read.
--
-- A term is weighed by how many of the chatbot's chunks hold it, counted from the index up to 1,000.
-- A term in more than half of them tells none apart (BM25's IDF is zero or less there: "shop" in a
-- shop's handbook), and is left out while the question has a rarer one; so is a term no chunk
-- holds. The chunks ranked are those holding the rarest term and the next rarer ones while they
-- bring at most 1,000 chunks in all; they are ranked by every term left in that was counted whole.
-- So a rare word decides, and a search reads at most a few thousand index entries and 1,000 chunks,
-- whatever the size of the knowledge base.
--
-- Why a function that runs as its owner: under row security PostgreSQL may not use an index for an
-- operator that is not leakproof, and full-text match (@@) is not, so a request role's search could
-- only read every chunk of the chatbot and test each. Run as an owner that row security does not
-- hold (a superuser, as on the embedded database and a self-hosted PostgreSQL's postgres, or a
-- BYPASSRLS role), the search reads the index, and the owner test below does what the policy
-- knowledge_chunks_own does. Where row security holds the owner too (a managed PostgreSQL whose
-- tables' owner is no superuser), it searches as before: every chunk of the chatbot, every term
-- alike. The planner, given terms it cannot read before the function runs, costs the index above
-- reading the whole table; sequential scans are discouraged here, inside the function only.
CREATE FUNCTION knowledge_search(chatbot uuid, terms text[], chunks integer, wanted integer)
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
             LIMIT 1000) c
     ORDER BY 3 DESC, c.document_id, c.position
     LIMIT wanted;
END
$$;
-- Only the request role calls it (src/db/row-security.ts grants it).
REVOKE ALL ON FUNCTION knowledge_search(uuid, text[], integer, integer) FROM PUBLIC;
