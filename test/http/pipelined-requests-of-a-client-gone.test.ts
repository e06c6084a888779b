// A client that pipelines (HTTP/1.1: the next requests written before the first is answered) and
// then goes away leaves requests whose answers were still queued behind the first one. Node never
// tells those answers that their connection closed, so whatever waited for their end must not wait
// for ever: the instance rests once nobody uses it (QUIET_AFTER), and an export asked for that way
// gives its place back (an account reads at most two exports at once from an instance).
import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFakeLlm, type FakeLlm } from '../fake-llm/fake-llm.js';
import { createTestApp, type TestApp } from '../helpers/app.js';
import { chattingUser, createConversation, fakeLlmEnv, listen, sendMessage } from '../helpers/chat.js';
import { bearer, type RegisteredUser } from '../helpers/factories.js';
import { until } from '../instances/cluster.js';

const RESTING = 'no requests lately: background work against the database rests';

let t: TestApp;
let fake: FakeLlm;
let port: number;
beforeAll(async () => {
  fake = await startFakeLlm({ firstTokenDelayMs: 600 });
  t = await createTestApp(fakeLlmEnv(fake.url, { QUIET_AFTER: '1s' }));
  port = Number(new URL(await listen(t)).port);
});
afterAll(async () => {
  await t?.close();
  await fake?.close();
});

/** A streamed message, as written on the wire: answered once the model has (its first token waits). */
function streamedMessage(user: RegisteredUser, conversationId: string): string {
  const body = JSON.stringify({ content: 'Tell me something', stream: true });
  const headers = `host: x\r\nauthorization: Bearer ${user.accessToken}\r\ncontent-type: application/json\r\naccept: text/event-stream\r\ncontent-length: ${Buffer.byteLength(body)}`;
  return `POST /v1/conversations/${conversationId}/messages HTTP/1.1\r\n${headers}\r\n\r\n${body}`;
}

const plainGet = (user: RegisteredUser, path: string) => `GET ${path} HTTP/1.1\r\nhost: x\r\nauthorization: Bearer ${user.accessToken}\r\n\r\n`;

/** Writes `requests` at once on one connection and cuts it once the model has been asked (`asked` calls so far). */
async function pipelineAndLeave(requests: string, asked: number): Promise<void> {
  const socket = connect(port, '127.0.0.1');
  socket.on('error', () => {});
  await new Promise((resolve) => socket.once('connect', resolve));
  socket.write(requests);
  // The streamed reply waits on the model, and every request behind it waits for that answer.
  await fake.waitFor((calls) => calls.length === asked);
  socket.destroy();
}

describe('pipelined requests of a client that went away', () => {
  it('leave nothing counted as running: the instance still rests once nobody uses it', { timeout: 40_000 }, async () => {
    fake.reset();
    const { user, conversation } = await chattingUser(t);
    await pipelineAndLeave(streamedMessage(user, conversation.id) + plainGet(user, '/v1/auth/me').repeat(2), 1);

    const rested = await until(() => t.logs.some((line) => line.includes(RESTING)), 'the instance to rest after the client left', 20_000);
    expect(rested).toBe(true);
  });

  it('let go of the exports they asked for: the account can export again', { timeout: 40_000 }, async () => {
    fake.reset();
    const { user, conversation } = await chattingUser(t);
    // Enough text that an export's answer is more than is kept for a connection without a reader.
    fake.setReply(() => 'A long answer. '.repeat(2_000));
    fake.setDelays({ firstTokenDelayMs: 0 });
    for (let i = 0; i < 3; i++) {
      const other = await createConversation(t, user);
      expect((await sendMessage(t, user, other.id, { content: `Question ${i}` })).statusCode).toBe(201);
    }
    fake.setDelays({ firstTokenDelayMs: 600 });
    await pipelineAndLeave(streamedMessage(user, conversation.id) + plainGet(user, '/v1/exports/conversations').repeat(2), 4);

    let last = '';
    const again = await until(
      async () => {
        const answer = await t.request({ method: 'GET', url: '/v1/exports/conversations', headers: bearer(user.accessToken) });
        last = `${answer.statusCode} ${answer.body.slice(0, 300)}`;
        return answer.statusCode === 200 ? answer : null;
      },
      'an export of the account to be answered 200',
      10_000,
    ).catch((error: Error) => {
      throw new Error(`${error.message}; the last answer: ${last}`);
    });
    expect(again.json()).toHaveLength(4);
  });
});
