// USAGE_MESSAGES_PER_DAY is an account's messages per UTC day on every instance together (README;
// docs/deploy.md: shared through Redis). Messages that arrive together, on several instances, are
// counted as they come: the day's cap is never exceeded, and a message refused for another reason
// (a busy conversation) does not use up the day.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFakeLlm, type FakeLlm } from '../fake-llm/fake-llm.js';
import { fakeLlmEnv } from '../helpers/chat.js';
import { call, cluster, conversation, pgUrl, redisUrl, register, type Instance } from './cluster.js';

const skipRedis = !redisUrl && process.env.CI !== 'true';
const skipReason = skipRedis ? ' (skipped: set TEST_REDIS_URL, e.g. redis://127.0.0.1:6379, to run)' : '';

describe.runIf(pgUrl)('the daily message cap on two instances sharing Redis (USAGE_MESSAGES_PER_DAY=3)', () => {
  const instances = cluster();
  let fake: FakeLlm;
  let one: Instance;
  let two: Instance;

  beforeAll(async () => {
    if (skipRedis) return;
    if (!redisUrl) throw new Error('TEST_REDIS_URL is not set; with CI=true the Redis tests must run, not be skipped');
    fake = await startFakeLlm({ firstTokenDelayMs: 300 });
    const env = fakeLlmEnv(fake.url, { USAGE_MESSAGES_PER_DAY: '3', RATE_LIMIT_MESSAGES_USER: '1000/1m' });
    one = await instances.start(env);
    two = await instances.start(env);
  }, 60_000);
  afterAll(async () => {
    await instances.cleanUp();
    await fake?.close();
  });

  it.skipIf(skipRedis)(`lets through exactly the day's three of eight messages sent at once to both instances${skipReason}`, { timeout: 30_000 }, async () => {
    const account = await register(one.base);
    const ids = await Promise.all(Array.from({ length: 8 }, () => conversation(one.base, account)));
    const answers = await Promise.all(
      ids.map((id, i) => call(i % 2 ? two.base : one.base, 'POST', `/v1/conversations/${id}/messages`, { token: account.token, body: { content: `Question ${i}` } })),
    );
    const statuses = answers.map((answer) => answer.status).sort();
    expect(statuses).toEqual([201, 201, 201, 429, 429, 429, 429, 429]);
    for (const refused of answers.filter((answer) => answer.status === 429)) expect(refused.body.code).toBe('quota_exceeded');
    // Nothing more today, on either instance.
    for (const instance of [one, two]) {
      const later = await call(instance.base, 'POST', `/v1/conversations/${ids[0]}/messages`, { token: account.token, body: { content: 'One more' } });
      expect(later.status).toBe(429);
    }
  });

  it.skipIf(skipRedis)(`does not count a message refused because its conversation is busy${skipReason}`, { timeout: 30_000 }, async () => {
    const account = await register(one.base);
    const busy = await conversation(one.base, account);
    fake.reset();
    // The first reply takes its time, so the conversation is still held when the second message
    // comes: with the 300 ms of the other tests, a loaded machine answered the second one after
    // the first had ended (201, 1 run in 6 with a CPU hog).
    fake.setDelays({ firstTokenDelayMs: 5_000 });
    const running = call(one.base, 'POST', `/v1/conversations/${busy}/messages`, { token: account.token, body: { content: 'First' } });
    // Its model call has started, so it holds the conversation (a fixed 150 ms was not always
    // enough on a loaded machine: the second message then came first and was answered 201).
    await fake.waitFor((requests) => requests.length === 1);
    const refused = await call(two.base, 'POST', `/v1/conversations/${busy}/messages`, { token: account.token, body: { content: 'Too soon' } });
    expect(refused.status).toBe(409);
    expect((await running).status).toBe(201);
    fake.reset();
    // One message counted: two more today.
    const other = await conversation(two.base, account);
    expect((await call(two.base, 'POST', `/v1/conversations/${other}/messages`, { token: account.token, body: { content: 'Second' } })).status).toBe(201);
    expect((await call(one.base, 'POST', `/v1/conversations/${busy}/messages`, { token: account.token, body: { content: 'Third' } })).status).toBe(201);
    expect((await call(two.base, 'POST', `/v1/conversations/${other}/messages`, { token: account.token, body: { content: 'Fourth' } })).status).toBe(429);
  });
});
