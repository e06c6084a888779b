// ADMIN_USERNAMES makes an admin of the local account with each name whenever it is made, and
// registration is open: a name listed before its account exists goes to whoever registers it
// first. Both `parley serve` (a warning at start) and `parley doctor` say so.
import type { SqlRunner } from '../../db/client.js';

/** The names (lowercased, once each) no local account has yet. */
export async function unclaimedAdminNames(sql: SqlRunner, names: readonly string[]): Promise<string[]> {
  if (names.length === 0) return [];
  const wanted = [...new Set(names.map((name) => name.toLowerCase()))];
  const rows = await sql.transaction(async (tx) => {
    // Row security is forced on users for their owner too: read as the admin routes do.
    await tx.query("SELECT set_config('app.scope', 'admin', true)", []);
    return tx.query<{ name: string }>('SELECT lower(username) AS name FROM users WHERE issuer IS NULL AND lower(username) = ANY($1::text[])', [wanted]);
  });
  const found = new Set(rows.map((row) => row.name));
  return wanted.filter((name) => !found.has(name));
}

export const unclaimedWarning = (missing: readonly string[]) =>
  `ADMIN_USERNAMES names ${missing.join(', ')}, which no account has yet: whoever registers ${missing.length === 1 ? 'that name' : 'one of those names'} first becomes an admin`;

export const UNCLAIMED_FIX = 'register the name yourself now, or leave it out of ADMIN_USERNAMES until you have';
