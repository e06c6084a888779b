import { randomBytes } from 'node:crypto';
import { Writable } from 'node:stream';
import type { InjectOptions, LightMyRequestResponse } from 'fastify';
import { buildApp } from '../../src/app.js';
import { loadConfig, type Config, type Env } from '../../src/config/config.js';
import { openDatabase, usePglite, type Database } from '../../src/db/client.js';
import { migrate } from '../../src/db/migrate.js';
import { createPglite } from '../../src/db/pglite.js';
import { prepareAppRole } from '../../src/db/row-security.js';
import type { App } from '../../src/http/types.js';
import type { Clock } from '../../src/lib/clock.js';

export interface TestApp {
  app: App;
  database: Database;
  config: Config & { jwtSecret: string };
  /** Every log line the app wrote, as text. */
  logs: string[];
  request(options: InjectOptions): Promise<LightMyRequestResponse>;
  count(table: string): Promise<number>;
  close(): Promise<void>;
}

/** Limits high enough that factories never trip them; tests of limits set their own. */
const RELAXED_LIMITS: Env = {
  RATE_LIMIT_LOGIN_ACCOUNT: '1000/1m',
  RATE_LIMIT_LOGIN_IP: '1000/1m',
  RATE_LIMIT_REGISTER_IP: '1000/1m',
  RATE_LIMIT_REFRESH_SESSION: '1000/1m',
};

let snapshot: Promise<Blob> | undefined;

/**
 * PGlite reads a data folder to load with Blob.arrayBuffer(), which in Node 20 gathers the dump
 * piece by piece, concatenating as it goes: in a profile of the in-process tests it was about a
 * tenth of the CPU of making an app. The dump's bytes are read once per worker instead and lent to
 * each app: PGlite's loader only reads them (untar, then a copy of each file into its own file
 * system), and a copy for each app cost 50 ms of the 600 an app takes to make.
 */
class ReadDump extends Blob {
  constructor(private readonly content: ArrayBuffer) {
    super([]);
  }

  override arrayBuffer(): Promise<ArrayBuffer> {
    return Promise.resolve(this.content);
  }
}

/**
 * Creating a PGlite database runs initdb (seconds); loading a copy of an already
 * migrated one takes a fraction of that. Made once per test worker.
 */
function migratedPgliteSnapshot(): Promise<Blob> {
  snapshot ??= (async () => {
    const template = createPglite(null);
    const database = await usePglite(template);
    await migrate(database.sql);
    const dump = await template.dumpDataDir('none');
    await database.close();
    return new ReadDump(await dump.arrayBuffer());
  })();
  return snapshot;
}

/**
 * A fresh database for one test file: PGlite in memory, or, with TEST_DATABASE_URL,
 * a new schema on that PostgreSQL server (dropped on close). `timeZone`: every session runs in
 * it, as on a server whose `timezone` setting is so (PGlite has one session; PostgreSQL's
 * connections are told at connect, by the connection string's TimeZone parameter). `settings`:
 * more of PostgreSQL's settings for the app's sessions, told at connect the same way (PGlite's ignored).
 */
export async function createTestDatabase(options: { timeZone?: string; settings?: Record<string, string> } = {}): Promise<{ database: Database; drop(): Promise<void> }> {
  const url = process.env.TEST_DATABASE_URL;
  if (!url) {
    const database = await usePglite(createPglite(null, { loadDataDir: await migratedPgliteSnapshot() }));
    if (options.timeZone) await database.sql.exec(`SET TimeZone TO '${options.timeZone}'`);
    await prepareAppRole(database);
    return { database, drop: () => database.close() };
  }
  const schema = `test_${randomBytes(6).toString('hex')}`;
  const admin = await openDatabase({ url, pgliteDir: null, poolMax: 1 });
  await admin.sql.exec(`CREATE SCHEMA ${schema}`);
  const zoned = new URL(url);
  if (options.timeZone) zoned.searchParams.set('TimeZone', options.timeZone);
  for (const [name, value] of Object.entries(options.settings ?? {})) zoned.searchParams.set(name, value);
  const database = await openDatabase({ url: zoned.toString(), pgliteDir: null, poolMax: 4, searchPath: schema });
  await migrate(database.sql);
  await prepareAppRole(database);
  return {
    database,
    async drop() {
      await database.close();
      await admin.sql.exec(`DROP SCHEMA ${schema} CASCADE`);
      await admin.close();
    },
  };
}

/**
 * `clock`: the time the app reads (tests move it instead of waiting).
 * `sharedWith`: a second instance on the same database (as several instances behind a load
 * balancer); close it first. `database`: an app on a database the test owns (and drops).
 */
export async function createTestApp(env: Env = {}, options: { sharedWith?: TestApp; database?: Database; clock?: Clock } = {}): Promise<TestApp> {
  const given = options.database ?? options.sharedWith?.database;
  const { database, drop } = given ? { database: given, drop: async () => {} } : await createTestDatabase();
  const config = loadConfig({ NODE_ENV: 'test', LOG_LEVEL: 'info', ...RELAXED_LIMITS, ...env });
  const resolved = { ...config, jwtSecret: config.jwtSecret ?? randomBytes(48).toString('base64url') };
  const logs: string[] = [];
  const logStream = new Writable({
    write(chunk, _encoding, done) {
      logs.push(String(chunk));
      done();
    },
  });
  const app = await buildApp({ config: resolved, database, logStream, clock: options.clock });
  return {
    app,
    database,
    config: resolved,
    logs,
    request: (options) => app.inject(options),
    async count(table) {
      const rows = await database.sql.query<{ n: number | string }>(`SELECT count(*) AS n FROM ${table}`);
      return Number(rows[0]?.n ?? 0);
    },
    async close() {
      await app.close();
      await drop();
    },
  };
}

export const json = (response: LightMyRequestResponse) => response.json() as Record<string, unknown> & { [key: string]: any };
