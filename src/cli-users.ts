// `parley users promote|demote|deactivate|activate <username>`: account administration from
// the shell. With the embedded database, stop the server first (one process per PGlite folder).
import { parseArgs } from 'node:util';
import type { SqlRunner } from './db/client.js';
import type { Revocation } from './features/auth/revocations.js';

export const USERS_USAGE = 'parley users promote|demote|deactivate|activate <username> [--issuer <name>]';

const CHANGES = {
  promote: { set: "role = 'admin'", done: 'is now an admin' },
  demote: { set: "role = 'user'", done: 'is now a regular user' },
  deactivate: { set: 'is_active = false', done: 'is deactivated: every request of theirs is refused' },
  activate: { set: 'is_active = true', done: 'is active again' },
} as const;

/**
 * Applies the change and returns the line to print; throws with a one-line reason otherwise.
 * `announce` tells running instances (through Redis), so the change bites there at once too.
 */
export async function runUsersCommand(argv: string[], sql: SqlRunner, announce?: (revocation: Revocation) => Promise<void>): Promise<string> {
  const { values, positionals } = parseArgs({ args: argv, options: { issuer: { type: 'string' } }, allowPositionals: true, strict: true });
  const [action, username, ...rest] = positionals;
  if (!action || !(action in CHANGES) || !username || rest.length > 0) throw new Error(`usage: ${USERS_USAGE}`);
  const change = CHANGES[action as keyof typeof CHANGES];
  // Row security is forced on the owner too: the change runs in the admin scope.
  const rows = await sql.transaction(async (tx) => {
    await tx.query("SELECT set_config('app.scope', 'admin', true)");
    // Local usernames are unique regardless of case; an external user is named with its issuer.
    return values.issuer
      ? tx.query<{ id: string; username: string }>(
          `UPDATE users SET ${change.set}, updated_at = now() WHERE issuer = $1 AND username = $2 RETURNING id, username`,
          [values.issuer, username],
        )
      : tx.query<{ id: string; username: string }>(
          `UPDATE users SET ${change.set}, updated_at = now() WHERE issuer IS NULL AND lower(username) = lower($1) RETURNING id, username`,
          [username],
        );
  });
  if (rows.length === 0) throw new Error(`no ${values.issuer ? `user of issuer "${values.issuer}"` : 'local user'} named "${username}"`);
  for (const row of rows) await announce?.({ user: row.id, deactivated: action === 'deactivate' });
  return rows.map((row) => `${row.username} (${row.id}) ${change.done}`).join('\n');
}
