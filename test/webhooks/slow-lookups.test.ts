// A webhook's host is the owner's to name, and so is how slowly its name resolves: an owner who
// runs the name's DNS can make every answer take seconds. Deliveries looked names up with
// getaddrinfo, which Node runs in libuv's thread pool, two lookups at a time for the whole process,
// so those lookups made every other lookup wait: the model's host, an issuer's key set, every other
// account's webhooks. Another account's chat turn waited for them (3 s a lookup here: 3.0-6.1 s).
// Webhook hosts are now resolved through the DNS client that does not use the thread pool.
// getaddrinfo is made slow for `*.resolver.test` by a preloaded library (test/helpers/slow-resolver.ts).
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPglite } from '../../src/db/pglite.js';
import { startFakeLlm, type FakeLlm } from '../fake-llm/fake-llm.js';
import { fakeLlmEnv } from '../helpers/chat.js';
import { cliProcesses, serveUntilHealthy } from '../helpers/cli-process.js';
import { httpCall as call } from '../helpers/http-call.js';
import { slowResolver } from '../helpers/slow-resolver.js';

const SLOW_MS = 3_000;
const HOOK_HOST = 'hook.resolver.test';

// The server's own database is written while it is stopped: the embedded one only.
describe.runIf(!process.env.TEST_DATABASE_URL)('a webhook host whose name resolves slowly', () => {
  const processes = cliProcesses();
  const resolver = slowResolver();
  let fake: FakeLlm;
  beforeAll(async () => {
    fake = await startFakeLlm();
  });
  afterAll(async () => {
    processes.cleanUp();
    resolver.remove();
    await fake?.close();
  });

  it("does not hold up another account's turn, whose model host is looked up too", { timeout: 120_000 }, async () => {
    const dataDir = join(processes.tempDir('parley-slow-hooks-'), 'data');
    // The model by name: its host is looked up as the turn connects.
    const model = new URL(fake.url);
    model.hostname = 'localhost';
    const env = { ...fakeLlmEnv(model.href.replace(/\/$/, '')), DATA_DIR: dataDir, WEBHOOK_POLL_MS: '50' };
    const first = await serveUntilHealthy(processes, env);
    const register = async (username: string) => {
      const body = (await call(first.base, 'POST', '/v1/auth/register', undefined, { username, password: 'a long enough password' })).body;
      return { token: body.access_token as string, id: (body.user as { id: string }).id };
    };
    const hooked = await register('slow_hooks');
    const hookedBot = await call(first.base, 'POST', '/v1/chatbots', hooked.token, { name: 'Hooked', webhook_url: `http://${HOOK_HOST}/events` });
    expect(hookedBot.status).toBe(201);
    const other = await register('other_account');
    const conversation = (await call(first.base, 'POST', '/v1/conversations', other.token, {})).body.id as string;
    first.server.child.kill('SIGTERM');
    expect(await first.server.exited).toBe(0);

    // Eight completed conversations of the hooked account's, their events due.
    const owner = createPglite(join(dataDir, 'pglite'));
    await owner.query(
      `WITH c AS (
         INSERT INTO conversations (id, user_id, chatbot_id, status, created_at, updated_at)
         SELECT gen_random_uuid(), $1, $2, 'completed', now(), now() FROM generate_series(1, 8) RETURNING id, user_id, chatbot_id)
       INSERT INTO webhook_deliveries (id, user_id, chatbot_id, conversation_id, type, payload, created_at, next_attempt_at)
       SELECT gen_random_uuid(), c.user_id, c.chatbot_id, c.id, 'conversation.completed', '{}', now(), now() FROM c`,
      [hooked.id, hookedBot.body.id],
    );
    await owner.close();

    const { base, server } = await serveUntilHealthy(processes, { ...env, ...resolver.env(SLOW_MS) });
    expect(server.child.exitCode, server.stderr()).toBeNull();
    // The deliveries have started: wait until they are attempted (their names asked for, before the fix).
    for (let i = 0; i < 100 && resolver.lookups().length === 0 && !(await attempted(base, hooked.token, hookedBot.body.id as string)); i++) {
      await new Promise((resolve) => setTimeout(resolve, 50));
    }

    const started = performance.now();
    const turn = await call(base, 'POST', `/v1/conversations/${conversation}/messages`, other.token, { content: 'hello' });
    const took = performance.now() - started;
    expect(turn.status).toBe(201);
    // Not behind a lookup of the webhook's name: none was made through getaddrinfo.
    expect(resolver.lookups()).toEqual([]);
    expect(took, `the turn took ${Math.round(took)} ms`).toBeLessThan(SLOW_MS);
  });
});

/** Whether any delivery of the chatbot has an attempt. */
async function attempted(base: string, token: string, chatbotId: string): Promise<boolean> {
  const log = await call(base, 'GET', `/v1/chatbots/${chatbotId}/webhook-deliveries`, token);
  return (log.body.data as Array<{ attempts: unknown[] }>).some((delivery) => delivery.attempts.length > 0);
}
