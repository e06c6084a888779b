-- The knowledge search gives each chunk's document title with it, so the model is told which
-- document a passage comes from (src/features/chat/prompt.ts): without it, it could not say where
-- an answer came from, and passages of different documents ran together. Otherwise the search is
-- 0025's, as 0032 left it. A function's result columns cannot be changed in place: it is made
-- again, and the roles that could call it (the request role, src/db/row-security.ts) still can, so
-- instances still running the code before this one keep searching while the others start.
CREATE TEMPORARY TABLE knowledge_search_callers ON COMMIT DROP AS
  SELECT r.rolname AS grantee
    FROM pg_proc p, aclexplode(p.proacl) a, pg_roles r
   WHERE p.oid = 'knowledge_search(uuid, text[], integer, integer)'::regprocedure
     AND a.privilege_type = 'EXECUTE' AND a.grantee = r.oid AND a.grantee <> p.proowner;

DROP FUNCTION knowledge_search(uuid, text[], integer, integer);

CREATE FUNCTION knowledge_search(chatbot uuid, terms text[], chunks integer, wanted integer)
RETURNS TABLE (content text, tokens integer, rank real, title text)
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
      SELECT f.content, f.tokens, f.rank, d.title
        FROM (SELECT kc.content, kc.tokens, ts_rank(kc.search, q.q, 1) AS rank, kc.document_id, kc.position
                FROM knowledge_chunks kc, (SELECT array_to_string(terms, ' | ')::tsquery AS q) q
               WHERE kc.chatbot_id = chatbot AND kc.user_id = owner AND kc.search @@ q.q
               ORDER BY 3 DESC, kc.document_id, kc.position
               LIMIT wanted) f
        JOIN knowledge_documents d ON d.id = f.document_id AND d.user_id = owner
       ORDER BY f.rank DESC, f.document_id, f.position;
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
    ),
    found AS (
      SELECT c.content, c.tokens, ts_rank(c.search, c.ranked_by, 1) AS rank, c.document_id, c.position
        FROM (SELECT kc.content, kc.tokens, kc.search, kc.document_id, kc.position, asked.ranked_by
                FROM knowledge_chunks kc, asked
               WHERE (kc.search || array_to_tsvector(ARRAY['chatbot ' || kc.chatbot_id::text])) @@ (bot && asked.found_by)
                 AND kc.user_id = owner
               LIMIT 1000) c
       ORDER BY 3 DESC, c.document_id, c.position
       LIMIT wanted
    )
    SELECT f.content, f.tokens, f.rank, d.title
      FROM found f JOIN knowledge_documents d ON d.id = f.document_id AND d.user_id = owner
     ORDER BY f.rank DESC, f.document_id, f.position;
END
$$;
-- Only the request role calls it (src/db/row-security.ts grants it).
REVOKE ALL ON FUNCTION knowledge_search(uuid, text[], integer, integer) FROM PUBLIC;

DO $$
DECLARE
  path text := current_setting('search_path');
  caller text;
BEGIN
  -- pg_temp last, as 0032 set it for every function that runs as the tables' owner.
  EXECUTE format('ALTER FUNCTION knowledge_search(uuid, text[], integer, integer) SET search_path = %s, pg_temp', path);
  FOR caller IN SELECT grantee FROM knowledge_search_callers LOOP
    EXECUTE format('GRANT EXECUTE ON FUNCTION knowledge_search(uuid, text[], integer, integer) TO %I', caller);
  END LOOP;
END $$;
