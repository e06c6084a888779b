// A server restarted on a host whose clock is now behind the ids it stored: a board without a
// battery-backed clock that starts before NTP sets it, a clock stepped back while the server was
// stopped. The embedded database has nothing else to go by; new ids were made from that clock and
// sorted before every message already stored, so the next exchange showed at the top of its
// conversation. Ids now start after the newest ones stored (lib/ids.ts, server.ts). Times
// (created_at, updated_at) still read that clock: with nothing else to go by, they stay as wrong
// as it is until it is set right.
// The clock is set back by libfaketime (Debian's `faketime` package) for the restarted process.
import { afterAll, describe, expect, it } from 'vitest';
import { cliProcesses, serveUntilHealthy } from '../helpers/cli-process.js';
import { clockBehind, faketimeSkipReason, skipFaketime } from '../helpers/faketime.js';
import { call, conversation, register } from '../instances/cluster.js';

describe.skipIf(skipFaketime)(`a server restarted with its clock an hour behind what it stored${faketimeSkipReason}`, () => {
  const processes = cliProcesses();
  afterAll(() => processes.cleanUp());

  it('puts the next exchange after the ones before in its conversation', { timeout: 90_000 }, async () => {
    const dataDir = processes.tempDir('parley-clock-restart-');
    const env = { DATA_DIR: dataDir, JWT_SECRET: 'x'.repeat(48) };
    const first = await serveUntilHealthy(processes, env);
    const account = await register(first.base);
    const id = await conversation(first.base, account);
    const before = await call(first.base, 'POST', `/v1/conversations/${id}/messages`, { token: account.token, body: { content: 'before the restart' } });
    expect(before.status, before.text).toBe(201);
    first.server.child.kill('SIGTERM');
    expect(await first.server.exited).toBe(0);

    const again = await serveUntilHealthy(processes, { ...env, ...clockBehind(3_600) });
    expect(again.server.child.exitCode, again.server.stderr()).toBeNull();
    const signedIn = await call(again.base, 'POST', '/v1/auth/login', { body: { username: account.username, password: account.password } });
    expect(signedIn.status, signedIn.text).toBe(200);
    const token = signedIn.body.access_token as string;
    const said = await call(again.base, 'POST', `/v1/conversations/${id}/messages`, { token, body: { content: 'after the restart' } });
    expect(said.status, said.text).toBe(201);

    const history = await call(again.base, 'GET', `/v1/conversations/${id}/messages`, { token });
    const contents = history.body.data.map((m: { role: string; content: string }) => (m.role === 'user' ? m.content : 'reply'));
    expect(contents).toEqual(['before the restart', 'reply', 'after the restart', 'reply']);
  });
});
