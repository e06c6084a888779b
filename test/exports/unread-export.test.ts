// A bulk export whose client stops reading without hanging up (a browser download paused, a
// `curl … | gzip` whose consumer was suspended with Ctrl-Z) kept its export open for as long as the
// connection lived: its batch held in memory and one of the account's two export places taken. Two
// such downloads and every later export of that account answered 429 until the server restarted.
// An export whose client reads nothing for SSE_WRITE_TIMEOUT_MS while bytes wait is now cut (the
// client sees an unfinished response, never a shorter one) and its place is given back.
import { get, type ClientRequest, type IncomingMessage } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MAX_EXPORTS_PER_ACCOUNT } from '../../src/features/exports/export-slots.js';
import { createTestApp, type TestApp } from '../helpers/app.js';
import { createChatbot, listen } from '../helpers/chat.js';
import { registerUser, type RegisteredUser } from '../helpers/factories.js';
import { untilStatus } from '../helpers/until-status.js';

const COUNT = 120;
let t: TestApp;
let base: string;
let owner: RegisteredUser;

beforeAll(async () => {
  t = await createTestApp({ SSE_WRITE_TIMEOUT_MS: '2000' });
  base = await listen(t);
  owner = await registerUser(t);
  const chatbot = await createChatbot(t, owner);
  // Far more than the socket buffers between server and client hold: an export not read cannot end.
  await t.database.sql.query(
    `INSERT INTO conversations (id, user_id, chatbot_id, title, created_at, updated_at, data)
     SELECT gen_random_uuid(), $1, $2, 'c' || i, '2026-04-01T00:00:00Z'::timestamptz + i * interval '1 second', now(), jsonb_build_object('blob', repeat('x', 100000))
       FROM generate_series(1, ${COUNT}) AS i`,
    [owner.id, chatbot.id],
  );
}, 120_000);
afterAll(async () => {
  await t?.close();
});

/** An export whose first bytes arrived and which is then never read, its connection kept open. */
function stalledExport(user: RegisteredUser): Promise<{ request: ClientRequest; response: IncomingMessage }> {
  return new Promise((resolve, reject) => {
    const request = get(`${base}/v1/exports/conversations?format=ndjson`, { headers: { authorization: `Bearer ${user.accessToken}` } });
    request.on('error', reject);
    request.on('response', (response) => {
      response.once('data', () => {
        response.pause();
        resolve({ request, response });
      });
    });
  });
}

const exportOf = (user: RegisteredUser) => fetch(`${base}/v1/exports/conversations?format=ndjson`, { headers: { authorization: `Bearer ${user.accessToken}` } });

describe('a bulk export whose client stops reading and stays connected', () => {
  it('is cut once nothing was read for SSE_WRITE_TIMEOUT_MS, and the account may export again', { timeout: 60_000 }, async () => {
    const stalled = await Promise.all(Array.from({ length: MAX_EXPORTS_PER_ACCOUNT }, () => stalledExport(owner)));
    expect(stalled.map(({ response }) => response.statusCode)).toEqual(stalled.map(() => 200));
    const cut = stalled.map(({ response }) => new Promise<boolean>((resolve) => response.once('close', () => resolve(!response.complete))));

    // Neither stalled client hung up: their places come back only when the server gives up on them.
    const again = await untilStatus(() => exportOf(owner), 200, 200);
    expect(again.status).toBe(200);
    expect((await again.text()).trim().split('\n')).toHaveLength(COUNT);

    // What the stalled clients had is not a whole export: reading on, they find it cut.
    for (const { response } of stalled) response.resume();
    expect(await Promise.all(cut)).toEqual(stalled.map(() => true));
    for (const { request } of stalled) request.destroy();
  });
});
