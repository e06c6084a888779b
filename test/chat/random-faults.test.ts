// Sixteen clients of one account do random things to eight conversations at once for 10 s, over
// real sockets: turns, streams cut after a few milliseconds, stops, regenerations, clearing and
// deleting conversations mid-reply, uploads, and requests whose body stops halfway as the client
// leaves. Every answer must be one a client can act on, the log must hold no fault of ours, and
// afterwards every conversation must take a message. Found this way: each request cut mid-body
// was logged as a database outage (627 warnings in 20 s; test/http/node-errors.test.ts).
import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFakeLlm, type FakeLlm } from '../fake-llm/fake-llm.js';
import { createTestApp, type TestApp } from '../helpers/app.js';
import { createChatbot, createConversation, fakeLlmEnv, listen } from '../helpers/chat.js';
import { bearer, registerUser, type RegisteredUser } from '../helpers/factories.js';
import { untilStatus } from '../helpers/until-status.js';
import { parseCsv } from '../exports/csv-parse.js';

const SECONDS = 10;
const CLIENTS = 16;

let fake: FakeLlm;
let t: TestApp;
let base: string;
beforeAll(async () => {
  fake = await startFakeLlm({ chunkDelayMs: 2 });
  t = await createTestApp(
    fakeLlmEnv(fake.url, {
      RATE_LIMIT_MESSAGES_USER: 'off',
      RATE_LIMIT_KNOWLEDGE_USER: 'off',
      RATE_LIMIT_PUBLIC_IP: 'off',
      RATE_LIMIT_PUBLIC_VISITOR: 'off',
      RATE_LIMIT_PUBLIC_CHATBOT: 'off',
      RATE_LIMIT_API_KEY: 'off',
      RATE_LIMIT_API_KEY_USER: 'off',
    }),
  );
  base = await listen(t);
});
afterAll(async () => {
  await t?.close();
  await fake?.close();
});

const pick = <T>(items: T[]): T => items[Math.floor(Math.random() * items.length)]!;

function load(user: RegisteredUser, bot: string, conversations: string[]) {
  const seen = new Map<string, number>();
  const count = (what: string) => seen.set(what, (seen.get(what) ?? 0) + 1);
  const call = async (what: string, method: string, path: string, body?: unknown) => {
    const response = await fetch(base + path, {
      method,
      headers: { ...bearer(user.accessToken), ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    await response.arrayBuffer();
    count(`${what} ${response.status}`);
    return response.status;
  };
  // `fromHead`: the time runs from the answer's head, so that the client leaves mid-reply; timed
  // from the request, a loaded machine took longer than 300 ms to every head, and no stream was
  // ever answered 200 (test/chat run with a CPU hog).
  const cutStream = async (ms: number, fromHead = false) => {
    const leave = new AbortController();
    let timer = fromHead ? undefined : setTimeout(() => leave.abort(), ms);
    try {
      const response = await fetch(`${base}/v1/conversations/${pick(conversations)}/messages`, {
        method: 'POST',
        signal: leave.signal,
        headers: { ...bearer(user.accessToken), 'content-type': 'application/json' },
        body: JSON.stringify({ content: `tell me more ${Math.random()}`, stream: true }),
      });
      count(`stream ${response.status}`);
      timer ??= setTimeout(() => leave.abort(), ms);
      await response.arrayBuffer();
    } catch {
      count('stream left');
    } finally {
      clearTimeout(timer);
    }
  };
  const cutBody = (path: string, body: unknown) =>
    new Promise<void>((resolve) => {
      const bytes = Buffer.from(JSON.stringify(body));
      const socket = connect(Number(new URL(base).port), '127.0.0.1', () => {
        socket.write(`POST ${path} HTTP/1.1\r\nhost: x\r\nauthorization: Bearer ${user.accessToken}\r\ncontent-type: application/json\r\ncontent-length: ${bytes.length}\r\n\r\n`);
        socket.write(bytes.subarray(0, Math.floor(bytes.length * Math.random())));
        setTimeout(() => socket.destroy(), Math.random() * 50);
      });
      socket.on('error', () => {});
      socket.on('close', () => resolve());
      count('cut body');
    });
  const actions: Array<() => Promise<unknown>> = [
    () => call('turn', 'POST', `/v1/conversations/${pick(conversations)}/messages`, { content: `hello ${Math.random()}` }),
    () => cutStream(Math.random() * 30),
    () => cutStream(Math.random() * 300, true),
    () => call('stop', 'POST', `/v1/conversations/${pick(conversations)}/stop`),
    () => call('regenerate', 'POST', `/v1/conversations/${pick(conversations)}/regenerate`),
    () => call('clear', 'DELETE', `/v1/conversations/${pick(conversations)}/messages`),
    () => call('upload', 'POST', `/v1/chatbots/${bot}/knowledge`, { title: 'Returns', content: 'Returns within 30 days. '.repeat(500) }),
    () => cutBody(`/v1/chatbots/${bot}/knowledge`, { title: 'Cut', content: 'word '.repeat(20_000) }),
    () => cutBody(`/v1/conversations/${pick(conversations)}/messages`, { content: 'cut', stream: true }),
    () => call('chat', 'POST', '/v1/chat', { message: 'hi', chatbot_id: bot }),
    async () => {
      const index = Math.floor(Math.random() * conversations.length);
      if ((await call('delete', 'DELETE', `/v1/conversations/${conversations[index]}`)) === 204) {
        conversations[index] = (await createConversation(t, user, { chatbot_id: bot })).id;
      }
    },
  ];
  return { seen, actions };
}

describe('random faults under load', () => {
  it(`leaves nothing busy, answers nothing 5xx and logs no fault of ours after ${SECONDS} s`, { timeout: 90_000 }, async () => {
    const user = await registerUser(t);
    const bot = (await createChatbot(t, user, { name: 'Random faults' })).id as string;
    const conversations: string[] = [];
    for (let i = 0; i < 8; i++) conversations.push((await createConversation(t, user, { chatbot_id: bot })).id);
    const { seen, actions } = load(user, bot, conversations);
    const until = Date.now() + SECONDS * 1000;
    await Promise.all(
      Array.from({ length: CLIENTS }, async () => {
        while (Date.now() < until) await pick(actions)();
      }),
    );
    console.log('random faults:', JSON.stringify(Object.fromEntries([...seen].sort())));

    const answered = [...seen.keys()].filter((what) => /^\w+ \d{3}$/.test(what));
    expect(answered.filter((what) => !/ (200|201|204|404|409)$/.test(what))).toEqual([]);
    // Premise: the faults happened, and so did the work around them.
    for (const what of ['turn 201', 'stream 200', 'stream left', 'stop 200', 'regenerate 201', 'clear 204', 'delete 204', 'upload 201', 'cut body']) {
      expect(seen.get(what), what).toBeGreaterThan(0);
    }
    // Every conversation is free again once the cut replies are stored (a stop is honoured within 0.5 s).
    for (const id of conversations) {
      await expect
        .poll(async () => (await t.request({ method: 'POST', url: `/v1/conversations/${id}/messages`, headers: bearer(user.accessToken), payload: { content: 'after' } })).statusCode, { timeout: 10_000 })
        .toBe(201);
    }
    expect((await fetch(`${base}/health`)).status).toBe(200);
    expect(t.logs.filter((line) => /"level":(40|50|60)/.test(line))).toEqual([]);
  });
});

/** A request whose answer is read until `ms` have passed, then left; null when the client left before the answer's head. */
async function leaveAfter(url: string, init: RequestInit, ms: number): Promise<number | null> {
  const leave = new AbortController();
  const timer = setTimeout(() => leave.abort(), ms);
  try {
    const response = await fetch(url, { ...init, signal: leave.signal });
    await response.arrayBuffer();
    return response.status;
  } catch {
    return null;
  } finally {
    clearTimeout(timer);
  }
}

describe('random faults on the channels', () => {
  it(`visitors, an API key and its owner at once for ${SECONDS} s, the chatbot made private and keys revoked meanwhile: no 5xx, no warning`, { timeout: 150_000 }, async () => {
    const owner = await registerUser(t);
    const slug = `faults-${Date.now().toString(36)}`;
    const bot = (await createChatbot(t, owner, { name: 'Channel faults', slug, is_public: true, greeting: 'Hi' })).id as string;
    const ownerCall = (method: string, url: string, payload?: object) => t.request({ method: method as 'GET', url, headers: bearer(owner.accessToken), ...(payload ? { payload } : {}) });
    let key = (await ownerCall('POST', `/v1/chatbots/${bot}/keys`, { name: 'backend' })).json() as { id: string; key: string };
    const visits: Array<{ conversation: string; token: string }> = [];
    let toggling = false;
    const seen = new Map<string, number>();
    const count = (what: string, status: number | null) => seen.set(`${what} ${status ?? 'left'}`, (seen.get(`${what} ${status ?? 'left'}`) ?? 0) + 1);
    const json = (token: string | null, body: unknown): RequestInit => ({ method: 'POST', headers: { ...(token ? bearer(token) : {}), 'content-type': 'application/json' }, body: JSON.stringify(body) });
    const completion = (stream: boolean) => ({ model: slug, user: `customer-${Math.floor(Math.random() * 4)}`, stream, messages: [{ role: 'user', content: `hello ${Math.random()}` }] });
    const actions: Array<() => Promise<unknown>> = [
      async () => {
        const response = await fetch(`${base}/v1/public/chatbots/${slug}/conversations`, json(null, { visitor_id: `browser-${Math.floor(Math.random() * 4)}` }));
        const body = (await response.json()) as { conversation_id?: string; visitor_token?: string };
        count('visit', response.status);
        if (body.conversation_id && body.visitor_token) visits.splice(Math.floor(Math.random() * 8), 1, { conversation: body.conversation_id, token: body.visitor_token });
      },
      async () => {
        if (visits.length === 0) return;
        const visit = pick(visits);
        count('visitor turn', await leaveAfter(`${base}/v1/public/conversations/${visit.conversation}/messages`, json(visit.token, { content: `hi ${Math.random()}`, stream: Math.random() < 0.5 }), Math.random() < 0.5 ? 10_000 : Math.random() * 100));
      },
      async () => count('completion', await leaveAfter(`${base}/v1/chat/completions`, json(key.key, completion(false)), 10_000)),
      async () => count('completion stream', await leaveAfter(`${base}/v1/chat/completions`, json(key.key, completion(true)), Math.random() * 100)),
      async () => count('key conversation', await leaveAfter(`${base}/v1/conversations`, json(key.key, { user: `customer-${Math.floor(Math.random() * 4)}` }), 10_000)),
      async () => count('inbox', (await ownerCall('GET', `/v1/chatbots/${bot}/conversations`)).statusCode),
      async () => {
        if (visits.length === 0) return;
        // Gone from the visits the clients use once deleted (turns already sent to it still meet the deletion).
        const visit = pick(visits);
        visits.splice(visits.indexOf(visit), 1);
        count('delete visit', (await ownerCall('DELETE', `/v1/conversations/${visit.conversation}`)).statusCode);
      },
      async () => {
        // Now and then, and one client at a time: with every client toggling it as often as it does
        // the rest, or several toggling at once (one's "public" landing inside another's private
        // spell), the chatbot was private most of the time (more visits refused than started), and
        // runs under load saw no visitor's turn answered.
        if (toggling || Math.random() < 0.75) return;
        toggling = true;
        try {
          count('private', (await ownerCall('PATCH', `/v1/chatbots/${bot}`, { is_public: false })).statusCode);
          await new Promise((resolve) => setTimeout(resolve, Math.random() * 200));
          count('public', (await ownerCall('PATCH', `/v1/chatbots/${bot}`, { is_public: true })).statusCode);
        } finally {
          toggling = false;
        }
      },
      async () => {
        const old = key;
        key = (await ownerCall('POST', `/v1/chatbots/${bot}/keys`, { name: 'backend' })).json() as { id: string; key: string };
        count('revoke key', (await ownerCall('DELETE', `/v1/chatbots/${bot}/keys/${old.id}`)).statusCode);
      },
    ];
    const premises = ['visit 201', 'visitor turn left', 'completion 200', 'completion stream left', 'revoke key 204'];
    // A visitor's turn answered: 201, or 200 when streamed. Most meet a deleted visit or the chatbot
    // made private (404); under load, a run once had no 201 among them, and three streamed 200s.
    const visitorTurnsAnswered = () => (seen.get('visitor turn 200') ?? 0) + (seen.get('visitor turn 201') ?? 0);
    // Ten seconds, and on a slow machine longer, until each of them has happened: a run with a
    // CPU hog had six visitor turns in its 10 s, none of them answered.
    const premised = () => premises.every((what) => (seen.get(what) ?? 0) > 0) && visitorTurnsAnswered() > 0;
    const until = Date.now() + SECONDS * 1000;
    const latest = until + 50_000;
    await Promise.all(
      Array.from({ length: CLIENTS }, async () => {
        while (Date.now() < latest && (Date.now() < until || !premised())) await pick(actions)();
      }),
    );
    console.log('random faults on the channels:', JSON.stringify(Object.fromEntries([...seen].sort())));

    expect([...seen.keys()].filter((what) => !/ (200|201|204|401|403|404|409|left)$/.test(what))).toEqual([]);
    for (const what of premises) expect(seen.get(what), what).toBeGreaterThan(0);
    expect(visitorTurnsAnswered(), 'visitor turns answered').toBeGreaterThan(0);
    expect((await fetch(`${base}/health`)).status).toBe(200);
    expect(t.logs.filter((line) => /"level":(40|50|60)/.test(line))).toEqual([]);
  });
});

describe('random faults while data is collected and exported', () => {
  it(`onboarding turns, exports read whole or left, deletions, for ${SECONDS} s: no 5xx, no warning, and a whole export after holds every conversation`, { timeout: 90_000 }, async () => {
    const collecting = await createTestApp({ LLM_PROVIDER: 'builtin', RATE_LIMIT_MESSAGES_USER: 'off' });
    try {
      const at = await listen(collecting);
      const owner = await registerUser(collecting);
      const bot = (await createChatbot(collecting, owner, { template: 'company-onboarding', name: '公司資料登錄' })).id as string;
      const conversations: string[] = [];
      for (let i = 0; i < 8; i++) conversations.push((await createConversation(collecting, owner, { chatbot_id: bot })).id);
      const answers = ['你好', '宏達電子股份有限公司', '電子業', '大約120人', '台灣', '陳小姐', 'chen-at-example', 'chen@example.com.tw', '智慧手錶', '健康監測手錶', 'NT$5,990', '完成'];
      const seen = new Map<string, number>();
      const count = (what: string, status: number | null) => seen.set(`${what} ${status ?? 'left'}`, (seen.get(`${what} ${status ?? 'left'}`) ?? 0) + 1);
      const get = (path: string, ms = 10_000) => leaveAfter(`${at}${path}`, { headers: bearer(owner.accessToken) }, ms);
      const actions: Array<() => Promise<unknown>> = [
        async () => {
          const init = { method: 'POST', headers: { ...bearer(owner.accessToken), 'content-type': 'application/json' }, body: JSON.stringify({ content: pick(answers), stream: Math.random() < 0.5 }) };
          count('turn', await leaveAfter(`${at}/v1/conversations/${pick(conversations)}/messages`, init, Math.random() < 0.7 ? 10_000 : Math.random() * 20));
        },
        async () => count('data', await get(`/v1/conversations/${pick(conversations)}/data`)),
        async () => count('export one', await get(`/v1/conversations/${pick(conversations)}/export`)),
        async () => count('export all', await get(`/v1/exports/conversations?chatbot_id=${bot}&format=${pick(['json', 'ndjson', 'csv'])}`, Math.random() < 0.5 ? 10_000 : Math.random() * 10)),
        async () => {
          const index = Math.floor(Math.random() * conversations.length);
          const deleted = (await collecting.request({ method: 'DELETE', url: `/v1/conversations/${conversations[index]}`, headers: bearer(owner.accessToken) })).statusCode;
          count('delete', deleted);
          if (deleted === 204) conversations[index] = (await createConversation(collecting, owner, { chatbot_id: bot })).id;
        },
      ];
      const until = Date.now() + SECONDS * 1000;
      await Promise.all(
        Array.from({ length: CLIENTS }, async () => {
          while (Date.now() < until) await pick(actions)();
        }),
      );
      console.log('random faults while collecting:', JSON.stringify(Object.fromEntries([...seen].sort())));

      // An account's third export at once waits for one of its others (429).
      expect([...seen.keys()].filter((what) => !/ (200|201|204|404|409|left)$/.test(what) && what !== 'export all 429')).toEqual([]);
      for (const what of ['turn 201', 'turn 200', 'turn left', 'export all 200', 'export all left', 'delete 204']) expect(seen.get(what), what).toBeGreaterThan(0);
      // Exports the clients left give their places back once the server hears they left.
      const csv = await untilStatus(() => fetch(`${at}/v1/exports/conversations?chatbot_id=${bot}&format=csv`, { headers: bearer(owner.accessToken) }));
      expect(csv.status).toBe(200);
      const rows = parseCsv((await csv.text()).replace(/^\uFEFF/, ''));
      const listed = rows.slice(1).map((row) => row[0]!.value);
      // The chatbot's conversations are exactly the eight still there: none deleted comes back, none is missing.
      expect([...listed].sort()).toEqual([...conversations].sort());
      expect(collecting.logs.filter((line) => /"level":(40|50|60)/.test(line))).toEqual([]);
    } finally {
      await collecting.close();
    }
  });
});

describe('random faults on the AI SDK channel', () => {
  it(`sends, regenerations, streams left and resumed, on six chats for ${SECONDS} s: no 5xx, no warning, every chat answers after`, { timeout: 90_000 }, async () => {
    const user = await registerUser(t);
    const chats = Array.from({ length: 6 }, (_, i) => `chat-${Date.now().toString(36)}-${i}`);
    const seen = new Map<string, number>();
    const count = (what: string, status: number | null) => seen.set(`${what} ${status ?? 'left'}`, (seen.get(`${what} ${status ?? 'left'}`) ?? 0) + 1);
    const send = (chat: string, trigger: 'submit-message' | 'regenerate-message') => ({
      method: 'POST',
      headers: { ...bearer(user.accessToken), 'content-type': 'application/json' },
      body: JSON.stringify({ id: chat, trigger, messages: [{ id: `m-${Math.random()}`, role: 'user', parts: [{ type: 'text', text: `hello ${Math.random()}` }] }] }),
    });
    const actions: Array<() => Promise<unknown>> = [
      async () => count('send', await leaveAfter(`${base}/v1/ai-sdk/chat`, send(pick(chats), 'submit-message'), 10_000)),
      async () => count('send', await leaveAfter(`${base}/v1/ai-sdk/chat`, send(pick(chats), 'submit-message'), Math.random() * 50)),
      async () => count('regenerate', await leaveAfter(`${base}/v1/ai-sdk/chat`, send(pick(chats), 'regenerate-message'), Math.random() < 0.5 ? 10_000 : Math.random() * 50)),
      async () => count('resume', await leaveAfter(`${base}/v1/ai-sdk/chat/${pick(chats)}/stream`, { headers: bearer(user.accessToken) }, Math.random() < 0.5 ? 10_000 : Math.random() * 50)),
    ];
    const until = Date.now() + SECONDS * 1000;
    await Promise.all(
      Array.from({ length: CLIENTS }, async () => {
        while (Date.now() < until) await pick(actions)();
      }),
    );
    console.log('random faults on the AI SDK channel:', JSON.stringify(Object.fromEntries([...seen].sort())));

    expect([...seen.keys()].filter((what) => !/ (200|204|404|409|left)$/.test(what))).toEqual([]);
    for (const what of ['send 200', 'send left', 'regenerate 200', 'resume 200']) expect(seen.get(what), what).toBeGreaterThan(0);
    for (const chat of chats) {
      await expect.poll(async () => (await leaveAfter(`${base}/v1/ai-sdk/chat`, send(chat, 'submit-message'), 10_000)), { timeout: 10_000 }).toBe(200);
    }
    expect(t.logs.filter((line) => /"level":(40|50|60)/.test(line))).toEqual([]);
  });
});
