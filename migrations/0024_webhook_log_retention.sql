-- The delivery log keeps what it shows (§9.4): each delivery's latest 50 attempts (ATTEMPTS_SHOWN in
-- src/features/webhooks/webhooks.schemas.ts), and events settled (delivered or failed) until
-- WEBHOOK_LOG_RETENTION after they happened. Before, every attempt and every event was kept for
-- good, and each redelivery adds an attempt, as often as an owner asks.

-- The worker drops the attempt that falls out of a delivery's latest 50 as it starts the next one,
-- and its sweep deletes settled events past the retention, their attempts with them (ON DELETE
-- CASCADE). A pending event, one being sent or due, is never deleted.
CREATE POLICY webhook_attempts_worker_drop ON webhook_attempts FOR DELETE USING ((SELECT current_setting('app.scope', true) = 'webhooks'));
CREATE POLICY webhook_deliveries_worker_drop ON webhook_deliveries FOR DELETE
  USING ((SELECT current_setting('app.scope', true) = 'webhooks') AND status <> 'pending');

-- The sweep reaches the oldest settled events through this, instead of reading every event.
CREATE INDEX webhook_deliveries_settled_idx ON webhook_deliveries (created_at) WHERE status <> 'pending';

-- What was kept before beyond each delivery's latest 50. Row security is forced on these tables
-- even for the owner; the webhooks scope may now delete attempts.
SELECT set_config('app.scope', 'webhooks', true);
DELETE FROM webhook_attempts a USING webhook_deliveries d WHERE a.delivery_id = d.id AND a.attempt <= d.attempts - 50;
