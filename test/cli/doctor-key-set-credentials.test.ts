// `parley doctor` on an issuer whose key set URL holds a user name and password
// (https://user:pass@host/jwks, as one behind basic auth is written). Fetch refuses such a URL
// before sending anything, and its error names the whole URL: the issuer's line printed the
// password. Such a URL is now refused with the configuration (the server does not start with it:
// test/config/key-set-url-credentials.test.ts), and the doctor's config line says so, without it.
import { exportJWK, generateKeyPair } from 'jose';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startFakeJwks, type FakeJwks } from '../fake-jwks/fake-jwks.js';
import { cleanUp, doctor, failsOnly, removeTemplate, servedPgliteDir } from './doctor-run.js';

const PASSWORD = 'Kq7sV9-not-for-print';

let jwks: FakeJwks;
beforeAll(async () => {
  const { publicKey } = await generateKeyPair('RS256', { extractable: true });
  jwks = await startFakeJwks([{ ...(await exportJWK(publicKey)), kid: 'k1', alg: 'RS256', use: 'sig' }]);
});
afterEach(cleanUp);
afterAll(async () => {
  await removeTemplate();
  await jwks?.close();
});

describe('an issuer whose key set URL holds credentials', () => {
  it('fails the config line without printing the password, and says why', { timeout: 90_000 }, async () => {
    const url = new URL(jwks.url);
    url.username = 'keys';
    url.password = PASSWORD;
    const report = await doctor({ DATA_DIR: await servedPgliteDir(), EXTERNAL_JWKS_URL: url.toString() }, { args: ['--streams', '100'] });
    const line = failsOnly(report, 'config').text;
    expect(report.stdout + report.stderr).not.toContain(PASSWORD);
    expect(line).toContain('EXTERNAL_JWKS_URL');
    expect(line).toMatch(/user name or password/);
  });
});
