-- Each instance on PostgreSQL says it is alive every INSTANCE_HEARTBEAT_MS (features/chat/instances.ts)
-- and names itself on every conversation it holds. A hold whose instance stopped saying so is cut
-- short by the others at once, rather than after its two-minute lease: a killed instance's users
-- get their conversations back within seconds. The table holds no one's data (an instance's random
-- id and a time), so it is not a tenant table and has no row security; no index on busy_instance,
-- which would cost every turn's lock its in-place update (0016).
CREATE TABLE instances (
  id uuid PRIMARY KEY,
  -- Its last heartbeat, and when it counts as gone unless it says it is alive again (the database's clock).
  seen_at timestamptz NOT NULL,
  gone_after timestamptz NOT NULL,
  -- Since when it has said so without a break: a watcher judges only a silence it was there for.
  since timestamptz NOT NULL
);
ALTER TABLE conversations ADD COLUMN busy_instance uuid;
