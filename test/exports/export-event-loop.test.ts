// A bulk export on the embedded database, read by a client that keeps up. PGlite answers a query
// inside its promise, without the event loop turning in between, and the export asks for its next
// batch as soon as the last one is written: one export of 20,000 conversations ran as one chain
// and held every other request (`/health` included) for 1.6 s on this machine, 100,000 for
// seconds. While an export is read, other requests keep being answered.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { timedHealth } from '../helpers/timed-health.js';
import { seededExports, type Seeded } from './seeded.js';

const url = process.env.TEST_DATABASE_URL;
const CONVERSATIONS = 20_000;
/** As test/chat/knowledge-uploads-load.test.ts: far above a free event loop, far below the freeze. */
const STALL_BOUND_MS = 500;

// A server's answers come through the event loop: PostgreSQL never held it.
describe.runIf(!url)('an export on the embedded database', () => {
  let seeded: Seeded;
  beforeAll(async () => {
    seeded = await seededExports(CONVERSATIONS, "jsonb_build_object('n', i)");
  }, 120_000);
  afterAll(async () => {
    await seeded?.t.close();
  });

  it('leaves /health answering while it is read', { timeout: 120_000 }, async () => {
    const { base, owner, chatbot } = seeded;
    let reading = true;
    const exported = fetch(`${base}/v1/exports/conversations?chatbot_id=${chatbot.id}&format=ndjson`, { headers: { authorization: `Bearer ${owner.accessToken}` } })
      .then(async (response) => ({ status: response.status, lines: (await response.text()).split('\n').filter(Boolean).length }))
      .finally(() => (reading = false));
    const waits: number[] = [];
    while (reading) waits.push(await timedHealth(base));
    expect(await exported).toEqual({ status: 200, lines: CONVERSATIONS });
    expect(Math.max(...waits), `/health waited ${waits.map(Math.round).join(', ')} ms`).toBeLessThan(STALL_BOUND_MS);
  });
});
