// Instances behind a load balancer whose clocks disagree (a host without NTP, a VM resumed from a
// snapshot before its clock is corrected): a conversation's turns go to either. What they store
// (ids, which order a conversation's messages; times, which order the conversation list) must
// follow the one database they share, not each instance's clock. With ids from each clock, a
// message written on an instance 30 s behind sorted before the exchange just before it: the
// history, the model's prompt and the conversation list were shown out of order.
// The clock of the second instance is set back by libfaketime (Debian's `faketime` package),
// as a host's own clock would be: nothing in Parley is told.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFakeLlm, type FakeLlm } from '../fake-llm/fake-llm.js';
import { fakeLlmEnv } from '../helpers/chat.js';
import { clockBehind, faketimeSkipReason, skipFaketime } from '../helpers/faketime.js';
import { type Account, call, cluster, conversation, pgUrl, register, type Instance } from './cluster.js';


describe.runIf(Boolean(pgUrl) && !skipFaketime)(`an instance whose clock is 30 s behind the others${faketimeSkipReason}`, () => {
  const instances = cluster();
  let fake: FakeLlm;
  let one: Instance;
  let late: Instance;
  beforeAll(async () => {
    fake = await startFakeLlm({ reply: (request) => `You said: ${request.messages.at(-1)?.content ?? ''}` });
    const env = fakeLlmEnv(fake.url);
    one = await instances.start(env, { redis: 'none' });
    late = await instances.start({ ...env, ...clockBehind(30) }, { redis: 'none' });
  }, 60_000);
  afterAll(async () => {
    await instances.cleanUp();
    await fake?.close();
  });

  const say = async (instance: Instance, account: Account, id: string, content: string) => {
    const response = await call(instance.base, 'POST', `/v1/conversations/${id}/messages`, { token: account.token, body: { content } });
    expect(response.status, response.text).toBe(201);
  };

  it('keeps a conversation in the order it was written, for the reader and for the model', { timeout: 60_000 }, async () => {
    const account = await register(one.base);
    const id = await conversation(one.base, account);
    await say(one, account, id, 'first');
    await say(late, account, id, 'second');
    await say(one, account, id, 'third');

    const history = await call(one.base, 'GET', `/v1/conversations/${id}/messages`, { token: account.token });
    expect(history.body.data.map((m: { content: string }) => m.content)).toEqual(['first', 'You said: first', 'second', 'You said: second', 'third', 'You said: third']);
    const times = history.body.data.map((m: { created_at: string }) => Date.parse(m.created_at));
    expect(times).toEqual([...times].sort((a, b) => a - b));
    // The third turn's prompt: the exchanges in the order they happened, then the new message.
    const prompt = fake.requests.at(-1)!.messages.filter((m) => m.role !== 'system').map((m) => m.content);
    expect(prompt).toEqual(['first', 'You said: first', 'second', 'You said: second', 'third']);
  });

  it('lists the conversation last written in, on whichever instance, first', { timeout: 60_000 }, async () => {
    const account = await register(one.base);
    const older = await conversation(one.base, account, { title: 'older' });
    const newer = await conversation(one.base, account, { title: 'newer' });
    await say(one, account, older, 'hello');
    await say(one, account, newer, 'hello');
    await say(late, account, older, 'and again');
    const listed = await call(one.base, 'GET', '/v1/conversations', { token: account.token });
    expect(listed.body.data.map((c: { title: string }) => c.title)).toEqual(['older', 'newer']);
    const latest = await call(late.base, 'GET', '/v1/conversations/latest', { token: account.token });
    expect(latest.body.title).toBe('older');
  });
});
