// Resuming a chat whose id the router cannot take as one path segment: a chat id may have up to
// 200 characters (POST /v1/ai-sdk/chat takes them), while a path segment is matched up to 100,
// and ai 5's transport puts the id in the resume's path unencoded, so a slash in it makes two
// segments. Those resumes got the router's 404, which useChat's transport throws at every reload
// of the chat (`resume: true`), instead of the running reply or 204.
import { randomBytes } from 'node:crypto';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startFakeLlm, type FakeLlm } from '../fake-llm/fake-llm.js';
import { createTestApp, type TestApp } from '../helpers/app.js';
import { createApiKey } from '../helpers/api-keys.js';
import { createChatbot, fakeLlmEnv, listen } from '../helpers/chat.js';
import { bearer, registerUser, type RegisteredUser } from '../helpers/factories.js';
import { type Chunk, type Client, client, type ClientName, CLIENTS, collect, messageIdOf, textOf, until, userMessage } from './clients.js';

let llm: FakeLlm;
let t: TestApp;
let base: string;
let owner: RegisteredUser;
let key: { key: string };

beforeAll(async () => {
  llm = await startFakeLlm();
  t = await createTestApp(fakeLlmEnv(llm.url));
  base = await listen(t);
  owner = await registerUser(t);
  const bot = await createChatbot(t, owner, { name: 'Long ids' });
  key = await createApiKey(t, owner.accessToken, bot.id);
});
afterEach(() => llm.reset());
afterAll(async () => {
  await t?.close();
  await llm?.close();
});

/** A chat id of `length` characters, unlike any other. */
const longId = (length: number, prefix = 'chat') => `${prefix}_${randomBytes(8).toString('hex')}`.padEnd(length, 'x');
const reply = Array.from({ length: 25 }, (_, i) => `word${i}`).join(' ');

/** Starts a slow reply in the chat; resolves once its first words arrived. */
async function slowTurn(c: Client, chatId: string) {
  llm.setReply(() => reply);
  llm.setDelays({ chunkDelayMs: 60 });
  const seen: Chunk[] = [];
  const all = collect(await c.send({ chatId, messages: [userMessage('talk slowly')] }), (chunk) => seen.push(chunk));
  await until(() => seen.filter((chunk) => chunk.type === 'text-delta').length >= 3, 'the first words');
  return { seen, all };
}

async function resumesWhole(c: Client, chatId: string) {
  const { seen, all } = await slowTurn(c, chatId);
  const resumed = await c.reconnect(chatId);
  expect(resumed, 'a reply runs in the chat').not.toBeNull();
  const message = await c.assemble(await collect(resumed!));
  expect(message.id).toBe(messageIdOf(seen));
  expect(textOf(message)).toBe(reply);
  expect(textOf(await c.assemble(await all))).toBe(reply);
  // Stored now: nothing runs.
  expect(await c.reconnect(chatId)).toBeNull();
}

describe('a running reply resumed in a chat whose id is not one short path segment', () => {
  it.each(CLIENTS)('%s: an id of 101, 150 and 200 characters', async (name: ClientName) => {
    const c = client(name, base, { headers: bearer(owner.accessToken) });
    for (const length of [101, 150, 200]) await resumesWhole(c, longId(length));
  });

  it.each(CLIENTS)('%s: an id with slashes in it', async (name: ClientName) => {
    await resumesWhole(client(name, base, { headers: bearer(owner.accessToken) }), `orders/${randomBytes(4).toString('hex')}/help`);
  });

  it("a key's end user, with ?user=", async () => {
    const c = client('ai6', base, { headers: bearer(key.key), body: { user: 'customer-42' }, resumeQuery: 'user=customer-42' });
    await resumesWhole(c, longId(160));
  });
});

describe('the same addresses otherwise', () => {
  it('answer 204 for a chat never used; refuse a 201-character id as the body does (422) and a key without its end user (422)', async () => {
    const id = longId(150);
    const never = await fetch(`${base}/v1/ai-sdk/chat/${id}/stream`, { headers: bearer(owner.accessToken) });
    expect(never.status).toBe(204);
    const tooLong = await fetch(`${base}/v1/ai-sdk/chat/${longId(201)}/stream`, { headers: bearer(owner.accessToken) });
    expect(tooLong.status, await tooLong.text()).toBe(422);
    const noUser = await fetch(`${base}/v1/ai-sdk/chat/${id}/stream`, { headers: bearer(key.key) });
    expect(noUser.status, await noUser.text()).toBe(422);
    const noToken = await fetch(`${base}/v1/ai-sdk/chat/${id}/stream`);
    expect(noToken.status).toBe(401);
  });

  it('answer a browser\'s preflight as for a short id', async () => {
    const preflight = await fetch(`${base}/v1/ai-sdk/chat/${longId(150)}/stream`, {
      method: 'OPTIONS',
      headers: { origin: 'https://shop.example', 'access-control-request-method': 'GET', 'access-control-request-headers': 'authorization' },
    });
    expect(preflight.status).toBe(204);
    expect(preflight.headers.get('access-control-allow-origin')).toBe('https://shop.example');
    expect(preflight.headers.get('access-control-allow-headers')).toContain('authorization');
  });

  it('name nothing else: another path under the chat is the server\'s own not-found, with or without a token', async () => {
    for (const path of [`${longId(150)}/other`, `${longId(150)}/stream/more`, `${longId(20)}/other`]) {
      for (const headers of [bearer(owner.accessToken), {}]) {
        const response = await fetch(`${base}/v1/ai-sdk/chat/${path}`, { headers });
        const body = (await response.json()) as { code: string; detail: string };
        expect(response.status, path).toBe(404);
        expect(body.code).toBe('not_found');
        expect(body.detail).toMatch(/^No route GET /);
      }
    }
  });
});
