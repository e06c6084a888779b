// `parley doctor`, beyond the database: the model, Redis, issuers' key sets, the production
// JWT secret and the open-file limit. Each runs on a set-up that passes otherwise.
import { randomBytes } from 'node:crypto';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { exportJWK, generateKeyPair } from 'jose';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startFakeJwks, type FakeJwks } from '../fake-jwks/fake-jwks.js';
import { startFakeLlm, type FakeLlm } from '../fake-llm/fake-llm.js';
import { freePort } from '../helpers/ports.js';
import { cleanUp, doctor, removeTemplate, failsOnly, passes, servedPgliteDir } from './doctor-run.js';

let llm: FakeLlm;
let jwks: FakeJwks;

beforeAll(async () => {
  llm = await startFakeLlm();
  const { publicKey } = await generateKeyPair('RS256', { extractable: true });
  jwks = await startFakeJwks([{ ...(await exportJWK(publicKey)), kid: 'k1', alg: 'RS256', use: 'sig' }]);
});
afterEach(async () => {
  llm.reset();
  jwks.setDown(false);
  jwks.setEndless(false);
  await cleanUp();
});
afterAll(async () => {
  await removeTemplate();
  await llm?.close();
  await jwks?.close();
});

/** A served embedded database and these variables; 100 streams fit any usual open-file limit. */
async function doctorWith(env: Record<string, string>, options: { args?: string[]; shell?: string } = {}) {
  return doctor({ DATA_DIR: await servedPgliteDir(), ...env }, { args: ['--streams', '100'], ...options });
}

describe('the model', () => {
  const remote = (baseUrl: string) => ({ LLM_PROVIDER: 'openai-compatible', LLM_BASE_URL: baseUrl, LLM_MODEL: 'fake-model', LLM_API_KEY: 'sk-test' });

  it('answering: one request for a single token, with the key', { timeout: 60_000 }, async () => {
    const report = await doctorWith(remote(llm.url));
    passes(report);
    expect(report.line('model').text).toMatch(/^ok\s+model\s+openai-compatible at http:\/\/127\.0\.0\.1:\d+\/v1, model fake-model answered a 1-token request$/);
    expect(llm.requests).toHaveLength(1);
    expect(llm.requests[0]!.body).toMatchObject({ model: 'fake-model', max_tokens: 1 });
    expect(llm.requests[0]!.authorization).toBe('Bearer sk-test');
  });

  it('unreachable (a closed port): names the reason and LLM_BASE_URL', { timeout: 60_000 }, async () => {
    const line = failsOnly(await doctorWith(remote(`http://127.0.0.1:${await freePort()}/v1`)), 'model');
    expect(line.text).toMatch(/unreachable \(ECONNREFUSED\) → check LLM_BASE_URL and that the model server is running/);
  });

  it('refusing the key (401): names LLM_API_KEY', { timeout: 60_000 }, async () => {
    llm.fail({ kind: 'status', status: 401 });
    const line = failsOnly(await doctorWith(remote(llm.url)), 'model');
    expect(line.text).toMatch(/model fake-model refused the key \(401\) → check LLM_API_KEY/);
  });

  it('failing (500): says the provider failed, once, without retries', { timeout: 60_000 }, async () => {
    llm.fail({ kind: 'status', status: 500 }, { kind: 'status', status: 500 });
    const line = failsOnly(await doctorWith(remote(llm.url)), 'model');
    expect(line.text).toMatch(/the provider failed \(500\) → the provider's server is failing/);
    expect(llm.requests).toHaveLength(1);
  });
});

describe('Redis', () => {
  it('down (REDIS_URL to a closed port): names the reason and REDIS_URL', { timeout: 60_000 }, async () => {
    const port = await freePort();
    const line = failsOnly(await doctorWith({ REDIS_URL: `redis://127.0.0.1:${port}` }), 'redis');
    expect(line.text).toBe(`FAIL  redis           Redis at redis://127.0.0.1:${port} unreachable (ECONNREFUSED) → check REDIS_URL and that Redis is running and reachable from here`);
  });
});

describe("issuers' key sets", () => {
  it('fetchable, with a key for the pinned algorithms', { timeout: 60_000 }, async () => {
    const report = await doctorWith({ EXTERNAL_JWKS_URL: jwks.url, EXTERNAL_JWT_SECRET: randomBytes(32).toString('hex') });
    passes(report);
    expect(report.line('issuer:external-jwks').text).toMatch(/key set at http:\/\/127\.0\.0\.1:\d+\/jwks\.json: 1 signing key\(s\) for RS256, ES256, EdDSA$/);
    expect(report.line('issuer:external').text).toMatch(/shared secret \(HS256\): nothing to fetch/);
  });

  it('answering 503, or not listening: the issuer line fails with the reason', { timeout: 60_000 }, async () => {
    jwks.setDown(true);
    expect(failsOnly(await doctorWith({ EXTERNAL_JWKS_URL: jwks.url }), 'issuer:external-jwks').text).toMatch(/key set at .* answered 503 → check the issuer's JWKS URL/);
    const closed = `http://127.0.0.1:${await freePort()}/jwks.json`;
    expect(failsOnly(await doctorWith({ EXTERNAL_JWKS_URL: closed }), 'issuer:external-jwks').text).toMatch(/not fetchable \(ECONNREFUSED\)/);
  });

  it('redirecting elsewhere: fails, as the server refuses a redirected key set (503) rather than follow it', { timeout: 60_000 }, async () => {
    const redirecting = createServer((_request, response) => response.writeHead(302, { location: jwks.url }).end());
    await new Promise<void>((resolve) => redirecting.listen(0, '127.0.0.1', resolve));
    try {
      const url = `http://127.0.0.1:${(redirecting.address() as AddressInfo).port}/jwks.json`;
      const line = failsOnly(await doctorWith({ EXTERNAL_JWKS_URL: url }), 'issuer:external-jwks');
      expect(line.text).toMatch(/key set at .* redirects \(302\), and Parley does not follow a key set's redirects → point the issuer at the address it redirects to/);
    } finally {
      redirecting.close();
    }
  });

  it('answering a key set that never ends: the line fails at once, saying so', { timeout: 60_000 }, async () => {
    jwks.setEndless(true);
    expect(failsOnly(await doctorWith({ EXTERNAL_JWKS_URL: jwks.url }), 'issuer:external-jwks').text).toMatch(/not fetchable \(the key set is larger than 512 KB\)/);
    expect(jwks.endlessBytes()).toBeLessThan(8 * 1024 * 1024);
  });

  it('holding no key for the algorithms the issuer accepts', { timeout: 60_000 }, async () => {
    const line = failsOnly(await doctorWith({ EXTERNAL_JWKS_URL: jwks.url, EXTERNAL_JWKS_ALGORITHMS: 'ES256' }), 'issuer:external-jwks');
    expect(line.text).toMatch(/has 1 key\(s\), none for ES256 → check the algorithms/);
  });
});

describe('JWT_SECRET in production', () => {
  const production = { NODE_ENV: 'production', LLM_PROVIDER: 'builtin' };

  it('a random secret passes; a guessable one fails with how to make one', { timeout: 60_000 }, async () => {
    const strong = await doctorWith({ ...production, JWT_SECRET: randomBytes(48).toString('base64url') });
    passes(strong);
    expect(strong.line('jwt-secret').text).toMatch(/^ok\s+jwt-secret\s+JWT_SECRET set, 64 bytes/);
    const weak = failsOnly(await doctorWith({ ...production, JWT_SECRET: 'change-me-change-me-change-me-change-me' }), 'jwt-secret');
    expect(weak.text).toMatch(/looks guessable.* → set a random one, e.g. JWT_SECRET=\$\(openssl rand -base64 48\)/);
  });

  it('a short one stops the configuration: one failing line naming JWT_SECRET', { timeout: 60_000 }, async () => {
    const report = await doctorWith({ ...production, JWT_SECRET: 'too-short' });
    expect(report.code).toBe(1);
    expect(report.lines).toHaveLength(1);
    expect(report.line('config').text).toMatch(/^FAIL\s+config\s+JWT_SECRET \(or SECRET_KEY\) must be set to at least 32 bytes .* → set a random one/);
  });
});

describe('the open-file limit', () => {
  it('too low for the expected streams: a warning with the streams it allows and the command to raise it; exit 0', { timeout: 60_000 }, async () => {
    // Node raises its soft limit to the hard one at start, so the hard limit is what counts.
    const report = await doctorWith({}, { args: [], shell: 'ulimit -n 256' });
    expect(report.code, report.stdout).toBe(0);
    expect(report.line('open-files').text).toBe(
      'warn  open-files      256 open files: room for about 1 stream at once (2 files each; more answer 503 at_capacity), fewer than the 1024 expected → raise the hard open-file limit to 2496 or more where the server starts: systemd LimitNOFILE=2496, docker --ulimit nofile=2496, or /etc/security/limits.conf',
    );
  });
});
