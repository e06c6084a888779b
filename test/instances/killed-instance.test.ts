// An instance killed (SIGKILL, an OOM kill, a machine gone) while it streams a reply: the other
// instances on the same database take over what it left (§6, §11; README, CUT_TURNS_SWEEP_MS). The
// reply cut short is stored with the text produced so far, and the conversation is free again.
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFakeLlm, type FakeLlm } from '../fake-llm/fake-llm.js';
import { fakeLlmEnv } from '../helpers/chat.js';
import { type Chunk, client, collect, conversationOf, textOf, userMessage } from '../ai-sdk/clients.js';
import { type Account, call, cluster, conversation, pgUrl, register, streamMessage, until, type Instance } from './cluster.js';

const longReply = Array.from({ length: 400 }, (_, i) => `word${i}`).join(' ');

/** Two instances without Redis on one database, and the fake model they call, for the describe this is called in. */
function twoInstances(use: (started: { fake: FakeLlm; one: Instance; two: Instance; another(): Promise<Instance> }) => void, extra: Record<string, string> = {}): void {
  const instances = cluster();
  let fake: FakeLlm | undefined;
  beforeAll(async () => {
    fake = await startFakeLlm();
    const env = { ...fakeLlmEnv(fake.url), ...extra };
    const another = () => instances.start(env, { redis: 'none' });
    use({ fake, one: await another(), two: await another(), another });
  }, 60_000);
  afterAll(async () => {
    await instances.cleanUp();
    await fake?.close();
  });
}

/**
 * Streams a long reply from `instance` for a while (some text read by the user for 3 s), then
 * kills the instance; what the user had read, and when it died.
 */
async function streamThenKill(fake: FakeLlm, instance: Instance, account: Account, id: string): Promise<{ seen: string; killedAt: number }> {
  fake.setReply(() => longReply);
  fake.setDelays({ chunkDelayMs: 50 });
  const stream = streamMessage(instance.base, account, id, 'Talk for a while');
  await until(() => stream.events.filter((e) => e.event === 'message.delta').length >= 10, 'some text');
  await new Promise((resolve) => setTimeout(resolve, 3_000));
  const seen = stream.events.filter((e) => e.event === 'message.delta').map((e) => e.data.delta as string).join('');
  instance.server.child.kill('SIGKILL');
  await instance.server.exited;
  const killedAt = Date.now();
  fake.reset();
  return { seen, killedAt };
}

describe.runIf(pgUrl)('an instance killed mid-reply', () => {
  let fake: FakeLlm;
  let one: Instance;
  let two: Instance;
  twoInstances((started) => ({ fake, one, two } = started));

  it('a stop sent to another instance frees the conversation, and the next message there keeps the reply cut short', { timeout: 60_000 }, async () => {
    const account = await register(one.base);
    const id = await conversation(one.base, account);
    // Some text has been produced, and read by the user, for a while before the instance dies.
    const { seen } = await streamThenKill(fake, one, account, id);

    const stopped = await call(two.base, 'POST', `/v1/conversations/${id}/stop`, { token: account.token });
    expect(stopped.status).toBe(200);
    expect(stopped.body).toEqual({ stopped: true });

    // The user sends the next message once the conversation is free.
    const next = await until(async () => {
      const answer = await call(two.base, 'POST', `/v1/conversations/${id}/messages`, { token: account.token, body: { content: 'Are you there?' } });
      return answer.status === 409 ? null : answer;
    }, 'the conversation to be free', 30_000);
    expect(next.status, next.text).toBe(201);

    const messages = (await call(two.base, 'GET', `/v1/conversations/${id}/messages`, { token: account.token })).body.data as any[];
    expect(messages.map((m) => m.role)).toEqual(['user', 'assistant', 'user', 'assistant']);
    // The reply cut short answers the first message with the text the user had been reading,
    // all of it but the last second at most.
    expect(messages[1]).toMatchObject({ role: 'assistant', status: 'interrupted', error: 'server_stopped' });
    const kept = messages[1].content as string;
    expect(seen.startsWith(kept), `kept ${JSON.stringify(kept.slice(-40))} of ${JSON.stringify(seen.slice(-40))}`).toBe(true);
    expect(kept.split(' ').length).toBeGreaterThanOrEqual(10);
    expect(messages[3]).toMatchObject({ role: 'assistant', status: 'complete' });
    const listed = (await call(two.base, 'GET', `/v1/conversations/${id}`, { token: account.token })).body;
    expect(listed.message_count).toBe(4);
  });
});

// Nobody presses stop: the other instance notices the killed one's heartbeat stopped and frees its
// conversations, long before their two-minute leases run out. A second apart here, gone after six.
describe.runIf(pgUrl)('an instance killed mid-reply, its heartbeat stopped', () => {
  let fake: FakeLlm;
  let one: Instance;
  let two: Instance;
  let startAnother: () => Promise<Instance>;
  twoInstances((started) => ({ fake, one, two, another: startAnother } = started), { INSTANCE_HEARTBEAT_MS: '1000' });

  it('keeps a reply running longer than several heartbeats on a live instance whole', { timeout: 60_000 }, async () => {
    const account = await register(one.base);
    const id = await conversation(one.base, account);
    fake.setReply(() => Array.from({ length: 100 }, (_, i) => `slow${i}`).join(' '));
    fake.setDelays({ chunkDelayMs: 100 });
    const stream = streamMessage(one.base, account, id, 'Talk slowly');
    await stream.ended;
    fake.reset();
    expect(stream.events.at(-1)).toMatchObject({ event: 'message.end', data: { reply: { status: 'complete' } } });
    const messages = (await call(two.base, 'GET', `/v1/conversations/${id}/messages`, { token: account.token })).body.data as any[];
    expect(messages.map((m) => [m.role, m.status])).toEqual([['user', 'complete'], ['assistant', 'complete']]);
    expect((messages[1].content as string).split(' ')).toHaveLength(100);
  });

  it('frees the conversation within seconds, with no stop, and keeps the reply cut short', { timeout: 60_000 }, async () => {
    const account = await register(one.base);
    const id = await conversation(one.base, account);
    const { seen, killedAt } = await streamThenKill(fake, one, account, id);

    // The user keeps trying; the conversation is free once the heartbeat is six beats late.
    const next = await until(async () => {
      const answer = await call(two.base, 'POST', `/v1/conversations/${id}/messages`, { token: account.token, body: { content: 'Are you there?' } });
      return answer.status === 409 ? null : answer;
    }, 'the conversation to be free', 30_000);
    expect(next.status, next.text).toBe(201);
    expect(Date.now() - killedAt).toBeLessThan(20_000);

    const messages = (await call(two.base, 'GET', `/v1/conversations/${id}/messages`, { token: account.token })).body.data as any[];
    expect(messages.map((m) => m.role)).toEqual(['user', 'assistant', 'user', 'assistant']);
    expect(messages[1]).toMatchObject({ role: 'assistant', status: 'interrupted', error: 'server_stopped' });
    expect(seen.startsWith(messages[1].content as string)).toBe(true);
    expect((messages[1].content as string).split(' ').length).toBeGreaterThanOrEqual(10);
  });

  it('ends a resumed AI SDK stream of the killed instance within seconds, with the text kept', { timeout: 60_000 }, async () => {
    // `one` died in the test before: the AI SDK chat runs on `two`, and a fresh instance takes over.
    const account = await register(two.base);
    const headers = { authorization: `Bearer ${account.token}` };
    const chat = `chat_${randomBytes(6).toString('hex')}`;
    fake.setReply(() => longReply);
    fake.setDelays({ chunkDelayMs: 50 });
    const seen: Chunk[] = [];
    const sent = collect(await client('ai6', two.base, { headers }).send({ chatId: chat, messages: [userMessage('Talk for a while')] }), (chunk) => seen.push(chunk));
    sent.catch(() => {});
    await until(() => seen.filter((chunk) => chunk.type === 'text-delta').length >= 10, 'some text');
    await new Promise((resolve) => setTimeout(resolve, 2_500));
    const three = await startAnother();
    two.server.child.kill('SIGKILL');
    await two.server.exited;
    const killedAt = Date.now();
    fake.reset();

    // The app reconnects, as useChat does on a page reload, to the instance left.
    const elsewhere = client('ai6', three.base, { headers });
    const resumed = await elsewhere.reconnect(chat);
    expect(resumed).not.toBeNull();
    const message = await elsewhere.assemble(await collect(resumed!));
    expect(Date.now() - killedAt).toBeLessThan(20_000);
    expect(message.metadata).toMatchObject({ status: 'interrupted' });
    const text = textOf(message);
    expect(text.split(' ').length).toBeGreaterThanOrEqual(10);
    expect(longReply.startsWith(text)).toBe(true);
    const stored = (await call(three.base, 'GET', `/v1/conversations/${conversationOf(seen)}/messages`, { token: account.token })).body.data as any[];
    expect(stored[1]).toMatchObject({ role: 'assistant', status: 'interrupted', error: 'server_stopped', content: text });
  });
});

describe.runIf(pgUrl)('an instance killed while it answers a request with an Idempotency-Key', () => {
  let fake: FakeLlm;
  let one: Instance;
  let two: Instance;
  twoInstances((started) => ({ fake, one, two } = started));

  it('lets the client retry with the same key on another instance: answered once, then replayed', { timeout: 150_000 }, async () => {
    const account = await register(one.base);
    const id = await conversation(one.base, account);
    const key = `retry-${id}`;
    fake.setReply(() => longReply);
    fake.setDelays({ chunkDelayMs: 50 });
    const first = fetch(`${one.base}/v1/conversations/${id}/messages`, {
      method: 'POST',
      headers: { authorization: `Bearer ${account.token}`, 'content-type': 'application/json', 'idempotency-key': key },
      body: JSON.stringify({ content: 'Talk for a while' }),
    }).catch(() => null);
    await fake.waitFor((requests) => requests.length === 1);
    one.server.child.kill('SIGKILL');
    await one.server.exited;
    expect(await first).toBeNull();
    fake.reset();
    fake.setReply(() => 'Here I am.');

    // The user stops the reply nobody answers any more, and the client retries its request as it was.
    expect((await call(two.base, 'POST', `/v1/conversations/${id}/stop`, { token: account.token })).body).toEqual({ stopped: true });
    const retry = () => call(two.base, 'POST', `/v1/conversations/${id}/messages`, { token: account.token, body: { content: 'Talk for a while' }, headers: { 'idempotency-key': key } });
    const answered = await until(async () => {
      const answer = await retry();
      if (answer.status === 409) return null;
      return answer;
    }, 'the retry to be answered', 120_000);
    expect(answered.status, answered.text).toBe(201);
    expect(answered.body.reply).toMatchObject({ status: 'complete', content: 'Here I am.' });
    expect(fake.requests.length).toBe(1);

    const replayed = await retry();
    expect(replayed.status).toBe(201);
    expect(replayed.body.reply.id).toBe(answered.body.reply.id);
    expect(replayed.headers.get('idempotent-replayed')).toBe('true');
    expect(fake.requests.length).toBe(1);
  });
});
