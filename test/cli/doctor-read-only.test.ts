// `parley doctor` against a database that takes no writes: a DATABASE_URL naming a read replica or
// a standby, or a database or role whose `default_transaction_read_only` is on. Every read passes,
// so every line said ok and the command exited 0, while the server could store nothing (each
// write answers 503). The database line now fails and says why and what to do.
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { cleanUp, doctor, failsOnly, PG_URL, removeTemplate, servedDatabase, type Target } from './doctor-run.js';

afterEach(cleanUp);
afterAll(async () => {
  await cleanUp();
  await removeTemplate();
});

/** As a replica's URL or a provider's read-only endpoint gives them: for the doctor's connections alone (the test server is shared). */
function readOnly(target: Target): Record<string, string> {
  const url = new URL(target.env.DATABASE_URL!);
  url.searchParams.set('default_transaction_read_only', 'on');
  return { ...target.env, DATABASE_URL: url.toString() };
}

// PostgreSQL only: PGlite reads no per-database or per-role settings when it opens a folder, so an
// embedded database is never read-only this way.
describe.runIf(PG_URL)('parley doctor on a database that takes no writes', () => {
  it('fails the database line, saying it is read-only and what to do, and still checks the rest', { timeout: 120_000 }, async () => {
    const target = await servedDatabase();
    const report = await doctor(readOnly(target), { args: ['--streams', '100'] });
    const line = failsOnly(report, 'database').text;
    expect(line).toMatch(/takes no writes/);
    expect(line).toMatch(/default_transaction_read_only/);
    expect(line).toMatch(/point DATABASE_URL at the primary/);
    expect(line).not.toContain('\n');
    // What can be read is still checked: the schema is current.
    expect(report.line('migrations').text).toMatch(/^ok\s+migrations\s+\d+ applied, current/);
    expect(report.stderr).toBe('');
  });
});
