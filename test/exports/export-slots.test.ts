// An account reading many bulk exports at once from one server: past MAX_EXPORTS_PER_ACCOUNT the
// next is refused with 429 (each export's batches take their turn at the database with every other
// tenant's queries); another account is not held to the first one's, and a place is free again once
// one of the exports ends, read to its end or left.
import { get, type ClientRequest, type IncomingMessage } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MAX_EXPORTS_PER_ACCOUNT } from '../../src/features/exports/export-slots.js';
import type { TestApp } from '../helpers/app.js';
import { registerUser, type RegisteredUser } from '../helpers/factories.js';
import { untilStatus } from '../helpers/until-status.js';
import { seededExports } from './seeded.js';

let t: TestApp;
let base: string;
let owner: RegisteredUser;

beforeAll(async () => {
  // Far more than the socket buffers between server and client hold: an export not read stays open.
  ({ t, base, owner } = await seededExports(300, "jsonb_build_object('blob', repeat('x', 100000))"));
}, 120_000);
afterAll(async () => {
  await t?.close();
});

/** An export whose first bytes arrived and which is then not read. */
function heldExport(user: RegisteredUser): Promise<{ request: ClientRequest; response: IncomingMessage }> {
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

describe('exports read at once by one account', () => {
  it(`are ${MAX_EXPORTS_PER_ACCOUNT} at most; another account is not held to them, and a place is free again once one ends`, { timeout: 60_000 }, async () => {
    const held = await Promise.all(Array.from({ length: MAX_EXPORTS_PER_ACCOUNT }, () => heldExport(owner)));
    expect(held.map(({ response }) => response.statusCode)).toEqual(held.map(() => 200));

    const refused = await exportOf(owner);
    expect(refused.status).toBe(429);
    expect(refused.headers.get('content-type')).toMatch(/^application\/problem\+json/);
    expect(Number(refused.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(await refused.json()).toMatchObject({ code: 'rate_limited' });

    const other = await registerUser(t);
    const theirs = await exportOf(other);
    expect(theirs.status).toBe(200);
    expect(await theirs.text()).toBe('');

    // One of the held exports is left: once the server has heard, the account may start another.
    held[0]!.request.destroy();
    const again = await untilStatus(() => exportOf(owner));
    expect(again.status).toBe(200);
    expect((await again.text()).trim().split('\n')).toHaveLength(300);
    // The export read to its end gave its place back too.
    const last = await exportOf(owner);
    expect(last.status).toBe(200);
    await last.body?.cancel();
    held[1]!.request.destroy();
  });
});
