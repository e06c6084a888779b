// An identity provider's key set signs tokens for every application it serves: Google's for every
// client, an Auth0 or Keycloak tenant's for each of its APIs. An issuer of keys from such a set
// that names no audience accepts them all, so a token the provider made for another application
// signs its user in here. SPEC leaves the audience optional; the server, whose log operators watch,
// says so when it starts.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { cliProcesses, serveUntilHealthy } from '../helpers/cli-process.js';

const cli = cliProcesses();
afterAll(() => cli.cleanUp());

const WARNING = /issuer "([a-z0-9_-]+)" names no audience/;

/** The server's log lines from start to stop. */
async function startLog(env: Record<string, string>): Promise<{ level: number; msg: string }[]> {
  const started = await serveUntilHealthy(cli, { DATA_DIR: join(cli.tempDir('parley-audience-'), 'data'), LOG_LEVEL: 'info', ...env });
  expect(started.server.child.exitCode, started.server.stderr() + started.server.stdout()).toBeNull();
  started.server.child.kill('SIGTERM');
  await started.server.exited;
  return started.server
    .stdout()
    .split('\n')
    .filter((line) => line.startsWith('{'))
    .map((line) => JSON.parse(line) as { level: number; msg: string });
}

describe('an issuer of a key set that names no audience', () => {
  it('is warned of at start, naming the issuer and the setting to give', { timeout: 120_000 }, async () => {
    const dir = cli.tempDir('parley-audience-file-');
    const file = join(dir, 'issuers.json');
    writeFileSync(
      file,
      JSON.stringify([
        { name: 'partner', jwks_url: 'https://id.example.com/.well-known/jwks.json', issuer: 'https://id.example.com/' },
        { name: 'pinned', jwks_url: 'https://id.example.org/.well-known/jwks.json', audience: 'parley' },
      ]),
    );
    const log = await startLog({ EXTERNAL_JWKS_URL: 'https://tenant.example.net/.well-known/jwks.json', AUTH_ISSUERS_FILE: file });
    const warnings = log.filter((line) => WARNING.test(line.msg));
    expect(warnings.map((line) => WARNING.exec(line.msg)![1]).sort(), JSON.stringify(log)).toEqual(['external-jwks', 'partner']);
    for (const line of warnings) expect(line).toMatchObject({ level: 40, msg: expect.stringContaining('set its audience (EXTERNAL_JWT_AUDIENCE, or "audience" in AUTH_ISSUERS_FILE)') });
  });

  it('is not warned of with an audience, or for a shared secret, which is this application\'s own', { timeout: 120_000 }, async () => {
    const log = await startLog({
      EXTERNAL_JWKS_URL: 'https://tenant.example.net/.well-known/jwks.json',
      EXTERNAL_JWT_AUDIENCE: 'https://api.example.net',
      EXTERNAL_JWT_SECRET: 'a shared secret of at least thirty-two characters, long enough',
    });
    expect(log.some((line) => line.msg.startsWith('Server listening'))).toBe(true);
    expect(log.filter((line) => WARNING.test(line.msg))).toEqual([]);
  });
});
