-- A refresh token presented again within the reuse grace is answered with its successor, the
-- token that replaced it (§12), rather than a new one. The successor is kept here sealed with a
-- key derived from the rotated token itself (src/features/auth/refresh-successor.ts): only the
-- holder of that token can open it; the database alone cannot.
ALTER TABLE refresh_tokens ADD COLUMN successor_sealed text;
