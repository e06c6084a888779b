// A HEAD of an export answers the headers its GET would (after the same checks: 401, 404, 422)
// without reading the export: it takes none of the account's export places, so it answers while
// they are all held, and HEADs in a row leave every place free for the GETs that follow.
import { get, type ClientRequest, type IncomingMessage } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MAX_EXPORTS_PER_ACCOUNT } from '../../src/features/exports/export-slots.js';
import type { TestApp } from '../helpers/app.js';
import { registerUser, type RegisteredUser } from '../helpers/factories.js';
import { seededExports } from './seeded.js';

let t: TestApp;
let base: string;
let owner: RegisteredUser;
let chatbot: { id: string };
/** A conversation whose messages (6 MB) pass a batch's budget: its export is streamed. */
let longId: string;

beforeAll(async () => {
  // Far more than the socket buffers between server and client hold: an export not read stays open.
  ({ t, base, owner, chatbot } = await seededExports(300, "jsonb_build_object('blob', repeat('x', 100000))"));
  const [row] = await t.database.sql.query<{ id: string }>(
    `INSERT INTO conversations (id, user_id, chatbot_id, title, created_at, updated_at, message_count, data)
     VALUES (gen_random_uuid(), $1, $2, 'long', '2026-03-01T00:00:00Z', now(), 12, '{}') RETURNING id`,
    [owner.id, chatbot.id],
  );
  longId = row!.id;
  await t.database.sql.query(
    `INSERT INTO messages (id, conversation_id, user_id, role, content, status, tokens, created_at)
     SELECT gen_random_uuid(), $1, $2, 'user', repeat('y', 500000), 'complete', 1, '2026-03-01T00:00:00Z'::timestamptz + j * interval '1 millisecond'
       FROM generate_series(1, 12) AS j`,
    [longId, owner.id],
  );
}, 120_000);
afterAll(async () => {
  await t?.close();
});

const BULK = '/v1/exports/conversations?format=ndjson';

/** An export whose first bytes arrived and which is then not read. */
function heldExport(path: string): Promise<{ request: ClientRequest; response: IncomingMessage }> {
  return new Promise((resolve, reject) => {
    const request = get(`${base}${path}`, { headers: { authorization: `Bearer ${owner.accessToken}` } });
    request.on('error', reject);
    request.on('response', (response) => {
      response.once('data', () => {
        response.pause();
        resolve({ request, response });
      });
    });
  });
}

const head = (path: string, user: RegisteredUser | null = owner) =>
  fetch(`${base}${path}`, { method: 'HEAD', headers: user ? { authorization: `Bearer ${user.accessToken}` } : {} });

/** HEADs of every export, each answered with its GET's headers. */
async function headsAnswer(): Promise<void> {
  const bulk = await head(BULK);
  expect(bulk.status).toBe(200);
  expect(bulk.headers.get('content-type')).toBe('application/x-ndjson; charset=utf-8');
  expect(bulk.headers.get('content-disposition')).toBe('attachment; filename="conversations.ndjson"');
  // Its GET is streamed, of a length not known beforehand: a HEAD does not claim one.
  expect(bulk.headers.get('content-length')).toBeNull();

  const csv = await head(`/v1/exports/conversations?format=csv&chatbot_id=${chatbot.id}`);
  expect(csv.status).toBe(200);
  expect(csv.headers.get('content-type')).toBe('text/csv; charset=utf-8; header=present');
  expect(csv.headers.get('content-disposition')).toBe(`attachment; filename="conversations-${chatbot.id}.csv"`);

  const one = await head(`/v1/conversations/${longId}/export`);
  expect(one.status).toBe(200);
  expect(one.headers.get('content-type')).toBe('application/json; charset=utf-8');
  expect(one.headers.get('content-length')).toBeNull();
}

describe('HEAD of an export', () => {
  it('takes no export place: HEADs in a row leave them all to the GETs that follow, and answer while those hold them', { timeout: 60_000 }, async () => {
    for (let i = 0; i < MAX_EXPORTS_PER_ACCOUNT + 1; i++) await headsAnswer();
    const held = [
      ...(await Promise.all(Array.from({ length: MAX_EXPORTS_PER_ACCOUNT - 1 }, () => heldExport(BULK)))),
      await heldExport(`/v1/conversations/${longId}/export`),
    ];
    try {
      expect(held.map(({ response }) => response.statusCode)).toEqual(held.map(() => 200));
      // Every place is held now: a GET is refused, a HEAD still answers.
      const refused = await fetch(`${base}${BULK}`, { headers: { authorization: `Bearer ${owner.accessToken}` } });
      expect(refused.status).toBe(429);
      await refused.body?.cancel();
      await headsAnswer();
    } finally {
      for (const { request } of held) request.destroy();
    }
  });

  it('is refused as its GET is: 401 unsigned, 404 for another tenant\'s conversation or chatbot, 422 for a bad query', async () => {
    const other = await registerUser(t);
    expect((await head(BULK, null)).status).toBe(401);
    expect((await head(`/v1/conversations/${longId}/export`, null)).status).toBe(401);
    expect((await head(`/v1/conversations/${longId}/export`, other)).status).toBe(404);
    expect((await head(`/v1/exports/conversations?format=csv&chatbot_id=${chatbot.id}`, other)).status).toBe(404);
    expect((await head('/v1/exports/conversations?format=csv')).status).toBe(422);
    expect((await head('/v1/exports/conversations?format=xml')).status).toBe(422);
    expect((await head('/v1/exports/conversations?from=2026-05-02&to=2026-05-01')).status).toBe(422);
  });
});
