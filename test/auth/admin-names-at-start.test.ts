// ADMIN_USERNAMES makes an admin of the local account with each name whenever it is made, and
// registration is open: a name listed before its account exists goes to whoever registers it
// first. `parley doctor` warned of it; the server, which is what operators watch, said nothing.
import { afterAll, describe, expect, it } from 'vitest';
import { cliProcesses, serveUntilHealthy } from '../helpers/cli-process.js';
import { httpCall } from '../helpers/http-call.js';

const cli = cliProcesses();
afterAll(() => cli.cleanUp());

const WARNING = /ADMIN_USERNAMES names ([a-z_, ]+), which no account has yet: whoever registers (that name|one of those names) first becomes an admin/;

describe('ADMIN_USERNAMES naming no account yet', () => {
  it('is warned of when the server starts, naming only the names without an account', { timeout: 120_000 }, async () => {
    const dataDir = cli.tempDir('parley-admin-names-');
    const first = await serveUntilHealthy(cli, { DATA_DIR: dataDir, ADMIN_USERNAMES: 'ada,grace' });
    expect(first.server.child.exitCode, first.server.stderr()).toBeNull();
    const registered = await httpCall(first.base, 'POST', '/v1/auth/register', undefined, { username: 'ada', password: 'ada has a long password' });
    expect(registered.status).toBe(201);
    first.server.child.kill('SIGTERM');
    await first.server.exited;
    const warned = WARNING.exec(first.server.stdout());
    expect(warned?.[1], first.server.stdout()).toBe('ada, grace');

    // Started again: ada has her account, grace still has none.
    const second = await serveUntilHealthy(cli, { DATA_DIR: dataDir, ADMIN_USERNAMES: 'ada,grace' });
    second.server.child.kill('SIGTERM');
    await second.server.exited;
    const line = second.server.stdout().split('\n').find((l) => WARNING.test(l));
    expect(line, second.server.stdout()).toBeDefined();
    expect(JSON.parse(line!)).toMatchObject({ level: 40 });
    expect(WARNING.exec(line!)?.[1]).toBe('grace');
  });

  it('says nothing when every name has its account, or none is listed', { timeout: 120_000 }, async () => {
    const dataDir = cli.tempDir('parley-admin-names-');
    const started = await serveUntilHealthy(cli, { DATA_DIR: dataDir });
    await httpCall(started.base, 'POST', '/v1/auth/register', undefined, { username: 'ada', password: 'ada has a long password' });
    started.server.child.kill('SIGTERM');
    await started.server.exited;
    const again = await serveUntilHealthy(cli, { DATA_DIR: dataDir, ADMIN_USERNAMES: 'ADA' });
    again.server.child.kill('SIGTERM');
    await again.server.exited;
    expect(started.server.stdout()).not.toContain('ADMIN_USERNAMES');
    expect(again.server.stdout()).not.toContain('ADMIN_USERNAMES');
  });
});
