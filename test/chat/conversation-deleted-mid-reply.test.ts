// A conversation deleted while its reply is generated: nobody can read that reply any more, so
// its model call is ended, as a stop would end it, rather than answered to the end and paid for.
// The turn still answers 404 (or, streamed, an `error` event) and what was produced is counted.
// Deleting the chatbot deletes its conversations, and so ends their replies too.
import http from 'node:http';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startFakeLlm, type FakeLlm } from '../fake-llm/fake-llm.js';
import { createTestApp, json, type TestApp } from '../helpers/app.js';
import { bearer, registerUser, type RegisteredUser } from '../helpers/factories.js';
import { createChatbot, createConversation, fakeLlmEnv, listen, parseSse, sendMessage } from '../helpers/chat.js';

let fake: FakeLlm;
let t: TestApp;
let base: string;

beforeAll(async () => {
  fake = await startFakeLlm();
  t = await createTestApp(fakeLlmEnv(fake.url));
  base = await listen(t);
});
afterEach(() => fake.reset());
afterAll(async () => {
  await t?.close();
  await fake?.close();
});

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const longReply = Array.from({ length: 60 }, (_, i) => `token${i}`).join(' ');

/** A streamed turn over a real socket; its body once the server ends it. */
function streamed(user: RegisteredUser, conversationId: string, content: string): Promise<string> {
  const payload = JSON.stringify({ content, stream: true });
  return new Promise((resolve, reject) => {
    const req = http.request(new URL(`/v1/conversations/${conversationId}/messages`, base), {
      method: 'POST',
      headers: { ...bearer(user.accessToken), 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(payload)) },
    });
    req.on('error', reject);
    req.on('response', (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => resolve(body));
    });
    req.end(payload);
  });
}

async function deleteOnceAnswering(user: RegisteredUser, conversationId: string) {
  await fake.waitFor((requests) => requests.length > 0);
  await sleep(150);
  const deleted = await t.request({ method: 'DELETE', url: `/v1/conversations/${conversationId}`, headers: bearer(user.accessToken) });
  expect(deleted.statusCode).toBe(204);
}

describe('a conversation deleted while its reply is generated', () => {
  it('ends the model call; the stream ends with error not_found before the whole reply', async () => {
    const user = await registerUser(t);
    const conversation = await createConversation(t, user);
    fake.setReply(() => longReply);
    fake.setDelays({ chunkDelayMs: 40 });
    const body = streamed(user, conversation.id, 'Tell me everything');
    await deleteOnceAnswering(user, conversation.id);
    const events = parseSse(await body);
    expect(events.at(-1)).toMatchObject({ event: 'error', data: { code: 'not_found' } });
    const text = events.filter((event) => event.event === 'message.delta').map((event) => event.data.delta).join('');
    expect(text.length).toBeLessThan(longReply.length);
    await fake.waitFor((requests) => requests[0]!.closedAt !== null);
    expect(fake.requests[0]!.aborted).toBe(true);
  });

  it('ends the model call of a whole answer too, which answers 404', async () => {
    const user = await registerUser(t);
    const conversation = await createConversation(t, user);
    fake.setReply(() => longReply);
    fake.setDelays({ chunkDelayMs: 40 });
    const answer = sendMessage(t, user, conversation.id, { content: 'Tell me everything' });
    await deleteOnceAnswering(user, conversation.id);
    const response = await answer;
    expect(response.statusCode, response.body).toBe(404);
    expect(json(response).code).toBe('not_found');
    await fake.waitFor((requests) => requests[0]!.closedAt !== null);
    expect(fake.requests[0]!.aborted).toBe(true);
  });
});

describe('a chatbot deleted while a reply in one of its conversations is generated', () => {
  it("ends that reply's model call, and only that one", async () => {
    const user = await registerUser(t);
    const doomed = await createChatbot(t, user, { name: 'Deleted mid-reply', model: 'fake-model' });
    const kept = await createChatbot(t, user, { name: 'Kept mid-reply', model: 'fake-model' });
    const inDoomed = await createConversation(t, user, { chatbot_id: doomed.id });
    const inKept = await createConversation(t, user, { chatbot_id: kept.id });
    fake.setReply(() => longReply);
    fake.setDelays({ chunkDelayMs: 40 });
    const doomedBody = streamed(user, inDoomed.id, 'Tell me everything');
    const keptBody = streamed(user, inKept.id, 'Tell me everything too');
    await fake.waitFor((requests) => requests.length === 2);
    await sleep(150);
    const deleted = await t.request({ method: 'DELETE', url: `/v1/chatbots/${doomed.id}`, headers: bearer(user.accessToken) });
    expect(deleted.statusCode).toBe(204);

    const doomedEvents = parseSse(await doomedBody);
    expect(doomedEvents.at(-1)).toMatchObject({ event: 'error', data: { code: 'not_found' } });
    const doomedText = doomedEvents.filter((event) => event.event === 'message.delta').map((event) => event.data.delta).join('');
    expect(doomedText.length).toBeLessThan(longReply.length);
    const doomedCall = fake.requests.find((request) => JSON.stringify(request.messages).includes('Tell me everything"'))!;
    await fake.waitFor(() => doomedCall.closedAt !== null);
    expect(doomedCall.aborted).toBe(true);

    const keptEvents = parseSse(await keptBody);
    expect(keptEvents.at(-1)!.event).toBe('message.end');
    const keptText = keptEvents.filter((event) => event.event === 'message.delta').map((event) => event.data.delta).join('');
    expect(keptText).toBe(longReply);
  });
});
