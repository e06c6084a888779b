-- Public chatbots (§7): anyone may read a public chatbot's page without an account. Those reads
-- name no user, so they run in the `public` scope, which sees exactly what such a page needs:
--   chatbots  the public ones (the page shows only name, description, greeting and slug)
--   users     the accounts that own a public chatbot (the page shows only the username)
-- and changes nothing. A chatbot made private, or deleted, leaves the scope with that change.

CREATE POLICY chatbots_public_read ON chatbots FOR SELECT
  USING ((SELECT current_setting('app.scope', true) = 'public') AND is_public);

-- The subquery states the rule itself (it would also follow from chatbots' policies beneath it, in
-- this scope), so the policy reads the same in isolation. Correlated on user_id, it is one probe of
-- chatbots_user_idx per account read.
CREATE POLICY users_public_owner_read ON users FOR SELECT
  USING ((SELECT current_setting('app.scope', true) = 'public') AND EXISTS (SELECT 1 FROM chatbots c WHERE c.user_id = users.id AND c.is_public));
