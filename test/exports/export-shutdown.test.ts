// Shutdown (§11) does not wait on an export for longer than running replies get
// (SHUTDOWN_GRACE_MS): an export still being read then is cut, and the client sees it unfinished.
import { get, type IncomingMessage } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, type TestApp } from '../helpers/app.js';
import { createChatbot, listen } from '../helpers/chat.js';
import { registerUser } from '../helpers/factories.js';

let t: TestApp;
let closed = false;
beforeAll(async () => {
  t = await createTestApp({ SHUTDOWN_GRACE_MS: '300' });
});
afterAll(async () => {
  if (!closed) await t?.close();
});

describe('shutting down during an export', () => {
  it('cuts an export the client is not reading once the grace has passed, and closes', { timeout: 60_000 }, async () => {
    const base = await listen(t);
    const owner = await registerUser(t);
    const chatbot = await createChatbot(t, owner);
    await t.database.sql.query(
      `INSERT INTO conversations (id, user_id, chatbot_id, created_at, updated_at, data)
       SELECT gen_random_uuid(), $1, $2, now(), now(), jsonb_build_object('blob', repeat('x', 100000)) FROM generate_series(1, 300)`,
      [owner.id, chatbot.id],
    );
    const response = await new Promise<IncomingMessage>((resolve, reject) => {
      get(`${base}/v1/exports/conversations?format=ndjson`, { headers: { authorization: `Bearer ${owner.accessToken}` } }, resolve).on('error', reject);
    });
    expect(response.statusCode).toBe(200);
    // The client reads nothing more: the server is stuck writing the first batch.
    response.pause();
    const ended = new Promise<boolean>((resolve) => {
      response.on('error', () => {});
      response.on('close', () => resolve(response.complete));
    });
    const began = Date.now();
    closed = true;
    await t.close();
    expect(Date.now() - began).toBeLessThan(5_000);
    response.resume();
    expect(await ended).toBe(false);
  });
});
