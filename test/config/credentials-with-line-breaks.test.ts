// A key or token whose value ends in a line break: a Kubernetes secret made from a file written
// with `echo` (`kubectl create secret generic llm --from-file=key=key.txt`), a Docker secret read
// into the environment, `LLM_API_KEY=$(cat key.txt)` with a file saved by an editor that ends it
// with CRLF. A header cannot carry a line break, so such a value could never be sent or matched:
// - LLM_API_KEY="sk-…\n": every reply failed, after its retries, as if the model server could not be
//   reached, and `parley doctor` said `unreachable (ERR_INVALID_CHAR) → check LLM_BASE_URL and that
//   the model server is running`, pointing at everything but the key;
// - METRICS_TOKEN="…\n": Prometheus, sending the token it was given, got 401 on every scrape.
// The same value without the line break works; nothing else (the key's own characters) changes.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFakeLlm, type FakeLlm } from '../fake-llm/fake-llm.js';
import { createTestApp, type TestApp } from '../helpers/app.js';
import { createConversation, fakeLlmEnv, sendMessage } from '../helpers/chat.js';
import { cliProcesses } from '../helpers/cli-process.js';
import { loadConfig } from '../../src/config/config.js';
import { configError } from '../helpers/config-error.js';
import { bearer, registerUser } from '../helpers/factories.js';

describe('keys and tokens that end in a line break', () => {
  let llm: FakeLlm;
  const cli = cliProcesses();
  const apps: TestApp[] = [];

  beforeAll(async () => {
    llm = await startFakeLlm();
  });
  afterAll(async () => {
    cli.cleanUp();
    for (const app of apps) await app.close();
    await llm.close();
  });

  it.each([
    ['LLM_API_KEY ending in \\n', { LLM_API_KEY: 'test-key\n' }],
    ['LLM_API_KEY ending in \\r\\n', { LLM_API_KEY: 'test-key\r\n' }],
    ['OPENAI_API_KEY ending in \\n, with no LLM_API_KEY', { LLM_API_KEY: '', OPENAI_API_KEY: 'test-key\n' }],
  ])('a turn is answered by the model with %s', { timeout: 60_000 }, async (_name, env) => {
    const t = await createTestApp(fakeLlmEnv(llm.url, { LLM_MAX_RETRIES: '0', ...env }));
    apps.push(t);
    const user = await registerUser(t);
    const conversation = await createConversation(t, user);
    const before = llm.requests.length;
    const response = await sendMessage(t, user, conversation.id, { content: 'are you there?' });
    expect(response.statusCode, response.body).toBe(201);
    expect(response.json().reply.content).toBe('You said: are you there?');
    expect(llm.requests.slice(before).map((request) => request.authorization)).toEqual(['Bearer test-key']);
  });

  it('parley doctor finds the model answering with LLM_API_KEY ending in \\n', { timeout: 120_000 }, async () => {
    const result = await cli.run(['doctor', '--json'], fakeLlmEnv(llm.url, { LLM_API_KEY: 'test-key\n' }), { deadlineMs: 100_000 });
    const model = (JSON.parse(result.stdout) as { checks: { name: string; status: string; detail: string }[] }).checks.find((check) => check.name === 'model');
    expect(model?.detail).not.toContain('ERR_INVALID_CHAR');
    expect(model?.status).toBe('ok');
  });

  it('GET /metrics takes the token with METRICS_TOKEN ending in \\n', { timeout: 60_000 }, async () => {
    const t = await createTestApp({ METRICS_TOKEN: 'scrape-token-0123456789\n' });
    apps.push(t);
    const response = await t.request({ method: 'GET', url: '/metrics', headers: bearer('scrape-token-0123456789') });
    expect(response.statusCode).toBe(200);
    expect(response.body).toContain('parley_http_requests_total');
    const wrong = await t.request({ method: 'GET', url: '/metrics', headers: bearer('scrape-token-012345678') });
    expect(wrong.statusCode).toBe(401);
  });

  it('refuses, in one line naming it, a METRICS_TOKEN of line breaks only rather than leave /metrics open', () => {
    const error = configError({ METRICS_TOKEN: '\n' });
    expect(error.message).toMatch(/^METRICS_TOKEN must be /);
    expect(error.message).not.toContain('\n');
  });

  it("does not read the provider's own key variable when LLM_API_KEY is given", () => {
    expect(loadConfig({ LLM_PROVIDER: 'openai', LLM_API_KEY: 'sk-used', OPENAI_API_KEY: ' \n ' }).llm.apiKey).toBe('sk-used');
  });

  it('refuses a key with a line break inside, without showing it', () => {
    const error = configError({ LLM_PROVIDER: 'openai', LLM_API_KEY: 'sk-first\nsk-second' });
    expect(error.message).toMatch(/^LLM_API_KEY must be one line/);
    expect(error.message).not.toContain('sk-');
  });
});
