-- Every turn updates its conversation twice: the lock at its start, the reply at its end. The lock
-- changes no indexed column, so PostgreSQL can rewrite the row in place (a HOT update: no new entry
-- in each of the table's indexes, less WAL, less to vacuum) when its page has room. Pages filled to
-- the brim leave none; this keeps 15% of each new page for the rows' next versions.
ALTER TABLE conversations SET (fillfactor = 85);
