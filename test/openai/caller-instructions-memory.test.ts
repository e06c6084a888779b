// A key holder's `system` messages on /v1/chat/completions differ from call to call. They are
// part of the prompt's stable system message, whose token count is remembered across turns;
// each ~900 KB text used to stay in that memory (1,000 entries keyed by the whole text) until
// 1,000 others pushed it out: 150 calls held 128 MB. Nothing of a call should outlive its answer.
import { runInNewContext } from 'node:vm';
import { setFlagsFromString } from 'node:v8';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApiKey } from '../helpers/api-keys.js';
import { createTestApp, type TestApp } from '../helpers/app.js';
import { createChatbot } from '../helpers/chat.js';
import { bearer, registerUser } from '../helpers/factories.js';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

let t: TestApp;
let key: string;
let slug: string;
beforeAll(async () => {
  // The builtin responder: no upstream, the prompt is still built and counted as for a real model.
  // A budget that holds these instructions (a large-context model's), so every call is answered.
  t = await createTestApp({ RATE_LIMIT_API_KEY: '100000/1m', RATE_LIMIT_API_KEY_USER: '100000/1m', CONTEXT_TOKEN_BUDGET: '400000' });
  const owner = await registerUser(t);
  const bot = await createChatbot(t, owner, { name: 'Front desk' });
  slug = bot.slug;
  key = (await createApiKey(t, owner.accessToken, bot.id)).key;
});
afterAll(async () => {
  await t?.close();
});

function heapAfterGc(): number {
  for (let i = 0; i < 3; i++) gc();
  return process.memoryUsage().heapUsed;
}

const CALLS = 150;
// ~900 KB of ordinary words, under the 1 MiB body limit.
const FILLER = 'Answer politely and mention the hotel breakfast hours. '.repeat(16_000);

function ask(system: string) {
  const payload = JSON.stringify({ model: slug, messages: [{ role: 'system', content: system }, { role: 'user', content: 'Hello' }] });
  return t.request({ method: 'POST', url: '/v1/chat/completions', headers: { ...bearer(key), 'content-type': 'application/json' }, payload });
}

describe("a client's system messages on /v1/chat/completions", () => {
  it(`are not kept after the answer: ${CALLS} calls with a different ~900 KB system message each leave the heap as it was`, { timeout: 240_000 }, async () => {
    expect(FILLER.length).toBeGreaterThan(850_000);
    // Warm up (table load, first compilations) before the baseline.
    for (let i = 0; i < 3; i++) expect((await ask(`warm ${i} ${FILLER}`)).statusCode).toBe(200);
    const before = heapAfterGc();
    for (let i = 0; i < CALLS; i++) {
      const answer = await ask(`Request ${i}. ${FILLER}`);
      expect(answer.statusCode, answer.body.slice(0, 300)).toBe(200);
    }
    const grownMb = (heapAfterGc() - before) / 1024 / 1024;
    // 150 × 900 KB kept would be 128 MB or more; a few MB is noise.
    expect(grownMb, `heap retained after ${CALLS} calls: ${grownMb.toFixed(0)} MB`).toBeLessThan(40);
  });
});
