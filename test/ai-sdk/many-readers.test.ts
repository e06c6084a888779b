// Many streams reading one running reply (GET /v1/ai-sdk/chat/{id}/stream), as a caller that
// opens them by the hundred would: they share one look at the database (reply-readers.ts), each
// still gets the whole reply, and past MAX_READERS on an instance a resume is refused with 429.
// Before, each stream read the database every 150 ms by itself: 500 of them from one account
// left another account's turns 37 times slower on the embedded database.
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MAX_READERS } from '../../src/features/ai-sdk/reply-readers.js';
import { startFakeLlm, type FakeLlm } from '../fake-llm/fake-llm.js';
import { createTestApp, type TestApp } from '../helpers/app.js';
import { fakeLlmEnv, listen } from '../helpers/chat.js';
import { bearer, registerUser, type RegisteredUser } from '../helpers/factories.js';
import { untilStatus } from '../helpers/until-status.js';

let llm: FakeLlm;
let t: TestApp;
let base: string;
let owner: RegisteredUser;

beforeAll(async () => {
  llm = await startFakeLlm({ chunkDelayMs: 60 });
  t = await createTestApp(fakeLlmEnv(llm.url));
  base = await listen(t);
  owner = await registerUser(t);
});
afterAll(async () => {
  await t?.close();
  await llm?.close();
});

type Chunk = { type: string; delta?: string; errorText?: string };

/** The UI message chunks of a whole stream body. */
function chunksOf(body: string): Chunk[] {
  return body
    .split('\n\n')
    .map((event) => event.split('\n').find((line) => line.startsWith('data: '))?.slice(6))
    .filter((data): data is string => data !== undefined && data !== '[DONE]')
    .map((data) => JSON.parse(data) as Chunk);
}

const textOf = (chunks: Chunk[]) => chunks.filter((chunk) => chunk.type === 'text-delta').map((chunk) => chunk.delta).join('');

/** Starts a slow reply in a new chat; resolves once its first text arrived, with the chat id and the rest of the stream. */
async function runningReply(reply: string) {
  llm.setReply(() => reply);
  const id = `chat_${randomBytes(6).toString('hex')}`;
  const response = await fetch(`${base}/v1/ai-sdk/chat`, {
    method: 'POST',
    headers: { ...bearer(owner.accessToken), 'content-type': 'application/json' },
    body: JSON.stringify({ id, trigger: 'submit-message', messages: [{ id: 'm1', role: 'user', parts: [{ type: 'text', text: 'talk slowly' }] }] }),
  });
  expect(response.status).toBe(200);
  const reader = response.body!.getReader();
  const decoder = new TextDecoder();
  let body = '';
  while (!body.includes('"text-delta"')) {
    const { value, done } = await reader.read();
    if (done) throw new Error(`the reply ended before its first text: ${body}`);
    body += decoder.decode(value, { stream: true });
  }
  const rest = (async () => {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return body;
      body += decoder.decode(value, { stream: true });
    }
  })();
  return { id, rest };
}

const resume = (id: string) => fetch(`${base}/v1/ai-sdk/chat/${id}/stream`, { headers: bearer(owner.accessToken) });

describe('many readers of one running reply', () => {
  it(`gives each of ${MAX_READERS} readers the whole reply and refuses one more with 429`, { timeout: 60_000 }, async () => {
    const reply = Array.from({ length: 60 }, (_, i) => `word${i}`).join(' ');
    const { id, rest } = await runningReply(reply);
    const readers = await Promise.all(Array.from({ length: MAX_READERS }, () => resume(id)));
    expect(readers.map((response) => response.status)).toEqual(readers.map(() => 200));

    const refused = await resume(id);
    expect(refused.status).toBe(429);
    expect(refused.headers.get('content-type')).toMatch(/^application\/problem\+json/);
    expect(Number(refused.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(await refused.json()).toMatchObject({ code: 'rate_limited' });

    for (const body of await Promise.all(readers.map((response) => response.text()))) {
      const chunks = chunksOf(body);
      expect(textOf(chunks)).toBe(reply);
      expect(chunks.at(-1)).toEqual({ type: 'finish' });
    }
    expect(textOf(chunksOf(await rest))).toBe(reply);
  });

  it('takes readers again once others leave, and a reader leaving does not end the others', { timeout: 60_000 }, async () => {
    const reply = Array.from({ length: 60 }, (_, i) => `word${i}`).join(' ');
    const { id, rest } = await runningReply(reply);
    const leaving = await Promise.all(Array.from({ length: MAX_READERS }, () => {
      const abort = new AbortController();
      return fetch(`${base}/v1/ai-sdk/chat/${id}/stream`, { headers: bearer(owner.accessToken), signal: abort.signal }).then((response) => ({ response, abort }));
    }));
    expect(leaving.map(({ response }) => response.status)).toEqual(leaving.map(() => 200));
    for (const { abort } of leaving.slice(1)) abort.abort();
    // Leaving is heard when the server next writes to those streams; a new reader is taken once it is.
    const again = await untilStatus(() => resume(id));
    expect(again.status).toBe(200);
    const [stayed, later] = await Promise.all([leaving[0]!.response.text(), again.text()]);
    expect(textOf(chunksOf(stayed))).toBe(reply);
    expect(textOf(chunksOf(later))).toBe(reply);
    expect(textOf(chunksOf(await rest))).toBe(reply);
  });
});
