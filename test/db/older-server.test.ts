// A PostgreSQL older than 14, which §1 does not promise: 13 took every migration without a word,
// and a server then ran on behaviour no test covers. Now migrate and serve refuse it in one line
// before anything is made, as doctor says. Needs such a server: TEST_OLDER_DATABASE_URL
// (.ci/other-postgres.sh starts a PostgreSQL 13 for it).
import postgres from 'postgres';
import { afterAll, describe, expect, it } from 'vitest';
import { cliProcesses } from '../helpers/cli-process.js';
import { freePort } from '../helpers/ports.js';

const url = process.env.TEST_OLDER_DATABASE_URL;
const skipReason = url ? '' : ' (skipped: set TEST_OLDER_DATABASE_URL to a PostgreSQL 13, as .ci/other-postgres.sh does)';

async function tablesIn(target: string): Promise<number> {
  const sql = postgres(target, { max: 1, onnotice: () => {} });
  try {
    const [row] = await sql<{ n: number }[]>`SELECT count(*)::int AS n FROM pg_tables WHERE schemaname NOT IN ('pg_catalog', 'information_schema')`;
    return row!.n;
  } finally {
    await sql.end();
  }
}

describe.runIf(url)(`a PostgreSQL older than 14${skipReason}`, () => {
  const cli = cliProcesses();
  afterAll(() => cli.cleanUp());

  it('migrate and serve refuse it in one line naming the version and what to do, making nothing; doctor says the same', { timeout: 120_000 }, async () => {
    const env = { DATABASE_URL: url!, LOG_LEVEL: 'warn' };
    const sql = postgres(url!, { max: 1, onnotice: () => {} });
    const [server] = await sql<{ version: string }[]>`SELECT current_setting('server_version') AS version`.finally(() => sql.end());
    expect(Number.parseInt(server!.version, 10)).toBeLessThan(14);

    const migrate = await cli.run(['migrate'], env);
    expect(migrate.code, migrate.stderr).toBe(1);
    expect(migrate.stderr.trim().split('\n')).toEqual([
      `parley: the server is PostgreSQL ${server!.version}; Parley needs PostgreSQL 14 or later: upgrade the server, or point DATABASE_URL at a newer one`,
    ]);
    expect(await tablesIn(url!)).toBe(0);

    const serve = await cli.run(['serve'], { ...env, PORT: String(await freePort()) });
    expect(serve.code).toBe(1);
    expect(serve.stderr).toContain(`the server is PostgreSQL ${server!.version}; Parley needs PostgreSQL 14 or later`);
    expect(await tablesIn(url!)).toBe(0);

    const doctor = await cli.run(['doctor'], env);
    expect(doctor.code).toBe(1);
    expect(doctor.stdout).toMatch(new RegExp(`FAIL\\s+database\\s+PostgreSQL ${server!.version.replace('.', '\\.')} at .*: Parley needs PostgreSQL 14 or later → upgrade the server, or point DATABASE_URL at a newer one`));
  });
});
