// For tests that make roles and databases of their own on PostgreSQL: call inside a describe. A
// superuser connection (TEST_DATABASE_URL), the statements that undo what a test made (run after
// the file, in order), and the file's CLI processes killed after each test and cleaned up at the end.
import postgres from 'postgres';
import { afterAll, afterEach, beforeAll } from 'vitest';

export function superuserFixture(url: string, processes: { killAll(): void; cleanUp(): void }) {
  let admin: postgres.Sql | undefined;
  const cleanups: string[] = [];
  beforeAll(async () => {
    admin = postgres(url, { max: 1, onnotice: () => {} });
    const [me] = await admin<{ rolsuper: boolean }[]>`SELECT rolsuper FROM pg_roles WHERE rolname = current_user`;
    if (!me?.rolsuper) throw new Error('these tests create roles and databases: TEST_DATABASE_URL must connect as a superuser');
  });
  afterEach(() => processes.killAll());
  afterAll(async () => {
    for (const statement of cleanups.splice(0)) await admin!.unsafe(statement).catch((error: Error) => console.error(`cleanup: ${error.message}`));
    await admin?.end();
    processes.cleanUp();
  });
  return {
    admin: (): postgres.Sql => admin!,
    /** Statements to run after the file's tests (drop what a test made). */
    undoLater: (...statements: string[]) => cleanups.push(...statements),
    /**
     * A database `owner` owns, its `public` schema too, as PostgreSQL 15 and later make it (on 14 it
     * is the bootstrap superuser's, and the owner may create there only as every role may, which
     * Parley refuses: docs/deploy.md, "Database and roles").
     */
    async createOwnedDatabase(database: string, owner: string): Promise<void> {
      await admin!.unsafe(`CREATE DATABASE ${database} OWNER ${owner}`);
      const there = new URL(url);
      there.pathname = `/${database}`;
      const inside = postgres(there.toString(), { max: 1, onnotice: () => {} });
      try {
        await inside.unsafe(`ALTER SCHEMA public OWNER TO ${owner}`);
      } finally {
        await inside.end();
      }
    },
  };
}
