-- Deactivation stops everything of a user at once (§3), their webhooks too: the worker reads, in
-- its `webhooks` scope, whether each due delivery's owner is still active, and fails the delivery
-- of one who is not rather than send it (webhooks.repo.ts). Reading only, as the api-key scope does.
CREATE POLICY users_webhooks_read ON users FOR SELECT USING ((SELECT current_setting('app.scope', true) = 'webhooks'));
