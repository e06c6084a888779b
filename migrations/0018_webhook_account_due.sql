-- Deliveries are claimed a few per account at a time (webhook-worker.ts), so one account's backlog
-- for a receiver that does not answer cannot hold every other account's webhooks back. The claim
-- walks the accounts that have pending deliveries through this index (one step per account) and
-- takes each one's oldest due ones from it, instead of ranking every due delivery at every poll.
CREATE INDEX webhook_deliveries_account_due_idx ON webhook_deliveries (user_id, next_attempt_at) WHERE status = 'pending';
