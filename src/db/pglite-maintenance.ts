// VACUUM on the embedded database while it serves. PGlite has no autovacuum, so the row versions a
// turn's updates leave behind were never reclaimed: a conversation's row is updated twice a turn,
// once with a new `updated_at` (an indexed column, so every index of the table gets a new entry),
// and its table and indexes grew by ~240 bytes a turn for good (docs/decisions.md). VACUUM cannot
// run inside a transaction and needs the tables' owner, while PGlite's one session works as the
// request role. So a maintenance statement holds both of PGlite's locks (nothing else runs in
// between), steps the session back to its own role, runs, and takes the request role again. A
// session that could not take it back would answer every later request without row security: the
// database is stopped instead (the server exits for its supervisor to start it again).
import { parse, protocol, type PGlite } from '@electric-sql/pglite';

export class RoleNotRestoredError extends Error {
  override name = 'RoleNotRestoredError';
}

/**
 * Returns `maintain(statement)`, which runs one statement as the session's own (owner) role,
 * outside any transaction, with no request's statement before the request role is back.
 * `stop` makes every later use of the database fail.
 */
export function createMaintenance(pg: PGlite, role: string, stop: (error: Error) => void): (statement: string) => Promise<void> {
  const run = (text: string) => pg.execProtocolStream(protocol.serialize.query(text), { syncToFs: false });

  async function takeRoleBack() {
    try {
      await run(`SET ROLE ${role}`);
      const [result] = parse.parseResults(await run('SELECT current_user AS name'), pg.parsers);
      const now = (result?.rows[0] as { name?: string } | undefined)?.name;
      if (now !== role) throw new RoleNotRestoredError(`the session is ${now ?? 'unknown'}`);
    } catch (error) {
      const stopped = new RoleNotRestoredError(`the embedded database could not take the request role ${role} back after maintenance (${(error as Error).message})`, { cause: error });
      stop(stopped);
      throw stopped;
    }
  }

  return (statement) =>
    // The transaction lock first (a transaction holds the session), then the query lock, as query() takes them.
    pg._runExclusiveTransaction(() =>
      pg._runExclusiveQuery(async () => {
        await run('RESET ROLE');
        try {
          await run(statement);
        } finally {
          await takeRoleBack();
          await pg.syncToFs();
        }
      }),
    );
}
