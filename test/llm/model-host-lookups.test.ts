// The model's host is named (api.openai.com, a provider's gateway, localhost), and Node looks a
// name up again for every new connection, two lookups at a time (libuv keeps half its thread pool
// for work like this). A burst of turns opens a connection each, so with a resolver 20 ms away
// 100 turns at once finished 0.7 s later than with the address written out, and with a resolver
// whose first nameserver is down (5 s a lookup) six turns took 5, 10 and 15 s. Found with the
// slow resolver below (docs/decisions.md, "The model's host looked up once").
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFakeLlm, type FakeLlm } from '../fake-llm/fake-llm.js';
import { fakeLlmEnv } from '../helpers/chat.js';
import { cliProcesses, serveUntilHealthy } from '../helpers/cli-process.js';
import { httpCall as call } from '../helpers/http-call.js';
import { slowResolver } from '../helpers/slow-resolver.js';

const TURNS = 12;
const MODEL_HOST = 'model.resolver.test';

describe('the model provider named by its host', () => {
  const processes = cliProcesses();
  const resolver = slowResolver();
  let fake: FakeLlm;
  beforeAll(async () => {
    // Each answer takes a moment, so a burst of turns holds a connection each.
    fake = await startFakeLlm({ firstTokenDelayMs: 400 });
  });
  afterAll(async () => {
    processes.cleanUp();
    resolver.remove();
    await fake?.close();
  });

  it('is looked up once for a burst of turns, however many connections they open, and the turns all answer', { timeout: 120_000 }, async () => {
    const url = new URL(fake.url);
    url.hostname = MODEL_HOST;
    const { base, server } = await serveUntilHealthy(processes, { ...fakeLlmEnv(url.href.replace(/\/$/, '')), DATA_DIR: processes.tempDir('parley-lookups-'), ...resolver.env(300) });
    expect(server.child.exitCode, `${server.stdout()}${server.stderr()}`).toBeNull();
    const token = (await call(base, 'POST', '/v1/auth/register', undefined, { username: 'named_host', password: 'a long enough password' })).body.access_token as string;
    const conversations: string[] = [];
    for (let i = 0; i < TURNS; i++) conversations.push((await call(base, 'POST', '/v1/conversations', token, {})).body.id as string);

    for (const burst of ['first', 'second']) {
      const answers = await Promise.all(conversations.map((id) => call(base, 'POST', `/v1/conversations/${id}/messages`, token, { content: `the ${burst} burst` })));
      expect(answers.map((answer) => answer.status)).toEqual(conversations.map(() => 201));
    }
    expect(fake.stats().received).toBe(2 * TURNS);
    // Every one of the 24 turns met a resolver that takes 300 ms: one lookup served them all.
    expect(resolver.lookups()).toEqual([MODEL_HOST]);
  });
});
