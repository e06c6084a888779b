// `parley users promote|demote|deactivate|activate <username>`: account administration from
// the shell. With the embedded database, stop the server first (one process per PGlite folder).
import { parseArgs } from 'node:util';
import { USAGE } from './cli-usage.js';
import type { SqlRunner } from './db/client.js';
import type { Revocation } from './features/auth/revocations.js';
import { shownOnOneLine } from './lib/one-line.js';

export const USERS_USAGE = USAGE.users;

const CHANGES = {
  promote: { set: "role = 'admin'", done: 'is now an admin' },
  demote: { set: "role = 'user'", done: 'is now a regular user' },
  deactivate: { set: 'is_active = false', done: 'is deactivated: every request of theirs is refused' },
  activate: { set: 'is_active = true', done: 'is active again' },
} as const;

/** Several users of one issuer named alike: nothing is changed, and the operator picks one by its external id. */
class AmbiguousName extends Error {}

/**
 * Applies the change and returns the line to print; throws with a one-line reason otherwise.
 * `announce` tells running instances (through Redis), so the change bites there at once too.
 */
/** The command line, checked before the database is opened (or created, in a new DATA_DIR). */
export function parseUsersArguments(argv: string[]) {
  let parsed;
  try {
    parsed = parseArgs({ args: argv, options: { issuer: { type: 'string' }, 'external-id': { type: 'string' } }, allowPositionals: true, strict: true });
  } catch (error) {
    throw new Error(`${(error as Error).message.replace(/\. To specify a positional argument.*$/s, '')}\nusage: ${USERS_USAGE}`);
  }
  const { values, positionals } = parsed;
  const [action, username, ...rest] = positionals;
  if (!action || !(action in CHANGES) || !username || rest.length > 0) throw new Error(`usage: ${USERS_USAGE}`);
  const externalId = values['external-id'];
  if (externalId !== undefined && values.issuer === undefined) throw new Error('--external-id names a user of an issuer: give --issuer <name> too');
  return { action: action as keyof typeof CHANGES, username, issuer: values.issuer, externalId };
}

export async function runUsersCommand(argv: string[], sql: SqlRunner, announce?: (revocation: Revocation) => Promise<void>): Promise<string> {
  const { action, username, issuer, externalId } = parseUsersArguments(argv);
  const values = { issuer };
  const change = CHANGES[action];
  // Row security is forced on the owner too: the change runs in the admin scope.
  const rows = await sql.transaction(async (tx) => {
    await tx.query("SELECT set_config('app.scope', 'admin', true)");
    // Local usernames are unique regardless of case; an external user is named with its issuer.
    if (!values.issuer) {
      return tx.query<{ id: string; username: string }>(
        `UPDATE users SET ${change.set}, updated_at = now() WHERE issuer IS NULL AND lower(username) = lower($1) RETURNING id, username`,
        [username],
      );
    }
    // External usernames are whatever the issuer's tokens say, and not unique: anyone who may
    // choose their name there can take another user's. One user is changed, or none.
    const changed = await tx.query<{ id: string; username: string; external_id: string }>(
      `UPDATE users SET ${change.set}, updated_at = now() WHERE issuer = $1 AND username = $2 AND ($3::text IS NULL OR external_id = $3) RETURNING id, username, external_id`,
      [values.issuer, username, externalId ?? null],
    );
    if (changed.length > 1) {
      const ids = changed.map((row) => shownOnOneLine(row.external_id)).sort();
      throw new AmbiguousName(
        `${changed.length} users of issuer "${values.issuer}" are named "${username}" (external ids: ${ids.join(', ')}); nothing was changed: add --external-id <id> to choose one`,
      );
    }
    return changed;
  });
  if (rows.length === 0) {
    const who = values.issuer ? `user of issuer "${values.issuer}"` : 'local user';
    throw new Error(`no ${who} named "${username}"${externalId !== undefined ? ` with external id "${externalId}"` : ''}`);
  }
  for (const row of rows) await announce?.({ user: row.id, deactivated: action === 'deactivate' });
  return rows.map((row) => `${shownOnOneLine(row.username)} (${row.id}) ${change.done}`).join('\n');
}
