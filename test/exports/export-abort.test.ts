// A failure in the middle of a bulk export cuts the response (§9): the client sees a connection
// closed before the end of the body, never a clean end that would pass for a whole, shorter file.
// The database goes away while the client holds the export back: on PostgreSQL a TCP proxy cuts
// every connection (as a failover does), on PGlite the embedded database is closed.
import { get, type IncomingMessage } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, createTestDatabase, type TestApp } from '../helpers/app.js';
import { createChatbot, listen } from '../helpers/chat.js';
import { registerUser, type RegisteredUser } from '../helpers/factories.js';
import { proxiedDatabase } from '../helpers/proxied-database.js';

const url = process.env.TEST_DATABASE_URL;

let t: TestApp;
let base: string;
let owner: RegisteredUser;
let chatbot: { id: string };
let cutDatabase: () => Promise<void>;
let restore: () => Promise<void> = async () => {};
let cleanup: () => Promise<void>;

beforeAll(async () => {
  if (url) {
    const cut = await proxiedDatabase(url, 'export_cut');
    t = await createTestApp({}, { database: cut.database });
    cutDatabase = async () => {
      cut.proxy.refuse(true);
      cut.proxy.resetAll();
    };
    restore = async () => cut.proxy.refuse(false);
    cleanup = async () => {
      cut.proxy.refuse(false);
      await t?.app.close();
      await cut.close();
    };
  } else {
    const { database } = await createTestDatabase();
    t = await createTestApp({}, { database });
    let closed = false;
    cutDatabase = async () => {
      closed = true;
      await database.close();
    };
    cleanup = async () => {
      await t?.app.close().catch(() => {});
      if (!closed) await database.close();
    };
  }
  base = await listen(t);
  owner = await registerUser(t);
  chatbot = await createChatbot(t, owner);
  // A first batch far bigger than every socket buffer between server and client (200 × 100 kB),
  // so the server is still writing it when the database goes; then two more batches to read.
  await t.database.sql.query(
    `INSERT INTO conversations (id, user_id, chatbot_id, title, created_at, updated_at, data)
     SELECT gen_random_uuid(), $1, $2, 'c' || i, '2026-04-01T00:00:00Z'::timestamptz + i * interval '1 second', now(),
            CASE WHEN i <= 200 THEN jsonb_build_object('blob', repeat('x', 100000)) ELSE jsonb_build_object('n', i) END
       FROM generate_series(1, 450) AS i`,
    [owner.id, chatbot.id],
  );
}, 120_000);
afterAll(async () => {
  await cleanup?.();
});

/** GETs an export and holds it back after the first bytes until `whilePaused` is done; then reads to the end or the cut. */
function exportHeldBack(query: string, whilePaused: () => Promise<void>) {
  return new Promise<{ status: number; body: string; complete: boolean; error: string | null }>((resolve, reject) => {
    const request = get(`${base}/v1/exports/conversations?chatbot_id=${chatbot.id}${query}`, { headers: { authorization: `Bearer ${owner.accessToken}` } });
    request.on('error', reject);
    request.on('response', (response: IncomingMessage) => {
      const chunks: Buffer[] = [];
      let error: string | null = null;
      let paused = false;
      response.on('data', (chunk: Buffer) => {
        chunks.push(chunk);
        if (paused) return;
        paused = true;
        response.pause();
        whilePaused().then(() => response.resume(), reject);
      });
      response.on('error', (cause) => (error = cause.message));
      response.on('close', () => resolve({ status: response.statusCode!, body: Buffer.concat(chunks).toString('utf8'), complete: response.complete, error }));
    });
  });
}

describe('a bulk export whose database fails midway', () => {
  it('is cut: the response ends without its closing bytes, as an error, never as a whole file', { timeout: 60_000 }, async () => {
    const result = await exportHeldBack('&format=ndjson', cutDatabase);
    expect(result.status).toBe(200);
    expect(result.complete).toBe(false);
    expect(result.error).toMatch(/aborted|ECONNRESET|socket hang up|terminated/);
    // Part of the first batch arrived; never the last conversations.
    const lines = result.body.split('\n');
    expect(lines.length).toBeGreaterThan(1);
    expect(lines.length).toBeLessThan(451);
    expect(result.body).not.toContain('"title":"c450"');
  });

  it.runIf(url)('works again once the database is back', { timeout: 60_000 }, async () => {
    await restore();
    const deadline = Date.now() + 20_000;
    let result = await exportHeldBack('', async () => {});
    while (result.status !== 200 && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 250));
      result = await exportHeldBack('', async () => {});
    }
    expect(result.complete).toBe(true);
    const documents = JSON.parse(result.body);
    expect(documents).toHaveLength(450);
    expect(documents[449].conversation.title).toBe('c450');
  });
});
