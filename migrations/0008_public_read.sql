-- Public chatbots (§7): anyone may read a public chatbot's page without an account. Those reads
-- name no user, so they run in the `public` scope, which sees exactly what such a page needs:
--   chatbots  the public ones (the page shows only name, description, greeting and slug)
--   users     the accounts that own a public chatbot (the page shows only the username)
-- and changes nothing. A chatbot made private, or deleted, leaves the scope with that change.

CREATE POLICY chatbots_public_read ON chatbots FOR SELECT
  USING ((SELECT current_setting('app.scope', true) = 'public') AND is_public);

-- The function states the rule itself (it would also follow from chatbots' policies beneath it, in
-- this scope), so the policy reads the same in isolation. A PL/pgSQL function rather than a
-- subquery, for the reason 0007 gives: every statement on users would plan the subquery.
CREATE FUNCTION owns_public_chatbot(owner uuid) RETURNS boolean LANGUAGE plpgsql STABLE AS $$
BEGIN
  RETURN EXISTS (SELECT 1 FROM chatbots WHERE user_id = owner AND is_public);
END
$$;
CREATE POLICY users_public_owner_read ON users FOR SELECT
  USING ((SELECT current_setting('app.scope', true) = 'public') AND owns_public_chatbot(id));
