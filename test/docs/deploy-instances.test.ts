// docs/deploy.md, "Several instances behind a load balancer": two `parley serve` processes with
// the same environment file (the guide's, plus its `instances-env` lines), one database and one
// Redis, and requests landing on either as a load balancer without sticky sessions sends them:
// a token from one works on the other, a stop sent to the other ends the stream running on the
// first, and a logout on one is refused on the other at once.
import { randomInt } from 'node:crypto';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startFakeLlm, type FakeLlm } from '../fake-llm/fake-llm.js';
import { parseSse } from '../helpers/chat.js';
import { envOf, killAll, removeTempDirs, stopServer, type Started } from './guide.js';
import { cluster, envLines, install, localDatabaseUrl, type Install } from './install.js';

const SUPERUSER_URL = process.env.TEST_DATABASE_URL;
const REDIS_URL = process.env.TEST_REDIS_URL;
// Without TEST_REDIS_URL this is skipped with its reason, except in CI where a skip is a failure.
const skipRedis = !REDIS_URL && process.env.CI !== 'true';
const skipReason = skipRedis ? ' (skipped: set TEST_REDIS_URL, e.g. redis://127.0.0.1:6379, to run)' : '';

afterEach(killAll);

describe.runIf(SUPERUSER_URL)('docs/deploy.md: several instances behind a load balancer', () => {
  const server = cluster(SUPERUSER_URL!);
  const id = server.id();
  const names = { owner: `parley_${id}`, appRole: `parley_app_${id}` };
  let fake: FakeLlm;

  beforeAll(async () => {
    fake = await startFakeLlm({ chunkDelayMs: 100, reply: () => Array.from({ length: 80 }, (_, i) => `word${i}`).join(' ') });
    await server.run(
      `CREATE ROLE ${names.owner} LOGIN CREATEROLE; CREATE DATABASE ${names.owner} OWNER ${names.owner};\n\\c ${names.owner}\nALTER SCHEMA public OWNER TO ${names.owner};`,
      `DROP DATABASE IF EXISTS ${names.owner} WITH (FORCE)`,
      `DROP ROLE IF EXISTS ${names.appRole}`,
      `DROP ROLE IF EXISTS ${names.owner}`,
    );
  });
  afterAll(async () => {
    await fake?.close();
    await server.cleanup();
    removeTempDirs();
  });

  it.skipIf(skipRedis)(`share sessions, stops and logouts: no sticky sessions needed${skipReason}`, { timeout: 120_000 }, async () => {
    if (!REDIS_URL) throw new Error('TEST_REDIS_URL is not set; with CI=true the Redis tests must run, not be skipped');
    const one = await install({ databaseUrl: localDatabaseUrl(SUPERUSER_URL!, names.owner, names.owner), appRole: names.appRole });
    one.append(envLines({ ...envOf('instances-env'), REDIS_URL }));
    one.append(envLines({ ...envOf('model-compatible'), LLM_BASE_URL: fake.url }));
    const two = await install({ databaseUrl: null, copyOf: one });
    const running: Started[] = [];
    try {
      running.push(await one.serve(), await two.serve());
      await checkAcross(one, two);
    } finally {
      for (const instance of running) expect(await stopServer(instance)).toBe(0);
    }
  });

  /** Requests as the load balancer forwards them (TRUST_PROXY=true): from one client address. */
  async function checkAcross(one: Install, two: Install): Promise<void> {
    // An address of its own, so the shared per-address limits in Redis start empty for it.
    const client = `198.18.${randomInt(256)}.${randomInt(1, 255)}`;
    const call = (instance: Install, method: string, path: string, token?: string, body?: unknown) =>
      fetch(`${instance.base}${path}`, {
        method,
        headers: { 'x-forwarded-for': client, ...(token ? { authorization: `Bearer ${token}` } : {}), ...(body ? { 'content-type': 'application/json' } : {}) },
        body: body ? JSON.stringify(body) : undefined,
      });
    const registered = await call(one, 'POST', '/v1/auth/register', undefined, { username: `lb-${id}`, password: 'a long enough password' });
    expect(registered.status).toBe(201);
    const token = ((await registered.json()) as { access_token: string }).access_token;
    expect((await call(two, 'GET', '/v1/auth/me', token)).status).toBe(200);

    const bot = (await (await call(two, 'POST', '/v1/chatbots', token, { name: 'Across instances' })).json()) as { id: string };
    const conversation = (await (await call(one, 'POST', '/v1/conversations', token, { chatbot_id: bot.id })).json()) as { id: string };
    const before = fake.requests.length;
    const streamed = call(one, 'POST', `/v1/conversations/${conversation.id}/messages`, token, { content: 'Talk for a while', stream: true }).then((r) => r.text());
    await fake.waitFor((requests) => requests.length > before);
    const stop = await call(two, 'POST', `/v1/conversations/${conversation.id}/stop`, token);
    expect(await stop.json()).toEqual({ stopped: true });
    const end = parseSse(await streamed).at(-1)!;
    expect(end.event).toBe('message.end');
    expect(end.data.reply.status).toBe('interrupted');

    expect((await call(one, 'POST', '/v1/auth/logout', token)).status).toBe(204);
    expect((await call(two, 'GET', '/v1/auth/me', token)).status).toBe(401);
  }
});
