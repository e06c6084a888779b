-- An external user's username and email follow their issuer's tokens (§3.2), and a token issued
-- before a rename stays valid until it expires (an old tab): used after a newer token, it set the
-- old name back, and names flip-flopped with whichever token was used last. claims_issued_at is
-- the `iat` of the newest token that set or confirmed the stored username and email; a token
-- issued before it changes neither. Null for local users, for external users whose names came
-- only from tokens without `iat`, and for every user stored before. Adding a column without a
-- default rewrites nothing.
ALTER TABLE users ADD COLUMN claims_issued_at timestamptz;
