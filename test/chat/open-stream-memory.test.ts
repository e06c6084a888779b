// An open stream holds its reply, not its prompt. Each one held its conversation's history for as
// long as the reply ran: in the turn's plan, in the request's messages and in the JSON sent to the
// model, all kept by frames and closures that last as long as the stream. At a full context
// budget that is some 60 kB a stream, for minutes: ten thousand open streams over long
// conversations held gigabytes. The OpenAI and AI SDK channels' callers send the history
// themselves, up to BODY_LIMIT, and the request kept their body as long. Read on the heap after
// full collections, while a model keeps every stream open; the model is a fake in a process of its
// own, whose records of what it was sent would otherwise hold the same text in this one.
import { spawn, type ChildProcess } from 'node:child_process';
import { request } from 'node:http';
import { createInterface } from 'node:readline';
import { runInNewContext } from 'node:vm';
import { setFlagsFromString } from 'node:v8';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { newId } from '../../src/lib/ids.js';
import { createTestApp, type TestApp } from '../helpers/app.js';
import { createApiKey } from '../helpers/api-keys.js';
import { createChatbot, createConversation, fakeLlmEnv, listen } from '../helpers/chat.js';
import { bearer, registerUser, type RegisteredUser } from '../helpers/factories.js';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

const STREAMS = 4;
const TURNS = 24;
const CHARS = 30_000;

let fake: ChildProcess;
let modelUrl: Promise<string>;
let t: TestApp;
let base: string;
let user: RegisteredUser;
const open: Array<() => void> = [];

/** The fake model in its own process: the first words at once, the next ones ten minutes later. */
async function startSlowModel(): Promise<string> {
  fake = spawn(process.execPath, ['--import', 'tsx', new URL('../fake-llm/main.ts', import.meta.url).pathname], {
    env: { ...process.env, PORT: '0', FAKE_LLM_FIRST_TOKEN_DELAY_MS: '0', FAKE_LLM_CHUNK_DELAY_MS: '600000' },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  for await (const line of createInterface({ input: fake.stdout! })) return (JSON.parse(line) as { url: string }).url;
  throw new Error('the fake model ended before it listened');
}

beforeAll(async () => {
  // A budget that holds the whole history, so every word of it goes into each prompt.
  modelUrl = startSlowModel();
  t = await createTestApp(fakeLlmEnv(await modelUrl, { CONTEXT_TOKEN_BUDGET: '400000' }));
  base = await listen(t);
  user = await registerUser(t);
}, 60_000);
afterAll(async () => {
  for (const leave of open.splice(0)) leave();
  await t?.close();
  fake?.kill();
});

async function until<T>(read: () => Promise<T | null>): Promise<T> {
  for (let tries = 0; tries < 200; tries++) {
    const value = await read();
    if (value !== null) return value;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`the replies were not stored within 10 s: ${JSON.stringify(await read().catch(String))}`);
}

function heapAfterGc(): number {
  for (let i = 0; i < 3; i++) gc();
  return process.memoryUsage().heapUsed;
}

/** A conversation with TURNS earlier exchanges of CHARS-character questions, stored as turns store them. */
async function longConversation(n: number): Promise<string> {
  const { id } = await createConversation(t, user);
  for (let turn = 0; turn < TURNS; turn++) {
    const words = `question ${n}.${turn}: ${'harbour lantern tide gull rope anchor keel '.repeat(CHARS / 43)}`.slice(0, CHARS);
    for (const [role, content] of [['user', words], ['assistant', `Answer ${n}.${turn}.`]] as const) {
      await t.database.sql.query(
        `INSERT INTO messages (id, conversation_id, user_id, role, content, status, tokens, created_at) VALUES ($1, $2, $3, $4, $5, 'complete', $6, now())`,
        [newId(), id, user.id, role, content, Math.ceil(content.length / 5)],
      );
    }
  }
  await t.database.sql.query(`UPDATE conversations SET message_count = $2 WHERE id = $1`, [id, TURNS * 2]);
  return id;
}

/**
 * Posts `body` to `path`; resolves once the stream's first words (what `marker` matches) arrived,
 * the stream left open. `body` is used outside every closure here: this process is the server's too, and what the
 * client kept would count as held.
 */
function streamUntil(path: string, token: string, body: unknown, marker: RegExp): Promise<void> {
  const req = request(`${base}${path}`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', accept: 'text/event-stream' },
  });
  const started = new Promise<void>((resolve, reject) => {
    req.on('response', (res) => {
      if (res.statusCode !== 200) return reject(new Error(`stream answered ${res.statusCode}`));
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (part: string) => {
        text += part;
        if (marker.test(text)) resolve();
      });
    });
    req.on('error', reject);
  });
  open.push(() => req.destroy());
  req.end(JSON.stringify(body));
  return started;
}

const streamUntilFirstWords = (conversationId: string) =>
  streamUntil(`/v1/conversations/${conversationId}/messages`, user.accessToken, { content: 'And then?', stream: true }, /event: message\.delta/);

/** A caller's own copy of a long conversation, as the OpenAI and AI SDK channels are sent it. */
function callersHistory(n: number): Array<{ role: 'user' | 'assistant'; content: string }> {
  const history: Array<{ role: 'user' | 'assistant'; content: string }> = [];
  for (let turn = 0; turn < TURNS; turn++) {
    history.push({ role: 'user', content: `question ${n}.${turn}: ${'harbour lantern tide gull rope anchor keel '.repeat(CHARS / 43)}`.slice(0, CHARS) });
    history.push({ role: 'assistant', content: `Answer ${n}.${turn}.` });
  }
  return [...history, { role: 'user', content: 'And then?' }];
}

/** Heap the streams `open` hold once their first words came, over as many opened before and held. */
async function heapHeldBy(openOne: (n: number) => Promise<void>): Promise<number> {
  await Promise.all(Array.from({ length: STREAMS }, (_, n) => openOne(STREAMS + n)));
  const before = heapAfterGc();
  await Promise.all(Array.from({ length: STREAMS }, (_, n) => openOne(n)));
  const held = heapAfterGc() - before;
  for (const leave of open.splice(0)) leave();
  return held;
}

describe('an open stream', () => {
  it("holds its reply, not its conversation's history", async () => {
    const conversations = [];
    for (let n = 0; n < 2 * STREAMS; n++) conversations.push(await longConversation(n));
    const measured = conversations.slice(0, STREAMS);
    const history = STREAMS * TURNS * CHARS;

    // As many streams over long conversations first, and held open: what the process makes once
    // for such streams (code the engine optimises after a few, caches) is then in the baseline,
    // whatever file ran before this. One over a short conversation left 766 KB of that counted.
    await Promise.all(conversations.slice(STREAMS).map((id) => streamUntilFirstWords(id)));
    const before = heapAfterGc();
    await Promise.all(measured.map((id) => streamUntilFirstWords(id)));
    const held = heapAfterGc() - before;
    // Before: 2.1 times the history (its text, and its JSON).
    expect(held).toBeLessThan(history / 4);

    // And the whole history was in each prompt: the replies, kept once their clients left, count it.
    for (const leave of open.splice(0)) leave();
    for (const id of measured) {
      const reply = await until(async () => {
        const last = (await t.request({ method: 'GET', url: `/v1/conversations/${id}/messages?limit=100`, headers: bearer(user.accessToken) })).json().data.at(-1);
        return last.role === 'assistant' && last.status === 'interrupted' ? last : null;
      });
      expect(reply.usage.prompt_tokens).toBeGreaterThan(TURNS * Math.ceil(CHARS / 5));
    }
  });

  it('of the chat completions endpoint holds its answer, not the conversation its caller sent', async () => {
    const bot = await createChatbot(t, user, { name: 'Front desk' });
    const { key } = await createApiKey(t, user, bot.id);
    // The model's first words, not the role chunk's empty content: until they come, a retry may
    // need the prompt.
    const held = await heapHeldBy((n) =>
      streamUntil('/v1/chat/completions', key, { model: bot.slug, stream: true, messages: callersHistory(n) }, /"content":"[^"]/),
    );
    // Before: 1.1 times what the callers sent (the request kept its body).
    expect(held).toBeLessThan((STREAMS * TURNS * CHARS) / 4);
  });

  it('of the AI SDK chat holds its answer, not the history its client sent', async () => {
    const held = await heapHeldBy((n) =>
      streamUntil(
        '/v1/ai-sdk/chat',
        user.accessToken,
        {
          id: `memory-${n}-${Date.now()}`,
          trigger: 'submit-message',
          messages: callersHistory(n).map((m, i) => ({ id: `m${i}`, role: m.role, parts: [{ type: 'text', text: m.content }] })),
        },
        /"type":"text-delta"/,
      ),
    );
    // Before: 1.1 times what the clients sent, though only their last message is taken.
    expect(held).toBeLessThan((STREAMS * TURNS * CHARS) / 4);
  });
});

describe('a whole (not streamed) chat completion, while the model answers', () => {
  let small: TestApp;
  let smallBase: string;
  beforeAll(async () => {
    // The default context budget: a prompt of about 32,000 characters from a conversation of 720,000.
    small = await createTestApp(fakeLlmEnv(await modelUrl));
    smallBase = await listen(small);
  }, 60_000);
  afterAll(async () => {
    for (const leave of open.splice(0)) leave();
    await small?.close();
  });

  it('holds the prompt it may need to send again, not the conversation its caller sent', async () => {
    const owner = await registerUser(small);
    const bot = await createChatbot(small, owner, { name: 'Back office' });
    const { key } = await createApiKey(small, owner, bot.id);
    const asked = async () => ((await (await fetch(`${new URL(await modelUrl).origin}/_fake/stats`)).json()) as { received: number }).received;
    /** Posts a caller's whole conversation; resolves once the model has it (and answers for ten minutes). */
    const ask = async (n: number) => {
      const started = await asked();
      const req = request(`${smallBase}/v1/chat/completions`, { method: 'POST', headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' } });
      req.on('error', () => {});
      open.push(() => req.destroy());
      req.end(JSON.stringify({ model: bot.slug, messages: callersHistory(n) }));
      await until(async () => ((await asked()) > started ? true : null));
    };
    // As many asked first, and held open too: what the process makes once for such calls (code the
    // engine optimises after a few, caches) is then in the baseline, whatever file ran before this.
    for (let n = STREAMS; n < 2 * STREAMS; n++) await ask(n);
    const before = heapAfterGc();
    for (let n = 0; n < STREAMS; n++) await ask(n);
    const held = heapAfterGc() - before;
    for (const leave of open.splice(0)) leave();
    // Before: 1.1 times what the callers sent (the request kept its body until the answer).
    expect(held).toBeLessThan((STREAMS * TURNS * CHARS) / 4);
  });
});
