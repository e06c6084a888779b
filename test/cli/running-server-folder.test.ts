// An operator runs `parley users` or `parley migrate` while `parley serve` runs on the same
// embedded database. The README asks to stop the server first ("one process per data folder"),
// and serve, backup and restore enforce it through DATA_DIR/parley.sock, but users and migrate
// opened the folder anyway: two PostgreSQL instances on one set of files. The command reported
// success; what it did was not what the server saw, and the server's own later commits could be
// lost. They now refuse in one line, as restore does, and change nothing.
import { afterAll, describe, expect, it } from 'vitest';
import { cliProcesses, serveUntilHealthy } from '../helpers/cli-process.js';
import { httpCall as call } from '../helpers/http-call.js';

const url = process.env.TEST_DATABASE_URL;
const PASSWORD = 'a long enough password';

describe.runIf(!url)('a CLI command on the embedded database of a running server', () => {
  const processes = cliProcesses();
  afterAll(() => processes.cleanUp());

  it('parley users deactivate: refused in one line while the server runs, changing nothing', { timeout: 120_000 }, async () => {
    const dataDir = processes.tempDir('parley-live-users-');
    const { base, server } = await serveUntilHealthy(processes, { DATA_DIR: dataDir });
    expect((await call(base, 'POST', '/v1/auth/register', undefined, { username: 'mallory_live', password: PASSWORD })).status).toBe(201);

    const deactivate = await processes.run(['users', 'deactivate', 'mallory_live'], { DATA_DIR: dataDir });
    const login = await call(base, 'POST', '/v1/auth/login', undefined, { username: 'mallory_live', password: PASSWORD });
    server.child.kill('SIGTERM');
    await server.exited;
    expect(deactivate.code, deactivate.stdout).not.toBe(0);
    expect(deactivate.stderr).toMatch(/^parley: [^\n]*in use by a running parley server[^\n]*\n$/);
    // Refused, so nothing changed: the account still signs in, and the operator was told why.
    expect(login.status).toBe(200);
  });

  it('parley migrate: refused in one line while the server runs, and accounts the server registered afterwards survive its crash', { timeout: 120_000 }, async () => {
    const dataDir = processes.tempDir('parley-live-migrate-');
    const first = await serveUntilHealthy(processes, { DATA_DIR: dataDir });
    expect((await call(first.base, 'POST', '/v1/auth/register', undefined, { username: 'before_migrate', password: PASSWORD })).status).toBe(201);

    const migrate = await processes.run(['migrate'], { DATA_DIR: dataDir });
    // Answered 201: committed, as far as the client can tell.
    expect((await call(first.base, 'POST', '/v1/auth/register', undefined, { username: 'after_migrate', password: PASSWORD })).status).toBe(201);
    first.server.child.kill('SIGKILL'); // a crash: PostgreSQL recovers committed work from its WAL
    await first.server.exited;

    const second = await serveUntilHealthy(processes, { DATA_DIR: dataDir });
    try {
      expect(second.server.child.exitCode, second.server.stderr()).toBeNull();
      const before = await call(second.base, 'POST', '/v1/auth/login', undefined, { username: 'before_migrate', password: PASSWORD });
      const after = await call(second.base, 'POST', '/v1/auth/login', undefined, { username: 'after_migrate', password: PASSWORD });
      expect(before.status).toBe(200);
      expect(after.status, `parley migrate exited ${migrate.code} (${(migrate.stdout + migrate.stderr).trim()}); the account registered after it was lost`).toBe(200);
      expect(migrate.code).not.toBe(0);
      expect(migrate.stderr).toMatch(/^parley: [^\n]*in use by a running parley server[^\n]*\n$/);
    } finally {
      second.server.child.kill('SIGTERM');
      await second.server.exited;
    }
  });
});
