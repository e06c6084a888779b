// `parley doctor`'s transactions line at ages no test database can reach in reasonable time (a
// real one is read by test/cli/doctor.test.ts and test/db/pglite-freeze.test.ts): where it warns
// and fails, and what it tells each kind of database to do.
import { describe, expect, it } from 'vitest';
import { transactionAgeLine } from '../../src/features/doctor/doctor.transactions.js';

const postgres = null;
const embedded = 100_000_000;

describe("the doctor's transactions line", () => {
  it('is ok below a billion on PostgreSQL, where autovacuum freezes', () => {
    const line = transactionAgeLine({ name: 'parley', age: 180_000_000 }, postgres);
    expect(line).toEqual({ name: 'transactions', status: 'ok', detail: 'oldest unfrozen transaction 180,000,000 old (database parley); writes stop at 2,144.5 million; autovacuum freezes', fix: null });
  });

  it('warns from a billion on PostgreSQL: autovacuum is not keeping up, and which database to freeze', () => {
    const line = transactionAgeLine({ name: 'parley', age: 1_000_000_000 }, postgres);
    expect(line.status).toBe('warn');
    expect(line.fix).toBe('autovacuum is not keeping up: as a superuser run VACUUM (FREEZE) in database parley, and check that autovacuum is on');
  });

  it('warns on the embedded database from ten times PGLITE_FREEZE_AGE: a start freezes', () => {
    expect(transactionAgeLine({ name: 'template0', age: 999_999_999 }, embedded).status).toBe('ok');
    const line = transactionAgeLine({ name: 'template0', age: 1_000_000_000 }, embedded);
    expect(line.status).toBe('warn');
    expect(line.fix).toBe('start the server (parley serve): it freezes old rows at start once they pass PGLITE_FREEZE_AGE');
    expect(transactionAgeLine({ name: 'postgres', age: 20_000 }, 1_000).status).toBe('warn');
  });

  it('fails from 1.5 billion on both, with how far the write stop is', () => {
    for (const freezeAge of [postgres, embedded]) {
      const line = transactionAgeLine({ name: 'parley', age: 1_600_000_000 }, freezeAge);
      expect(line.status).toBe('fail');
      expect(line.detail).toBe('oldest unfrozen transaction 1,600,000,000 old (database parley); writes stop at 2,144.5 million, 544.5 million from now');
    }
  });
});
