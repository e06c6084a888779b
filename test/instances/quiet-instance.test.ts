// An instance nobody uses lets its database rest (QUIET_AFTER, src/jobs/quiet.ts): a serverless
// PostgreSQL such as Neon scales to zero only after minutes without a statement, and an idle
// Parley polled it about twice a second. The next request is served as before, and the
// background work goes on; while a webhook delivery is owed, the instance does not rest.
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFakeLlm, type FakeLlm } from '../fake-llm/fake-llm.js';
import { fakeLlmEnv } from '../helpers/chat.js';
import { call, cluster, conversation, pgUrl, redisUrl, register, streamMessage, until, type Instance } from './cluster.js';

const RESTS = 'background work against the database rests';
const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe.runIf(pgUrl)('an instance nobody uses', () => {
  const instances = cluster();
  let fake: FakeLlm;

  beforeAll(async () => {
    fake = await startFakeLlm();
  });
  afterAll(async () => {
    await instances.cleanUp();
    await fake?.close();
  });

  /** An instance whose connections carry a name of their own, so what it asks the database can be told apart. */
  async function named(env: Record<string, string> = {}, redis: 'none' | 'proxied' = 'none'): Promise<{ instance: Instance; name: string }> {
    const name = `quiet_${randomBytes(4).toString('hex')}`;
    const url = new URL(instances.databaseEnv().DATABASE_URL!);
    url.searchParams.set('application_name', name);
    const instance = await instances.start({ ...fakeLlmEnv(fake.url), DATABASE_URL: url.toString(), QUIET_AFTER: '2s', INSTANCE_HEARTBEAT_MS: '500', LOG_LEVEL: 'info', ...env }, { redis });
    return { instance, name };
  }

  /** The database's clock now, and how many of the instance's connections started a statement after `since`. */
  const databaseNow = async () => ((await instances.sql('SELECT now() AS at'))[0]!.at as Date).toISOString();
  const statementsSince = async (name: string, since: string) =>
    Number((await instances.sql('SELECT count(*)::int AS n FROM pg_stat_activity WHERE application_name = $1 AND query_start > $2::timestamptz', [name, since]))[0]!.n);

  it('sends the database nothing once no request has come for a while, and serves the next request as before', { timeout: 60_000 }, async () => {
    const { instance, name } = await named();
    const account = await register(instance.base);
    const id = await conversation(instance.base, account);

    await until(() => instance.server.stdout().includes(RESTS), 'the instance rests', 20_000);
    const restedAt = await databaseNow();
    // Eight heartbeats and four webhook polls' worth of time; liveness probes do not wake it.
    for (let i = 0; i < 8; i++) {
      expect((await call(instance.base, 'GET', '/health')).status).toBe(200);
      await pause(500);
    }
    expect(await statementsSince(name, restedAt)).toBe(0);

    const turn = await call(instance.base, 'POST', `/v1/conversations/${id}/messages`, { token: account.token, body: { content: 'Still there?' } });
    expect(turn.status).toBe(201);
    expect(turn.body.reply).toMatchObject({ status: 'complete', content: expect.stringMatching(/\S/) });
    // The heartbeat and the polls go on by themselves, with no further request.
    const wokenAt = await databaseNow();
    await until(async () => (await statementsSince(name, wokenAt)) > 0, 'background work after the request', 10_000);
  });

  it('takes a hold after a rest under a name the other instances know alive: they neither cut its reply nor take its conversation', { timeout: 60_000 }, async () => {
    const { instance: rested } = await named();
    const { instance: busy } = await named({ QUIET_AFTER: 'off' });
    const account = await register(rested.base);
    const id = await conversation(rested.base, account);
    await until(() => rested.server.stdout().includes(RESTS), 'the instance rests', 20_000);
    // Long enough for the busy instance to have taken the resting one for gone (six heartbeats) and forgotten it.
    await pause(4_000);

    const words = Array.from({ length: 80 }, (_, i) => `word${i}`).join(' ');
    fake.setReply(() => words);
    fake.setDelays({ chunkDelayMs: 40 });
    try {
      const stream = streamMessage(rested.base, account, id, 'Talk for a while');
      await until(() => stream.events.some((e) => e.event === 'message.delta'), 'the reply under way');
      // The other instance's heartbeats (every 500 ms) go on meanwhile.
      await pause(1_500);
      const second = await call(busy.base, 'POST', `/v1/conversations/${id}/messages`, { token: account.token, body: { content: 'Me too' } });
      expect(second.status).toBe(409);
      const ended = await stream.ended;
      expect(ended).toMatchObject({ status: 200, cut: false });
      const end = stream.events.find((e) => e.event === 'message.end');
      expect(end?.data.reply.content).toBe(words);
    } finally {
      fake.reset();
    }
    const history = await call(busy.base, 'GET', `/v1/conversations/${id}/messages`, { token: account.token });
    expect(history.body.data.map((m: { role: string; content: string }) => [m.role, m.content])).toEqual([
      ['user', 'Talk for a while'],
      ['assistant', words],
    ]);
  });

  it.runIf(redisUrl)('stops asking Redis whether its subscription answers while it rests, and asks again before it trusts it', { timeout: 60_000 }, async () => {
    const { instance } = await named({}, 'proxied');
    const redis = instance.redisProxy!;
    const account = await register(instance.base);
    await until(() => instance.server.stdout().includes(RESTS), 'the instance rests', 20_000);
    const before = redis.clientWrites();
    await pause(3_000);
    // Fifteen pings' worth of time.
    expect(redis.clientWrites()).toBe(before);

    const me = await call(instance.base, 'GET', '/v1/auth/me', { token: account.token });
    expect(me.status).toBe(200);
    await until(() => redis.clientWrites() > before, 'pings again after the request', 5_000);
  });

  it('closes its database connections once they have been idle for DATABASE_IDLE_TIMEOUT, and opens fresh ones for the next request', { timeout: 60_000 }, async () => {
    // A connection left idle for minutes may be dropped without a word on the way (a cloud load
    // balancer's or NAT's idle timeout, a serverless database suspending): its next statement
    // would wait out DATABASE_STALL_TIMEOUT and answer 503.
    const { instance, name } = await named({ DATABASE_IDLE_TIMEOUT: '1s' });
    const account = await register(instance.base);
    await until(() => instance.server.stdout().includes(RESTS), 'the instance rests', 20_000);
    const open = async () => Number((await instances.sql('SELECT count(*)::int AS n FROM pg_stat_activity WHERE application_name = $1', [name]))[0]!.n);
    await until(async () => (await open()) === 0, 'every connection closed', 10_000);
    const me = await call(instance.base, 'GET', '/v1/auth/me', { token: account.token });
    expect(me.status).toBe(200);
    expect(await open()).toBeGreaterThan(0);
  });

  it('does not rest while a webhook delivery is owed', { timeout: 60_000 }, async () => {
    const { instance, name } = await named();
    const account = await register(instance.base);
    const bot = await call(instance.base, 'POST', '/v1/chatbots', { token: account.token, body: { name: 'Owes one' } });
    expect(bot.status).toBe(201);
    // A delivery whose next attempt is an hour away: some instance must still be there to make it.
    await instances.sql(
      `INSERT INTO webhook_deliveries (id, user_id, chatbot_id, conversation_id, type, payload, next_attempt_at)
       VALUES (gen_random_uuid(), $1::uuid, $2::uuid, gen_random_uuid(), 'conversation.completed', '{}'::jsonb, now() + interval '1 hour')`,
      [account.id, bot.body.id],
    );
    await pause(6_000);
    expect(instance.server.stdout()).not.toContain(RESTS);
    const since = await databaseNow();
    await until(async () => (await statementsSince(name, since)) > 0, 'the instance still at work', 5_000);

    await instances.sql(`UPDATE webhook_deliveries SET status = 'failed' WHERE user_id = $1::uuid`, [account.id]);
    await until(() => instance.server.stdout().includes(RESTS), 'the instance rests once nothing is owed', 20_000);
  });
});
