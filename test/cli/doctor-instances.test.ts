// `parley doctor`'s instances line (PostgreSQL): the instances running on the database, and a
// killed one's replies that no running instance is left to store cut short, so its users' next
// messages answer 409 until one starts.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startFakeLlm, type FakeLlm } from '../fake-llm/fake-llm.js';
import { fakeLlmEnv } from '../helpers/chat.js';
import { call, cluster, conversation, pgUrl, register, streamMessage, until } from '../instances/cluster.js';
import { cleanUp, doctor, passes } from './doctor-run.js';

// Gone after six heartbeats: 3 s.
const HEARTBEAT = { INSTANCE_HEARTBEAT_MS: '500' };

/** A cluster of instances and the fake model they call, for the describe this is called in. */
function clusterWithModel() {
  const instances = cluster();
  let fake: FakeLlm | undefined;
  beforeAll(async () => {
    fake = await startFakeLlm();
  });
  afterEach(cleanUp);
  afterAll(async () => {
    await instances.cleanUp();
    await fake?.close();
  });
  return { instances, model: () => fake! };
}

describe.runIf(pgUrl)('parley doctor and the instances on a PostgreSQL database', () => {
  const { instances, model } = clusterWithModel();

  it('names the running instance, warns of a killed one still holding a reply, and is clear once another instance took it over', { timeout: 90_000 }, async () => {
    const env = { ...fakeLlmEnv(model().url), ...HEARTBEAT };
    const one = await instances.start(env, { redis: 'none' });
    const check = () => doctor({ ...instances.databaseEnv(), ...fakeLlmEnv(model().url) }, { args: ['--streams', '100'] });

    const running = await check();
    passes(running);
    expect(running.line('instances').text).toMatch(/^ok\s+instances\s+1 instance running \(last heartbeat \d+\.\d s ago\)$/);

    // A reply streams when the instance is killed: nobody stores it cut short while no instance runs.
    const account = await register(one.base);
    const id = await conversation(one.base, account);
    model().setReply(() => Array.from({ length: 400 }, (_, i) => `word${i}`).join(' '));
    model().setDelays({ chunkDelayMs: 50 });
    const stream = streamMessage(one.base, account, id, 'Talk for a while');
    await until(() => stream.events.some((e) => e.event === 'message.delta'), 'some text');
    one.server.child.kill('SIGKILL');
    await one.server.exited;
    model().reset();

    const stranded = await until(async () => {
      const report = await check();
      return report.line('instances').status === 'warn' ? report : null;
    }, 'the killed instance to count as gone', 30_000);
    expect(stranded.code, 'a warning, not a failure').toBe(0);
    expect(stranded.line('instances').text).toMatch(
      /^warn\s+instances\s+no instance running; 1 instance gone \(silent \d+(\.\d)? s\), 1 reply still held by it: their conversations answer 409 conversation_busy until an instance runs → start parley serve: within six heartbeats/,
    );

    // Another instance starts: it stores the reply cut short, and the user goes on.
    const two = await instances.start(env, { redis: 'none' });
    const next = await until(async () => {
      const answer = await call(two.base, 'POST', `/v1/conversations/${id}/messages`, { token: account.token, body: { content: 'Are you there?' } });
      return answer.status === 409 ? null : answer;
    }, 'the conversation to be free', 30_000);
    expect(next.status, next.text).toBe(201);
    const clear = await until(async () => {
      const report = await check();
      return /^ok\s+instances\s+1 instance running \(last heartbeat \d+\.\d s ago\)$/.test(report.line('instances').text) ? report : null;
    }, 'the gone instance to be forgotten', 30_000);
    passes(clear);
  });
});

describe.runIf(pgUrl)('parley doctor and an instance resting while nobody uses it', () => {
  const { instances, model } = clusterWithModel();

  it('says a silent instance that holds nothing may be resting, and passes', { timeout: 60_000 }, async () => {
    const env = { ...fakeLlmEnv(model().url), ...HEARTBEAT, QUIET_AFTER: '1s' };
    await instances.start(env, { redis: 'none' });
    const check = () => doctor({ ...instances.databaseEnv(), ...fakeLlmEnv(model().url) }, { args: ['--streams', '100'] });
    const resting = await until(async () => {
      const report = await check();
      return /silent/.test(report.line('instances').text) ? report : null;
    }, 'the resting instance to fall silent', 30_000);
    passes(resting);
    expect(resting.line('instances').text).toMatch(
      /^ok\s+instances\s+no instance running; 1 instance silent \d+(\.\d)? s \(stopped, or resting while nobody uses it: QUIET_AFTER\)$/,
    );
  });
});
