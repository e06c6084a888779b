// `parley backup` while chats run against a real server process on the embedded database, then
// `parley restore` into another DATA_DIR and a server there: the same users sign in (their tokens
// too: the generated JWT secret travels with the backup) and read the same conversations, each one
// whole as of the backup's point. Every process gets its own DATA_DIR and no DATABASE_URL, so
// this runs the same with TEST_DATABASE_URL set.
import { existsSync, readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { createPglite } from '../../src/db/pglite.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFakeLlm, type FakeLlm } from '../fake-llm/fake-llm.js';
import { fakeLlmEnv } from '../helpers/chat.js';
import { cliProcesses } from '../helpers/cli-process.js';
import { freePort } from '../helpers/ports.js';

const cli = cliProcesses();
const { tempDir, run } = cli;
const start = (args: string[], env: Record<string, string>) => cli.start(args, env, { prefix: 'parley-backup-cwd-' });

async function serve(env: Record<string, string>) {
  const port = await freePort();
  const server = start(['serve'], { ...env, PORT: String(port) });
  const base = `http://127.0.0.1:${port}`;
  let gone = false;
  void server.exited.then(() => (gone = true));
  for (let i = 0; i < 600 && !gone; i++) {
    if (await fetch(`${base}/health`).then((response) => response.ok, () => false)) return { ...server, base };
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`the server did not start:\n${server.stderr()}\n${server.stdout()}`);
}

async function call(base: string, method: string, path: string, token: string | null, body?: unknown) {
  const response = await fetch(`${base}${path}`, {
    method,
    headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  return { status: response.status, body: text.startsWith('{') ? JSON.parse(text) : text };
}

interface Message {
  id: string;
  role: 'user' | 'assistant';
  content: string;
  error?: string;
  status: string;
}

async function messagesOf(base: string, token: string, conversationId: string): Promise<Message[]> {
  const all: Message[] = [];
  for (let cursor: string | null = ''; cursor !== null; ) {
    const page = await call(base, 'GET', `/v1/conversations/${conversationId}/messages?limit=100${cursor ? `&cursor=${cursor}` : ''}`, token);
    expect(page.status).toBe(200);
    all.push(...(page.body.data as Message[]).map(({ id, role, content, status, error }) => ({ id, role, content, status, ...(error ? { error } : {}) })));
    cursor = page.body.next_cursor;
  }
  return all;
}

interface Chatter {
  username: string;
  password: string;
  token: string;
  conversations: string[];
}

let fake: FakeLlm;
let env: Record<string, string>;
let originalDir: string;
let original: Awaited<ReturnType<typeof serve>>;

beforeAll(async () => {
  // Replies arrive word by word, so turns are under way whenever the backup is taken.
  fake = await startFakeLlm({ chunkDelayMs: 10 });
  env = { ...fakeLlmEnv(fake.url), RATE_LIMIT_REGISTER_IP: '1000/1m', LOG_LEVEL: 'warn' };
  originalDir = tempDir('parley-backup-a-');
  original = await serve({ ...env, DATA_DIR: originalDir });
});

afterAll(async () => {
  cli.killAll();
  await fake?.close();
  cli.cleanUp();
});

async function chatter(base: string, n: number): Promise<Chatter> {
  const username = `backup_user_${n}_${Date.now()}`;
  const password = `a long enough password ${n}`;
  const registered = await call(base, 'POST', '/v1/auth/register', null, { username, password });
  expect(registered.status).toBe(201);
  const token = registered.body.access_token as string;
  const chatbot = await call(base, 'POST', '/v1/chatbots', token, { name: `Backup bot ${n}`, system_prompt: 'Answer briefly.' });
  expect(chatbot.status).toBe(201);
  const conversations: string[] = [];
  for (let i = 0; i < 2; i++) {
    const conversation = await call(base, 'POST', '/v1/conversations', token, { chatbot_id: chatbot.body.id });
    expect(conversation.status).toBe(201);
    conversations.push(conversation.body.id as string);
  }
  return { username, password, token, conversations };
}

/** Turns one after another in a conversation, streamed and whole in turn, until told to stop; returns the contents of those answered. */
async function chatLoop(base: string, token: string, conversationId: string, answered: string[], stop: () => boolean) {
  for (let i = 0; !stop(); i++) {
    const content = `turn ${i} of ${conversationId.slice(0, 8)}: tell me about the quick brown fox and the lazy dog`;
    const stream = i % 2 === 0;
    const sent = await call(base, 'POST', `/v1/conversations/${conversationId}/messages`, token, { content, stream });
    expect(sent.status, String(sent.body).slice(0, 300)).toBe(stream ? 200 : 201);
    if (stream) expect(sent.body).toContain('event: message.end');
    answered.push(content);
  }
}

describe('parley backup while chats run, and parley restore elsewhere', () => {
  it('restores to a server that serves the same users and conversations, each whole as of the backup', { timeout: 240_000 }, async () => {
    const base = original.base;
    const chatters = [await chatter(base, 1), await chatter(base, 2), await chatter(base, 3)];
    const answered = new Map(chatters.flatMap((c) => c.conversations.map((id) => [id, [] as string[]])));
    let stopped = false;
    const loops = chatters.flatMap((c) => c.conversations.map((id) => chatLoop(base, c.token, id, answered.get(id)!, () => stopped)));
    const turnsSoFar = () => [...answered.values()].reduce((sum, list) => sum + list.length, 0);
    while ([...answered.values()].some((list) => list.length < 2)) await new Promise((resolve) => setTimeout(resolve, 50));

    // Every turn answered before the backup starts must be in it.
    const answeredBefore = new Map([...answered].map(([id, list]) => [id, [...list]]));
    const file = join(tempDir('parley-backup-file-'), 'parley.backup');
    const backup = await run(['backup', file], { DATA_DIR: originalDir });
    expect(backup.code, backup.stderr).toBe(0);
    expect(backup.stderr).toMatch(/the server running on DATA_DIR \(pid \d+\) is copying its database/);
    expect(backup.stderr).toMatch(/^backup: wrote .*parley\.backup \([\d.]+ MB; .* at migration \d{4}_\w+, Parley [\d.]+\) from the running server/m);
    expect(existsSync(file)).toBe(true);
    expect(readdirSync(dirname(file))).toEqual(['parley.backup']);

    // The chats keep going after the backup, then stop.
    const afterBackup = turnsSoFar();
    while (turnsSoFar() < afterBackup + 6) await new Promise((resolve) => setTimeout(resolve, 50));
    stopped = true;
    await Promise.all(loops);

    const restoredDir = tempDir('parley-backup-b-');
    const restore = await run(['restore', file], { DATA_DIR: restoredDir });
    expect(restore.code, restore.stderr).toBe(0);
    expect(restore.stderr).toMatch(/^restore: DATA_DIR \(.*\) now holds the database of /m);
    expect(restore.stderr).toMatch(/^restore: the backup's generated JWT secret is in /m);
    const restored = await serve({ ...env, DATA_DIR: restoredDir });

    const inFlight: string[] = [];
    for (const c of chatters) {
      // The same account signs in, and a token of the original server still works: same secret.
      const login = await call(restored.base, 'POST', '/v1/auth/login', null, { username: c.username, password: c.password });
      expect(login.status).toBe(200);
      expect((await call(restored.base, 'GET', '/v1/auth/me', c.token)).body.username).toBe(c.username);
      const listed = await call(restored.base, 'GET', '/v1/conversations?limit=100', c.token);
      expect((listed.body.data as Array<{ id: string }>).map((conversation) => conversation.id).sort()).toEqual([...c.conversations].sort());

      for (const id of c.conversations) {
        const now = await messagesOf(base, c.token, id);
        const then = await messagesOf(restored.base, c.token, id);
        // Whole: every user message has its reply. A turn running at the backup's point (the last)
        // never ends on the restored server: it started there with that reply stored as cut short.
        then.forEach((message, i) => expect(message.role).toBe(i % 2 === 0 ? 'user' : 'assistant'));
        expect(then.length % 2).toBe(0);
        const last = then.at(-1);
        const cut = last?.status === 'failed' && last.error === 'server_stopped' && now[then.length - 1]?.status === 'complete';
        if (cut) {
          inFlight.push(id);
          expect(last).toEqual({ id: now[then.length - 1]!.id, role: 'assistant', content: '', status: 'failed', error: 'server_stopped' });
        }
        // Nothing the original had not committed, in the same order: a prefix of what it holds now.
        expect(then.slice(0, cut ? -1 : undefined)).toEqual(now.slice(0, cut ? then.length - 1 : then.length));
        for (const content of answeredBefore.get(id)!) {
          const at = then.findIndex((message) => message.role === 'user' && message.content === content);
          expect(at, `a turn answered before the backup: ${content}`).toBeGreaterThanOrEqual(0);
          expect(then[at + 1]?.role).toBe('assistant');
        }
        const conversation = await call(restored.base, 'GET', `/v1/conversations/${id}`, c.token);
        expect(conversation.body.message_count).toBe(then.length);
      }
    }

    // The restored server chats on, in every conversation: one whose last turn was whole, and one
    // whose turn was caught mid-way (held no longer, as after a crash: cut-turns.ts).
    for (const pick of [(id: string) => !inFlight.includes(id), (id: string) => inFlight.includes(id)]) {
      const c = chatters.find((one) => one.conversations.some(pick));
      const id = c?.conversations.find(pick);
      if (!c || !id) continue;
      const next = await call(restored.base, 'POST', `/v1/conversations/${id}/messages`, c.token, { content: 'and after the restore?' });
      expect(next.status, JSON.stringify(next.body)).toBe(201);
      expect(next.body.reply.content).toContain('and after the restore?');
    }

    restored.child.kill('SIGTERM');
    expect(await restored.exited).toBe(0);
    if (inFlight.length > 0) {
      const db = createPglite(join(restoredDir, 'pglite'));
      const { rows } = await db.query<{ id: string; busy: boolean }>('SELECT id, busy_reply_id IS NOT NULL AS busy FROM conversations WHERE id = ANY($1::uuid[])', [inFlight]);
      await db.close();
      expect(rows.map((row) => row.busy)).toEqual(inFlight.map(() => false));
    }
  });

  it('restore refuses while a server runs on DATA_DIR, and so does a second server', { timeout: 120_000 }, async () => {
    const file = join(tempDir('parley-backup-file-'), 'running.backup');
    expect((await run(['backup', file], { DATA_DIR: originalDir })).code).toBe(0);

    const restore = await run(['restore', file], { DATA_DIR: originalDir });
    expect(restore.code).toBe(1);
    expect(restore.stderr).toMatch(/^parley: DATA_DIR \(.*\) is in use by a running parley server \(pid \d+\): .*stop it first\n$/);
    // Nothing was touched, and the server still serves.
    expect(readdirSync(originalDir).filter((name) => name.startsWith('pglite'))).toEqual(['pglite']);
    expect((await fetch(`${original.base}/health`)).status).toBe(200);

    const second = await run(['serve'], { ...env, DATA_DIR: originalDir, PORT: String(await freePort()) });
    expect(second.code).toBe(1);
    expect(second.stderr).toMatch(/^parley: DATA_DIR \(.*\) is in use by a running parley server \(pid \d+\)/);
    expect((await fetch(`${original.base}/health`)).status).toBe(200);
  });

  it('a turn under way at the backup is in it as under way: its committed message, and the reply still owed', { timeout: 120_000 }, async () => {
    const c = await chatter(original.base, 4);
    const [id] = c.conversations;
    // The model never answers: the turn stays between its first commit and its last.
    fake.fail({ kind: 'hang' });
    const asking = new AbortController();
    const turn = fetch(`${original.base}/v1/conversations/${id}/messages`, {
      method: 'POST',
      headers: { authorization: `Bearer ${c.token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ content: 'a question the backup catches mid-way', stream: true }),
      signal: asking.signal,
    }).catch(() => null);
    while ((await messagesOf(original.base, c.token, id!)).length === 0) await new Promise((resolve) => setTimeout(resolve, 50));

    const file = join(tempDir('parley-backup-file-'), 'midway.backup');
    const backup = await run(['backup', file], { DATA_DIR: originalDir });
    expect(backup.code, backup.stderr).toBe(0);
    asking.abort();
    await turn;

    const restoredDir = tempDir('parley-backup-c-');
    const restore = await run(['restore', file], { DATA_DIR: restoredDir });
    expect(restore.code, restore.stderr).toBe(0);
    const db = createPglite(join(restoredDir, 'pglite'));
    try {
      const messages = await db.query<{ role: string; content: string }>('SELECT role, content FROM messages WHERE conversation_id = $1', [id]);
      expect(messages.rows).toEqual([{ role: 'user', content: 'a question the backup catches mid-way' }]);
      const conversation = await db.query<{ message_count: number; busy: boolean }>('SELECT message_count, busy_reply_id IS NOT NULL AS busy FROM conversations WHERE id = $1', [id]);
      expect(conversation.rows).toEqual([{ message_count: 1, busy: true }]);
    } finally {
      await db.close();
    }
  });
});
