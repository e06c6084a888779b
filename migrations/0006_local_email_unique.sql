-- One local account per email, regardless of case: login by email reaches one account, so a
-- second account signed up with the same email could never be reached by it. Registration now
-- answers 409 email_taken instead (src/features/auth/auth.service.ts).
--
-- Databases made before this may hold duplicates. The earliest account keeps the email (it is the
-- one login by email already reached); later ones lose it, which takes nothing from them (they were
-- never reachable by email) and they still sign in by username.
-- Row security is forced on users even for the owner; the admin scope may read and change them all.
SELECT set_config('app.scope', 'admin', true);

UPDATE users AS later
   SET email = NULL, updated_at = now()
 WHERE later.issuer IS NULL
   AND later.email IS NOT NULL
   AND EXISTS (
     SELECT 1 FROM users AS earlier
      WHERE earlier.issuer IS NULL
        AND lower(earlier.email) = lower(later.email)
        AND (earlier.created_at, earlier.id) < (later.created_at, later.id)
   );

DROP INDEX users_local_email_idx;
CREATE UNIQUE INDEX users_local_email_key ON users (lower(email)) WHERE issuer IS NULL;
