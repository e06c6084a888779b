// A DATABASE_URL that PostgreSQL answers with a refusal rather than silence: a database name that
// does not exist (3D000), a user it does not know or a wrong password (28000, 28P01). `parley
// migrate` and `parley serve` retried these for all of DATABASE_WAIT and then printed the bare
// code (`cannot reach DATABASE_URL (…) after 20 attempts over 10s: 3D000`), where `parley doctor`
// says what it means and what to do. The fix belongs in src/db/connect.ts (see docs/decisions.md).
import { afterAll, describe, expect, it } from 'vitest';
import { cliProcesses } from '../helpers/cli-process.js';

const url = process.env.TEST_DATABASE_URL;
const cli = cliProcesses();

afterAll(() => cli.cleanUp());

/** TEST_DATABASE_URL with its database, or its user and password, changed. */
function variant(change: (parsed: URL) => void): string {
  const parsed = new URL(url!);
  change(parsed);
  return parsed.toString();
}

describe.runIf(url)('a database that refuses the connection', () => {
  it('that does not exist: parley migrate says so and how to create it, not only 3D000', { timeout: 60_000 }, async () => {
    const result = await cli.run(['migrate'], { DATABASE_URL: variant((parsed) => (parsed.pathname = '/parley_no_such_database')), DATABASE_WAIT: '3s' });
    expect(result.code).toBe(1);
    expect(result.stderr, result.stderr).toMatch(/^parley: [^\n]*parley_no_such_database[^\n]*does not exist[^\n]*createdb[^\n]*\n$/);
  });

  it('refusing the login: parley migrate says to check the user and password, without showing the password', { timeout: 60_000 }, async () => {
    const result = await cli.run(['migrate'], {
      DATABASE_URL: variant((parsed) => {
        parsed.username = 'parley_no_such_role';
        parsed.password = 'not-the-password-41';
      }),
      DATABASE_WAIT: '3s',
    });
    expect(result.code).toBe(1);
    expect(result.stderr, result.stderr).toMatch(/^parley: [^\n]*refused the login[^\n]*user and password in DATABASE_URL[^\n]*\n$/);
    expect(result.stderr).not.toContain('not-the-password-41');
  });
});
