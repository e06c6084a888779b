-- The hourly session sweep (src/features/auth/session-sweep.ts) deletes refresh tokens past their
-- expiry and sessions idle for a whole token lifetime. Without these it read every row of both
-- tables each hour: on the embedded database, 300,000 tokens held the event loop ~150 ms a
-- statement, and a busy month of refreshes keeps millions. With them it reads only what it deletes.
CREATE INDEX refresh_tokens_expires_at_idx ON refresh_tokens (expires_at);
CREATE INDEX sessions_last_refreshed_at_idx ON sessions (last_refreshed_at);
