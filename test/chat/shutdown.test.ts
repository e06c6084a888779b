// Shutdown (§11): running replies get SHUTDOWN_GRACE_MS to finish; what is still running then
// is stopped and stored as interrupted, so no user message is left without its reply.
import http from 'node:http';
import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFakeLlm, type FakeLlm } from '../fake-llm/fake-llm.js';
import { createTestApp, createTestDatabase } from '../helpers/app.js';
import { chattingUser, fakeLlmEnv, listen, sendMessage } from '../helpers/chat.js';

let fake: FakeLlm;
beforeAll(async () => {
  fake = await startFakeLlm();
});
afterAll(async () => {
  await fake?.close();
});

async function storedReplies(database: Awaited<ReturnType<typeof createTestDatabase>>['database'], conversationId: string) {
  return database.sql.query<{ role: string; status: string; content: string }>(
    'SELECT role, status, content FROM messages WHERE conversation_id = $1 ORDER BY id',
    [conversationId],
  );
}

describe('shutdown with replies still being generated', () => {
  it('lets a reply that finishes within the grace period complete', async () => {
    const { database, drop } = await createTestDatabase();
    const t = await createTestApp(fakeLlmEnv(fake.url, { SHUTDOWN_GRACE_MS: '3000' }), { database });
    try {
      const { user, conversation } = await chattingUser(t);
      fake.setDelays({ firstTokenDelayMs: 300 });
      const answer = sendMessage(t, user, conversation.id, { content: 'Finish before we close' });
      await fake.waitFor((requests) => requests.length === 1);
      await t.app.close();
      expect((await answer).statusCode).toBe(201);
      const rows = await storedReplies(database, conversation.id);
      expect(rows.map((row) => [row.role, row.status])).toEqual([
        ['user', 'complete'],
        ['assistant', 'complete'],
      ]);
    } finally {
      fake.reset();
      await drop();
    }
  });

  it('stores a reply still running when the grace period ends as interrupted, and closes its model call', async () => {
    const { database, drop } = await createTestDatabase();
    const t = await createTestApp(fakeLlmEnv(fake.url, { SHUTDOWN_GRACE_MS: '200' }), { database });
    try {
      const { user, conversation } = await chattingUser(t);
      fake.setDelays({ firstTokenDelayMs: 5000 });
      const answer = sendMessage(t, user, conversation.id, { content: 'Still thinking when we close' });
      await fake.waitFor((requests) => requests.length === 1);
      await t.app.close();
      const done = await answer;
      expect(done.statusCode, done.body).toBe(201);
      expect(done.json().reply.status).toBe('interrupted');
      const rows = await storedReplies(database, conversation.id);
      expect(rows.map((row) => [row.role, row.status])).toEqual([
        ['user', 'complete'],
        ['assistant', 'interrupted'],
      ]);
      await fake.waitFor((requests) => requests[0]?.closedAt != null, 2000);
      expect(fake.requests[0]!.aborted).toBe(true);
    } finally {
      fake.reset();
      await drop();
    }
  });
});

describe('a request that arrives while the server drains', () => {
  it('gets a problem+json 503 with its request id and the connection closed, so the client retries elsewhere', async () => {
    const { database, drop } = await createTestDatabase();
    const t = await createTestApp(fakeLlmEnv(fake.url, { SHUTDOWN_GRACE_MS: '3000' }), { database });
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    try {
      const base = await listen(t);
      const { user, conversation } = await chattingUser(t);
      // A keep-alive connection the load balancer still holds: used once before the drain, once during it.
      const ask = () =>
        new Promise<{ status: number; headers: http.IncomingHttpHeaders; body: string }>((resolve, reject) => {
          http
            .get(`${base}/v1/conversations/${conversation.id}`, { agent, headers: { authorization: `Bearer ${user.accessToken}` } }, (response) => {
              let body = '';
              response.setEncoding('utf8').on('data', (chunk: string) => (body += chunk));
              response.on('end', () => resolve({ status: response.statusCode ?? 0, headers: response.headers, body }));
            })
            .on('error', reject);
        });
      expect((await ask()).status).toBe(200);
      fake.setDelays({ firstTokenDelayMs: 1000 });
      const running = sendMessage(t, user, conversation.id, { content: 'Keeps the server draining' });
      await fake.waitFor((requests) => requests.length === 1);
      const closing = t.app.close();
      const refused = await ask();
      expect(refused.status).toBe(503);
      expect(refused.headers['content-type']).toMatch(/^application\/problem\+json/);
      expect(refused.headers['x-request-id']).toMatch(/^[\w-]+$/);
      expect(refused.headers.connection).toBe('close');
      expect(JSON.parse(refused.body)).toMatchObject({ status: 503, code: 'service_unavailable', request_id: refused.headers['x-request-id'] });
      await closing;
      expect((await running).statusCode).toBe(201);
    } finally {
      agent.destroy();
      fake.reset();
      await drop();
    }
  });
});

describe('a connection that never sent a request', () => {
  it('does not hold the shutdown up: it is closed, and the server stops', async () => {
    // A browser's speculative preconnect, or a client whose request was cancelled before it left:
    // Node's close() counts such a connection as busy, and stops timing it out, so the server
    // waited for it until the forced close after the grace (here: ten minutes).
    const { database, drop } = await createTestDatabase();
    const t = await createTestApp(fakeLlmEnv(fake.url, { SHUTDOWN_GRACE_MS: '600000' }), { database });
    try {
      const base = new URL(await listen(t));
      const silent = connect(Number(base.port), '127.0.0.1');
      silent.on('error', () => {});
      const closedByServer = new Promise<void>((resolve) => silent.once('close', () => resolve()));
      await new Promise<void>((resolve) => silent.once('connect', () => resolve()));
      // One that did send a request, and is kept alive, is closed as it always was.
      const agent = new http.Agent({ keepAlive: true });
      await new Promise<void>((resolve, reject) => http.get(`${base.origin}/health`, { agent }, (response) => response.resume().on('end', resolve)).on('error', reject));
      await t.app.close();
      await closedByServer;
      expect(silent.bytesWritten).toBe(0);
      agent.destroy();
    } finally {
      await drop();
    }
  });
});
