// A client that asks for a streamed reply and never reads it: the server must neither buffer
// the whole reply for it nor keep its socket, and the reply is stored as interrupted.
import net from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startFakeLlm, type FakeLlm } from '../fake-llm/fake-llm.js';
import { createTestApp, json, type TestApp } from '../helpers/app.js';
import { chattingUser, fakeLlmEnv, listen } from '../helpers/chat.js';
import { bearer, type RegisteredUser } from '../helpers/factories.js';

let fake: FakeLlm;
let t: TestApp;
let port: number;
beforeAll(async () => {
  fake = await startFakeLlm();
  t = await createTestApp(fakeLlmEnv(fake.url, { SSE_WRITE_TIMEOUT_MS: '1000' }));
  port = Number(new URL(await listen(t)).port);
});
afterEach(() => fake.reset());
afterAll(async () => {
  await t?.close();
  await fake?.close();
});

// Three bytes a character: a reply under the 4 million characters a model's answer may have
// (MAX_ANSWER_CHARS) is still 12 MB on the wire, far beyond what the kernel buffers.
const WORD = `${'中'.repeat(1000)} `;

/** Sends a streaming turn over a raw socket that reads nothing until `read()`; `closed` resolves when the server has closed it. */
function sendWithoutReading(user: RegisteredUser, conversationId: string) {
  const body = JSON.stringify({ content: 'Tell me everything', stream: true });
  const socket = net.connect({ port, host: '127.0.0.1' });
  const closed = new Promise<void>((resolve) => socket.on('close', () => resolve()));
  socket.on('data', () => {});
  socket.on('error', () => {});
  socket.on('connect', () => {
      socket.write(
        `POST /v1/conversations/${conversationId}/messages HTTP/1.1\r\nhost: 127.0.0.1\r\n` +
          `authorization: ${bearer(user.accessToken).authorization}\r\ncontent-type: application/json\r\n` +
          `content-length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
      );
      socket.pause();
    });
  // The server's FIN waits behind the unread data: only a reading client can see it.
  return { closed, read: () => socket.resume() };
}

async function storedReply(user: RegisteredUser, conversationId: string) {
  const page = json(await t.request({ method: 'GET', url: `/v1/conversations/${conversationId}/messages`, headers: bearer(user.accessToken) }));
  return (page.data as Array<{ role: string; status: string; content: string }>).find((m) => m.role === 'assistant');
}

describe('a streamed reply to a client that never reads', () => {
  it('is dropped once 1 MiB waits unread: socket closed, reply stored as interrupted and cut short', async () => {
    const words = 3_900; // 11.7 MB: far beyond the kernel's socket buffers (up to 4 MB sent, 128 KB received) and the 1 MiB cap
    fake.setReply(() => WORD.repeat(words));
    const { user, conversation } = await chattingUser(t);
    const started = performance.now();
    const client = sendWithoutReading(user, conversation.id);
    // The fake sends all 11.7 MB at once, so the model call has ended: what shows is the stored reply.
    await expect.poll(async () => (await storedReply(user, conversation.id))?.status, { timeout: 5000 }).toBe('interrupted');
    expect(performance.now() - started).toBeLessThan(10_000);
    const reply = await storedReply(user, conversation.id);
    expect(reply!.content.length).toBeLessThan(WORD.length * words);
    client.read();
    await client.closed;
  });

  it('is dropped after SSE_WRITE_TIMEOUT_MS without reading, even while little is produced', async () => {
    // Slow words: the unread backlog stays far under 1 MiB once the kernel's buffers are full.
    fake.setReply(() => WORD.repeat(3_900));
    fake.setDelays({ chunkDelayMs: 1 });
    const { user, conversation } = await chattingUser(t);
    const started = performance.now();
    const client = sendWithoutReading(user, conversation.id);
    await fake.waitFor((requests) => requests.some((r) => r.aborted), 15_000);
    expect(performance.now() - started).toBeLessThan(15_000);
    client.read();
    await client.closed;
    await expect.poll(async () => (await storedReply(user, conversation.id))?.status, { timeout: 5000 }).toBe('interrupted');
  });
});
