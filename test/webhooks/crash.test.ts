import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openDatabase, type Database } from '../../src/db/client.js';
import { migrate } from '../../src/db/migrate.js';
import { prepareAppRole } from '../../src/db/row-security.js';
import { startFakeWebhooks, type FakeWebhooks } from '../fake-webhooks/fake-webhooks.js';
import { createTestApp, createTestDatabase } from '../helpers/app.js';
import { createChatbot } from '../helpers/chat.js';
import { registerUser } from '../helpers/factories.js';
import { completedEvent, setWebhook, waitForDelivery, WEBHOOK_TEST_ENV } from './events.js';

// §9.4: a delivery survives the crash of the instance sending it. An instance in a process of its
// own claims the delivery and is killed (SIGKILL: nothing runs on the way out) while the receiver
// holds the request; once its lease has run out another instance sends it again.

const SCRIPT = fileURLToPath(new URL('./instance-process.ts', import.meta.url));
const LEASE_MS = 4000;

let receiver: FakeWebhooks;
const cleanups: Array<() => Promise<void> | void> = [];

beforeAll(async () => {
  receiver = await startFakeWebhooks();
});
afterAll(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
  await receiver?.close();
});

/**
 * The database the instances share, opened by this process. On PGlite a folder only one process
 * may hold at a time: `release` lets the other process have it, `reopen` takes it back.
 */
async function sharedDatabase() {
  const url = process.env.TEST_DATABASE_URL;
  if (url) {
    const { database, drop } = await createTestDatabase();
    cleanups.push(drop);
    const [row] = await database.sql.query<{ schema: string }>('SELECT current_schema() AS schema');
    return { database, target: url, schema: row!.schema, release: async () => {}, reopen: async () => database };
  }
  const dir = mkdtempSync(join(tmpdir(), 'parley-webhook-crash-'));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  const open = async () => {
    const database = await openDatabase({ url: null, pgliteDir: dir });
    await migrate(database.sql);
    await prepareAppRole(database);
    return database;
  };
  let database: Database = await open();
  return {
    database,
    target: dir,
    schema: '',
    release: () => database.close(),
    async reopen() {
      database = await open();
      cleanups.push(() => database.close());
      return database;
    },
  };
}

function startInstance(target: string, schema: string) {
  const child = spawn(process.execPath, ['--import', 'tsx', SCRIPT], {
    env: {
      PATH: process.env.PATH ?? '/usr/bin:/bin',
      HOME: process.env.HOME ?? tmpdir(),
      PARLEY_TEST_DB: target,
      PARLEY_TEST_SCHEMA: schema,
      LOG_LEVEL: 'info',
      ...WEBHOOK_TEST_ENV,
      WEBHOOK_TIMEOUT_MS: '3000',
      WEBHOOK_LEASE_MS: String(LEASE_MS),
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
  const exited = new Promise<NodeJS.Signals | number | null>((resolve) => child.once('exit', (code, signal) => resolve(signal ?? code)));
  cleanups.push(() => void child.kill('SIGKILL'));
  return { child, exited, output: () => output };
}

describe('an instance killed while it delivers', () => {
  it('leaves the delivery to another instance once its lease has run out', { timeout: 120_000 }, async () => {
    const shared = await sharedDatabase();
    // Sets up the chatbot and the event; it never polls, so the other process takes the delivery.
    const setup = await createTestApp({ ...WEBHOOK_TEST_ENV, WEBHOOK_POLL_MS: '600000' }, { database: shared.database });
    const owner = await registerUser(setup);
    const endpoint = receiver.endpoint('crash');
    const bot = await createChatbot(setup, owner, { name: 'Crashing' });
    const { webhook_secret: secret } = await setWebhook(setup, owner, bot.id, endpoint.url);
    expect(secret).toMatch(/^whsec_/);
    const event = await completedEvent(setup, owner, bot.id);
    await setup.app.close();
    await shared.release();

    endpoint.script({ status: 200, hang: true });
    const instance = startInstance(shared.target, shared.schema);
    const [first] = await endpoint.waitFor(1, 90_000).catch((error: Error) => {
      throw new Error(`${error.message}\n${instance.output()}`);
    });
    expect(first!.headers['webhook-id']).toBe(event.eventId);
    instance.child.kill('SIGKILL');
    expect(await instance.exited).toBe('SIGKILL');

    const database = await shared.reopen();
    const survivor = await createTestApp(WEBHOOK_TEST_ENV, { database });
    cleanups.push(() => survivor.app.close());
    const delivery = await waitForDelivery(survivor, owner, bot.id, event.eventId!, (d) => d.status === 'delivered', 30_000);
    const [lost, retried] = delivery.attempts;
    expect(lost).toMatchObject({ attempt: 1, status_code: null, error: expect.stringMatching(/instance sending it stopped/) });
    expect(retried).toMatchObject({ attempt: 2, status_code: 200, error: null });
    // Not before the lease ran out: until then the killed instance might still have answered.
    expect(new Date(retried!.started_at).getTime() - new Date(lost!.started_at).getTime()).toBeGreaterThanOrEqual(LEASE_MS);
    expect(endpoint.received.map((r) => r.headers['webhook-id'])).toEqual([event.eventId, event.eventId]);
    expect(endpoint.received[1]!.body).toBe(first!.body);
  });
});
