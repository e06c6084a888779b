// A PostgreSQL database in another encoding than UTF8: a cluster made where the system had no
// UTF-8 locale has SQL_ASCII or LATIN1 templates, and `CREATE DATABASE parley` takes theirs. Parley
// keeps text of every language, and its migrations failed there halfway with messages that named a
// character code ("requested character too large for encoding: 775", "byte sequence 0xe2 0x80 0xa6
// … has no equivalent in encoding LATIN1"). Refused now before anything is made, in one line that
// says what to create; the deploy guide's clause for it makes a database Parley takes.
import { randomBytes } from 'node:crypto';
import postgres from 'postgres';
import { describe, expect, it } from 'vitest';
import { cliProcesses } from '../helpers/cli-process.js';
import { freePort } from '../helpers/ports.js';
import { superuserFixture } from '../helpers/superuser.js';

const url = process.env.TEST_DATABASE_URL;

function urlOf(database: string): string {
  const target = new URL(url!);
  target.pathname = `/${database}`;
  return target.toString();
}

describe.runIf(url)('a PostgreSQL database in another encoding than UTF8', () => {
  const cli = cliProcesses();
  const su = superuserFixture(url!, cli);

  async function database(encoding: string, clause: string): Promise<string> {
    const name = `parley_${encoding.toLowerCase()}_${randomBytes(4).toString('hex')}`;
    su.undoLater(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    await su.admin().unsafe(`CREATE DATABASE ${name} ${clause}`);
    return name;
  }

  async function tablesIn(name: string): Promise<number> {
    const sql = postgres(urlOf(name), { max: 1, onnotice: () => {} });
    try {
      const [row] = await sql<{ n: number }[]>`SELECT count(*)::int AS n FROM pg_tables WHERE schemaname NOT IN ('pg_catalog', 'information_schema')`;
      return row!.n;
    } finally {
      await sql.end();
    }
  }

  for (const encoding of ['SQL_ASCII', 'LATIN1']) {
    it(`${encoding}: migrate and serve refuse it in one line naming the encoding and what to create, making nothing; doctor says the same`, { timeout: 120_000 }, async () => {
      const name = await database(encoding, `ENCODING '${encoding}' LOCALE 'C' TEMPLATE template0`);
      const env = { DATABASE_URL: urlOf(name), LOG_LEVEL: 'warn' };

      const migrate = await cli.run(['migrate'], env);
      expect(migrate.code, migrate.stderr).toBe(1);
      expect(migrate.stdout).toBe('');
      expect(migrate.stderr.trim().split('\n')).toHaveLength(1);
      expect(migrate.stderr).toContain(`parley: the database "${name}" is in encoding ${encoding}; Parley stores text of every language and needs UTF8`);
      expect(migrate.stderr).toContain("CREATE DATABASE parley ENCODING 'UTF8' LOCALE 'C.UTF-8' TEMPLATE template0");
      expect(await tablesIn(name)).toBe(0);

      const serve = await cli.run(['serve'], { ...env, PORT: String(await freePort()) });
      expect(serve.code).toBe(1);
      expect(serve.stderr).toContain(`is in encoding ${encoding}`);
      expect(await tablesIn(name)).toBe(0);

      const doctor = await cli.run(['doctor'], env);
      expect(doctor.code).not.toBe(0);
      const line = doctor.stdout.split('\n').find((text) => /\bdatabase\b/.test(text) && text.includes(encoding));
      expect(line, doctor.stdout).toMatch(/fail/i);
      expect(doctor.stdout).toContain("ENCODING 'UTF8'");
    });
  }

  it("the deploy guide's clause makes a database it migrates", { timeout: 120_000 }, async () => {
    const name = await database('utf8', "ENCODING 'UTF8' LOCALE 'C.UTF-8' TEMPLATE template0");
    const migrate = await cli.run(['migrate'], { DATABASE_URL: urlOf(name), LOG_LEVEL: 'warn' });
    expect(migrate.code, migrate.stderr).toBe(0);
    expect(migrate.stdout).toMatch(/applied \d+ migration\(s\)/);
  });
});
