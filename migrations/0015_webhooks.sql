-- Webhooks (§9.4, §12): a chatbot's `webhook_url` receives `conversation.completed`, signed as
-- Standard Webhooks 1.0 says. The event row is written by the statement that completes the
-- conversation (src/features/chat/turns.sql.ts), so an event exists exactly when the completion
-- was committed; the worker (src/features/webhooks/webhook-worker.ts) delivers it later, from
-- whichever instance claims it first.

-- The secret is kept as shown (`whsec_` + base64 of 32 bytes): signing needs the key itself, so
-- it cannot be stored hashed. After a rotation the previous one still signs, next to the new one,
-- until `webhook_previous_secret_until`, so a receiver can switch without refusing deliveries.
-- `webhook_enabled` goes false when a receiver answers 410 Gone; setting the url again turns it on.
ALTER TABLE chatbots ADD COLUMN webhook_secret text;
ALTER TABLE chatbots ADD COLUMN webhook_previous_secret text;
ALTER TABLE chatbots ADD COLUMN webhook_previous_secret_until timestamptz;
ALTER TABLE chatbots ADD COLUMN webhook_enabled boolean NOT NULL DEFAULT true;

-- One row per event. `id` is the event's `webhook-id` on every attempt. The conversation is named
-- without a foreign key: the event happened, and deleting the conversation later does not undo it.
--   status        pending (an attempt is due at next_attempt_at, or one is running under a lease),
--                 delivered (a 2xx), failed (retries spent, or the webhook was turned off)
--   attempts      attempts started so far; numbers them in webhook_attempts
--   retry_step    failures since the event was queued or last redelivered: the place in the schedule
--   lease_until   an instance is delivering it until then; past it, the attempt is taken as lost
--                 (the instance stopped) and another instance retries
--   lease_token   names the claim, so a late result from a lost claim changes nothing
CREATE TABLE webhook_deliveries (
  id uuid PRIMARY KEY,
  user_id uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  chatbot_id uuid NOT NULL REFERENCES chatbots (id) ON DELETE CASCADE,
  conversation_id uuid NOT NULL,
  type text NOT NULL,
  payload jsonb NOT NULL,
  status text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'delivered', 'failed')),
  attempts integer NOT NULL DEFAULT 0,
  retry_step integer NOT NULL DEFAULT 0,
  next_attempt_at timestamptz DEFAULT now(),
  lease_until timestamptz,
  lease_token uuid,
  last_status_code integer,
  last_error text,
  delivered_at timestamptz,
  created_at timestamptz NOT NULL DEFAULT now()
);
-- What the worker polls: only pending rows, in the order they fall due.
CREATE INDEX webhook_deliveries_due_idx ON webhook_deliveries (next_attempt_at) WHERE status = 'pending';
-- The delivery log, one chatbot's newest first.
CREATE INDEX webhook_deliveries_log_idx ON webhook_deliveries (chatbot_id, created_at, id);

-- One row per attempt, written when it starts and completed with its outcome. An attempt left
-- without outcome was cut off (its instance stopped); the next claim says so in `error`.
CREATE TABLE webhook_attempts (
  delivery_id uuid NOT NULL REFERENCES webhook_deliveries (id) ON DELETE CASCADE,
  attempt integer NOT NULL,
  user_id uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  started_at timestamptz NOT NULL,
  status_code integer,
  error text,
  latency_ms integer,
  PRIMARY KEY (delivery_id, attempt)
);

-- Row security as for every tenant table (0004). The worker serves every tenant, so it works in
-- the `webhooks` scope: it reads and updates deliveries, writes attempts, reads chatbots' webhook
-- settings and turns a webhook off after a 410. It never adds or deletes deliveries.
ALTER TABLE webhook_deliveries ENABLE ROW LEVEL SECURITY;
ALTER TABLE webhook_deliveries FORCE ROW LEVEL SECURITY;
CREATE POLICY webhook_deliveries_own ON webhook_deliveries
  USING (user_id = (SELECT nullif(current_setting('app.user_id', true), '')::uuid))
  WITH CHECK (user_id = (SELECT nullif(current_setting('app.user_id', true), '')::uuid));
CREATE POLICY webhook_deliveries_worker_read ON webhook_deliveries FOR SELECT USING ((SELECT current_setting('app.scope', true) = 'webhooks'));
CREATE POLICY webhook_deliveries_worker_change ON webhook_deliveries FOR UPDATE
  USING ((SELECT current_setting('app.scope', true) = 'webhooks'))
  WITH CHECK ((SELECT current_setting('app.scope', true) = 'webhooks'));

ALTER TABLE webhook_attempts ENABLE ROW LEVEL SECURITY;
ALTER TABLE webhook_attempts FORCE ROW LEVEL SECURITY;
CREATE POLICY webhook_attempts_own ON webhook_attempts
  USING (user_id = (SELECT nullif(current_setting('app.user_id', true), '')::uuid))
  WITH CHECK (user_id = (SELECT nullif(current_setting('app.user_id', true), '')::uuid));
CREATE POLICY webhook_attempts_worker_read ON webhook_attempts FOR SELECT USING ((SELECT current_setting('app.scope', true) = 'webhooks'));
CREATE POLICY webhook_attempts_worker_add ON webhook_attempts FOR INSERT WITH CHECK ((SELECT current_setting('app.scope', true) = 'webhooks'));
CREATE POLICY webhook_attempts_worker_change ON webhook_attempts FOR UPDATE
  USING ((SELECT current_setting('app.scope', true) = 'webhooks'))
  WITH CHECK ((SELECT current_setting('app.scope', true) = 'webhooks'));

CREATE POLICY chatbots_webhooks_read ON chatbots FOR SELECT USING ((SELECT current_setting('app.scope', true) = 'webhooks'));
CREATE POLICY chatbots_webhooks_change ON chatbots FOR UPDATE
  USING ((SELECT current_setting('app.scope', true) = 'webhooks'))
  WITH CHECK ((SELECT current_setting('app.scope', true) = 'webhooks'));
