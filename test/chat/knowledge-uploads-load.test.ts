import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, type TestApp } from '../helpers/app.js';
import { listen } from '../helpers/chat.js';
import { LARGE_DOCUMENTS } from '../helpers/documents.js';
import { registerUser, type RegisteredUser } from '../helpers/factories.js';
import { timedHealth } from '../helpers/timed-health.js';

// Issue 10, point 2: one large upload froze every tenant's requests for up to 20 s (chunking
// and storing ran on the thread that answers everyone). While the largest documents the
// service accepts are processed, other requests keep being answered.

/**
 * Far above what a free event loop shows (about 20 ms here, on a quiet machine), ten times below
 * the seconds the freeze lasted, so a busy test machine does not decide it: CI once saw 765 ms on
 * a machine slow to page memory in, with another test file sharing its two cores. The 100 ms
 * target is measured by the benchmark (bench/, uploads phase).
 */
const STALL_BOUND_MS = 2_000;

let t: TestApp;
let base: string;
let owner: RegisteredUser;
beforeAll(async () => {
  t = await createTestApp();
  base = await listen(t);
  owner = await registerUser(t);
});
afterAll(async () => {
  await t.close();
});

async function upload(chatbotId: string, title: string, content: string): Promise<{ status: number; body: any }> {
  const response = await fetch(`${base}/v1/chatbots/${chatbotId}/knowledge`, {
    method: 'POST',
    headers: { authorization: `Bearer ${owner.accessToken}`, 'content-type': 'application/json' },
    body: JSON.stringify({ title, content }),
  });
  return { status: response.status, body: await response.json() };
}

describe('a large knowledge upload', () => {
  it.each(LARGE_DOCUMENTS)('of %s leaves /health answering while it is chunked and stored', { timeout: 60_000 }, async (label, make) => {
    const bot = await fetch(`${base}/v1/chatbots`, {
      method: 'POST',
      headers: { authorization: `Bearer ${owner.accessToken}`, 'content-type': 'application/json' },
      body: JSON.stringify({ name: label }),
    }).then((response) => response.json() as Promise<{ id: string }>);
    const content = make();

    let uploading = true;
    const waits: number[] = [];
    const probing = (async () => {
      while (uploading) {
        waits.push(await timedHealth(base));
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
    })();
    const added = await upload(bot.id, label, content);
    uploading = false;
    await probing;

    expect(added.status, JSON.stringify(added.body)).toBe(201);
    expect(added.body.chunk_count).toBeGreaterThan(1);
    const stored = await t.database.sql.query<{ n: number | string }>('SELECT count(*) AS n FROM knowledge_chunks WHERE document_id = $1', [added.body.id]);
    expect(Number(stored[0]!.n)).toBe(added.body.chunk_count);
    // Health was asked all along, and never waited behind the upload.
    expect(waits.length).toBeGreaterThan(5);
    expect(Math.max(...waits), `/health waited ${waits.map(Math.round).join(', ')} ms`).toBeLessThan(STALL_BOUND_MS);
  });
});
