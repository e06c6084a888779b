// The database goes away for every instance at once (a failover, a restart) for longer than their
// heartbeats' window, and comes back while a reply still streams. Every instance was silent, so
// none may take another for gone on its first heartbeat back (features/chat/instances.ts): the
// reply's instance beats again once it has reconnected too. Taken for gone, its reply would be stored as cut
// short and its conversation freed while the user still reads it streaming.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFakeLlm, type FakeLlm } from '../fake-llm/fake-llm.js';
import { fakeLlmEnv } from '../helpers/chat.js';
import { call, cluster, conversation, pgUrl, register, streamMessage, until, type Instance } from './cluster.js';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe.runIf(pgUrl)('a database outage longer than the heartbeats\' window', () => {
  const instances = cluster();
  let fake: FakeLlm;
  let watcher: Instance;
  let runner: Instance;
  beforeAll(async () => {
    fake = await startFakeLlm();
    const env = fakeLlmEnv(fake.url);
    // The watcher beats every second (gone after 6 s silent), the runner every 3 s (gone after 18 s).
    watcher = await instances.start({ ...env, INSTANCE_HEARTBEAT_MS: '1000' }, { redis: 'none', database: 'proxied' });
    runner = await instances.start({ ...env, INSTANCE_HEARTBEAT_MS: '3000' }, { redis: 'none', database: 'proxied' });
  }, 60_000);
  afterAll(async () => {
    await instances.cleanUp();
    await fake?.close();
  });

  it('leaves a reply that outlives it running, its conversation held, and stores it whole', { timeout: 90_000 }, async () => {
    const account = await register(runner.base);
    const id = await conversation(runner.base, account);
    const reply = Array.from({ length: 700 }, (_, i) => `word${i}`).join(' ');
    fake.setReply(() => reply);
    fake.setDelays({ chunkDelayMs: 50 });
    const stream = streamMessage(runner.base, account, id, 'Talk for a while');
    await until(() => stream.events.filter((e) => e.event === 'message.delta').length >= 10, 'some text');

    const proxies = [watcher.databaseProxy!, runner.databaseProxy!];
    for (const proxy of proxies) {
      proxy.refuse(true);
      proxy.resetAll();
    }
    await sleep(20_000);
    // The instances reconnect at different moments (a pool's backoff, a DNS change): the watcher
    // first, the runner three seconds later. Meanwhile, and after, nothing is stored in the reply's place.
    const unchanged = async (forMs: number) => {
      const until = Date.now() + forMs;
      while (Date.now() < until) {
        const listed = await call(watcher.base, 'GET', `/v1/conversations/${id}/messages`, { token: account.token });
        if (listed.status === 200) expect((listed.body.data as any[]).map((m) => [m.role, m.status])).toEqual([['user', 'complete']]);
        await sleep(200);
      }
    };
    watcher.databaseProxy!.refuse(false);
    await unchanged(3_000);
    runner.databaseProxy!.refuse(false);
    await unchanged(4_000);
    expect(stream.events.some((e) => e.event === 'message.end')).toBe(false);
    const next = await call(watcher.base, 'POST', `/v1/conversations/${id}/messages`, { token: account.token, body: { content: 'Still there?' } });
    expect(next.status, next.text).toBe(409);

    await stream.ended;
    expect(stream.events.at(-1)).toMatchObject({ event: 'message.end', data: { reply: { status: 'complete', content: reply } } });
  });
});
