-- The functions that run as the tables' owner (SECURITY DEFINER) look names up on the owner's
-- search path, captured when they were made (SET search_path FROM CURRENT). PostgreSQL looks for
-- a table in the session's temporary schema before that path unless the path names it, so a
-- request's temporary table named released_slugs stood in for the real one, and a slug another
-- account holds could be taken. pg_temp goes last, as PostgreSQL's guide to writing such
-- functions says. The path is otherwise kept as it was.
DO $$
DECLARE
  path text := current_setting('search_path');
BEGIN
  EXECUTE format('ALTER FUNCTION knowledge_search(uuid, text[], integer, integer) SET search_path = %s, pg_temp', path);
  EXECUTE format('ALTER FUNCTION chatbot_slug_held() SET search_path = %s, pg_temp', path);
  EXECUTE format('ALTER FUNCTION released_slugs_like(text, uuid) SET search_path = %s, pg_temp', path);
  EXECUTE format('ALTER FUNCTION chatbot_slug_turns(text, text) SET search_path = %s, pg_temp', path);
END $$;
