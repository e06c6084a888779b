import { getTableConfig } from 'drizzle-orm/pg-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Access } from '../../src/db/client.js';
import { TENANT_TABLES } from '../../src/db/row-security.js';
import * as schema from '../../src/db/schema.js';
import { createTestApp, type TestApp } from '../helpers/app.js';
import { createChatbot } from '../helpers/chat.js';
import { registerUser, type RegisteredUser } from '../helpers/factories.js';
import { completedEvent, waitForDelivery } from './events.js';

// §10 for webhooks: deliveries and attempts are their owner's rows, kept apart by row security
// like every tenant table; the worker's scope reads and updates them but adds or deletes none.
// And the Drizzle schema the code uses agrees with migrations/0015.

let t: TestApp;
let a: RegisteredUser;
let b: RegisteredUser;
let aDelivery: string;

beforeAll(async () => {
  // The url answers nothing (port 9 on loopback): the delivery fails and is retried, leaving attempts.
  t = await createTestApp({ WEBHOOK_ALLOW_PRIVATE: 'true', WEBHOOK_POLL_MS: '50', WEBHOOK_RETRY_SCHEDULE: '1h' });
  a = await registerUser(t);
  b = await registerUser(t);
  for (const user of [a, b]) {
    const bot = await createChatbot(t, user, { name: 'Hooked', webhook_url: 'http://127.0.0.1:9/hook' });
    const event = await completedEvent(t, user, bot.id);
    await waitForDelivery(t, user, bot.id, event.eventId!, (d) => d.attempts.length === 1 && d.attempts[0]!.error !== null);
    if (user === a) aDelivery = event.eventId!;
  }
});
afterAll(async () => {
  await t?.close();
});

/** One transaction as the role requests use, with the settings given and nothing else. */
function asApp<T>(settings: { userId?: string; scope?: string }, fn: (tx: Access) => Promise<T>): Promise<T> {
  return t.database.app.transaction(async (tx) => {
    await tx.sql.query("SELECT set_config('app.user_id', $1, true), set_config('app.scope', $2, true)", [settings.userId ?? '', settings.scope ?? '']);
    return fn(tx);
  });
}

const owners = async (tx: Access, table: string) => (await tx.sql.query<{ owner: string }>(`SELECT user_id::text AS owner FROM ${table}`)).map((row) => row.owner);

describe('webhook tables', () => {
  it('match the Drizzle schema, column for column, with their nullability', async () => {
    for (const table of [schema.chatbots, schema.webhookDeliveries, schema.webhookAttempts]) {
      const config = getTableConfig(table);
      const rows = await t.database.sql.query<{ column_name: string; is_nullable: string }>(
        'SELECT column_name, is_nullable FROM information_schema.columns WHERE table_name = $1 AND table_schema = current_schema()',
        [config.name],
      );
      const actual = Object.fromEntries(rows.map((r) => [r.column_name, r.is_nullable === 'NO']));
      expect(actual, config.name).toEqual(Object.fromEntries(config.columns.map((c) => [c.name, c.notNull])));
    }
  });

  it('are tenant tables: row security forced, each user seeing only their own rows', async () => {
    expect(TENANT_TABLES).toEqual(expect.arrayContaining(['webhook_deliveries', 'webhook_attempts']));
    for (const table of ['webhook_deliveries', 'webhook_attempts']) {
      expect(await asApp({ userId: b.id }, (tx) => owners(tx, table)), table).toEqual([b.id]);
      expect(await asApp({}, (tx) => owners(tx, table)), table).toEqual([]);
      expect(await asApp({ scope: 'admin' }, (tx) => owners(tx, table)), table).toEqual([]);
    }
  });

  it("keep another user from changing, deleting or adding to a user's deliveries", async () => {
    await asApp({ userId: b.id }, async (tx) => {
      expect(await tx.sql.query("UPDATE webhook_deliveries SET status = 'delivered' WHERE id = $1 RETURNING id", [aDelivery])).toEqual([]);
      expect(await tx.sql.query('DELETE FROM webhook_attempts WHERE delivery_id = $1 RETURNING attempt', [aDelivery])).toEqual([]);
    });
    const [planted] = await t.database.sql.query<{ chatbot_id: string; conversation_id: string }>('SELECT chatbot_id, conversation_id FROM webhook_deliveries WHERE id = $1', [aDelivery]);
    await expect(
      asApp({ userId: b.id }, (tx) =>
        tx.sql.query(
          `INSERT INTO webhook_deliveries (id, user_id, chatbot_id, conversation_id, type, payload)
           VALUES (gen_random_uuid(), $1, $2, $3, 'conversation.completed', '{}'::jsonb)`,
          [a.id, planted!.chatbot_id, planted!.conversation_id],
        ),
      ),
    ).rejects.toMatchObject({ message: expect.stringMatching(/row-level security/) });
    const [row] = await t.database.sql.query<{ status: string; n: string }>(
      'SELECT d.status, (SELECT count(*) FROM webhook_attempts WHERE delivery_id = d.id) AS n FROM webhook_deliveries d WHERE d.id = $1',
      [aDelivery],
    );
    expect(row).toMatchObject({ status: 'pending' });
    expect(Number(row!.n)).toBe(1);
  });

  it('the worker scope sees every tenant but cannot add or delete deliveries', async () => {
    await asApp({ scope: 'webhooks' }, async (tx) => {
      expect(new Set(await owners(tx, 'webhook_deliveries'))).toEqual(new Set([a.id, b.id]));
      expect(await tx.sql.query('DELETE FROM webhook_deliveries RETURNING id')).toEqual([]);
    });
    await expect(
      asApp({ scope: 'webhooks' }, (tx) =>
        tx.sql.query(
          `INSERT INTO webhook_deliveries (id, user_id, chatbot_id, conversation_id, type, payload)
           SELECT gen_random_uuid(), user_id, chatbot_id, conversation_id, type, payload FROM webhook_deliveries WHERE id = $1`,
          [aDelivery],
        ),
      ),
    ).rejects.toMatchObject({ message: expect.stringMatching(/row-level security/) });
    expect(await t.count('webhook_deliveries')).toBe(2);
  });
});
