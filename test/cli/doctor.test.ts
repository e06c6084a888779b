// `parley doctor`, the database side: a passing set-up, the database down, pending migrations,
// a request role that bypasses row security or may create objects where the owner's functions
// look, and an embedded database a server has open.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { loadMigrations } from '../../src/db/migrate.js';
import { freePort } from '../helpers/ports.js';
import { cleanUp, doctor, removeTemplate, failsOnly, passes, PG_URL, servedDatabase, servedPgliteDir, start, tempDir } from './doctor-run.js';

const redis: Record<string, string> = process.env.TEST_REDIS_URL ? { REDIS_URL: process.env.TEST_REDIS_URL } : {};
const LATEST = loadMigrations().at(-1)!.id;

afterEach(cleanUp);
afterAll(async () => {
  await cleanUp();
  await removeTemplate();
});

describe('parley doctor on a working set-up', () => {
  it('after `parley migrate` on a fresh DATA_DIR: exit 0, every line ok or skip, nothing created', { timeout: 90_000 }, async () => {
    const dataDir = tempDir('parley-doctor-data-');
    const migrated = start(['migrate'], { DATA_DIR: dataDir });
    expect(await migrated.exited, migrated.stderr()).toBe(0);

    // 100 streams fit the smallest usual limit (1024 files); the limit itself is tested apart.
    const report = await doctor({ DATA_DIR: dataDir, ...redis }, { args: ['--streams', '100'] });
    passes(report);
    expect(report.lines.map((line) => line.name)).toEqual(['config', 'database', 'migrations', 'row-security', 'admins', 'instances', 'transactions', 'model', 'redis', 'issuers', 'jwt-secret', 'open-files', 'disk']);
    expect(report.line('database').text).toMatch(/^ok\s+database\s+embedded PGlite \(PostgreSQL \d+\.\d+\) in .*pglite$/);
    expect(report.line('migrations').text).toContain(`current (latest ${LATEST})`);
    // Whether `parley migrate` made the request role or left it to `parley serve`, neither is a failure.
    expect(report.line('row-security').text).toMatch(/^ok\s+row-security\s+(requests run as|role) parley_app\b/);
    expect(report.line('model').text).toMatch(/builtin responder .*no tokens spent/);
    expect(report.line('instances').text).toMatch(/^skip\s+instances\s+the embedded database has one instance, the process that holds its folder$/);
    expect(report.stderr).toBe('');
    expect(existsSync(join(dataDir, 'jwt-secret'))).toBe(false);
  });

  it('on a database `parley serve` set up: the request role is checked, not only announced', { timeout: 90_000 }, async () => {
    const target = await servedDatabase();
    const report = await doctor({ ...target.env, ...redis }, { args: ['--streams', '100'] });
    passes(report);
    expect(report.line('database').text).toMatch(PG_URL ? /^ok\s+database\s+PostgreSQL \d+\.\d+ at 127\.0\.0\.1:\d+\/\w+$/ : /embedded PGlite/);
    expect(report.line('row-security').text).toMatch(new RegExp(`requests run as ${target.appRole}: no superuser, no BYPASSRLS, owns no table; row security forced on \\d+ tables`));
    expect(report.line('disk').text).toMatch(PG_URL ? /^skip\s+disk\s+PostgreSQL's disk is its server's/ : /^ok\s+disk\s+[\d.]+ GiB free of [\d.]+ GiB where DATA_DIR is \(/);
    expect(report.line('transactions').text).toMatch(
      new RegExp(`^ok\\s+transactions\\s+oldest unfrozen transaction [\\d,]+ old \\(database \\w+\\); writes stop at 2,144\\.5 million; ${PG_URL ? 'autovacuum freezes' : 'frozen at start past 100,000,000 \\(PGLITE_FREEZE_AGE\\)'}$`),
    );
  });

  it('warns about an ADMIN_USERNAMES name no account has yet (whoever registers it first becomes an admin), and exits 0', { timeout: 90_000 }, async () => {
    const target = await servedDatabase();
    await target.exec(
      "SELECT set_config('app.scope', 'auth', false); INSERT INTO users (id, username, password_hash) VALUES ('01900000-0000-7000-8000-00000000b055', 'Boss', 'not a hash')",
    );
    const named = await doctor({ ...target.env, ...redis, ADMIN_USERNAMES: 'boss' }, { args: ['--streams', '100'] });
    passes(named);
    expect(named.line('admins').text).toMatch(/^ok\s+admins\s+ADMIN_USERNAMES: boss, each an account$/);
    const early = await doctor({ ...target.env, ...redis, ADMIN_USERNAMES: 'Boss,not_yet' }, { args: ['--streams', '100'] });
    expect(early.code, early.stdout).toBe(0);
    expect(early.lines.filter((line) => line.status !== 'ok' && line.status !== 'skip').map((line) => line.name)).toEqual(['admins']);
    expect(early.line('admins').text).toMatch(/^warn\s+admins\s+ADMIN_USERNAMES names not_yet, which no account has yet: whoever registers that name first becomes an admin → register the name yourself now/);
  });

  it('--json gives the same checks as one JSON document', { timeout: 60_000 }, async () => {
    const target = await servedDatabase();
    const run = start(['doctor', '--json', '--streams', '100'], target.env);
    expect(await run.exited, run.stderr()).toBe(0);
    const parsed = JSON.parse(run.stdout()) as { ok: boolean; checks: Array<{ name: string; status: string; detail: string; fix: string | null }> };
    expect(parsed.ok).toBe(true);
    expect(parsed.checks.find((check) => check.name === 'migrations')).toMatchObject({ status: 'ok', fix: null });
  });
});

describe('parley doctor names each database failure and its fix', () => {
  it('database down: fails at once with the reason, skips what needs it, shows no password', { timeout: 60_000 }, async () => {
    const password = 'pw-must-not-show';
    const port = await freePort();
    const report = await doctor({ DATABASE_URL: `postgres://parley:${password}@127.0.0.1:${port}/parley`, DATA_DIR: tempDir() });
    const line = failsOnly(report, 'database');
    expect(line.text).toBe(
      `FAIL  database        PostgreSQL at 127.0.0.1:${port}/parley unreachable (ECONNREFUSED) → check DATABASE_URL (host, port, database) and that PostgreSQL is running and accepts connections from here`,
    );
    expect(report.line('migrations').status).toBe('skip');
    expect(report.line('row-security').status).toBe('skip');
    expect(report.line('transactions').text).toMatch(/^skip\s+transactions\s+not checked: no database$/);
    expect(report.stdout + report.stderr).not.toContain(password);
  });

  it('pending migrations: names them and `parley migrate`, and applies nothing itself', { timeout: 60_000 }, async () => {
    const target = await servedDatabase();
    await target.exec(`DELETE FROM parley_migrations WHERE id = '${LATEST}'`);
    const report = await doctor(target.env);
    expect(failsOnly(report, 'migrations').text).toMatch(new RegExp(`^FAIL\\s+migrations\\s+1 pending \\(${LATEST}\\.sql\\) → run: parley migrate`));
    expect(await target.query(`SELECT id FROM parley_migrations WHERE id = '${LATEST}'`)).toEqual([]);
  });

  it('an embedded database not created yet: every migration pending, and no folder made', { timeout: 60_000 }, async () => {
    const dataDir = tempDir();
    const report = await doctor({ DATA_DIR: dataDir });
    expect(failsOnly(report, 'migrations').text).toMatch(/none of \d+ applied: no database yet → run: parley migrate/);
    expect(report.line('database').text).toMatch(/^warn\s+database\s+embedded PGlite: no database yet in .* → run: parley migrate/);
    expect(existsSync(join(dataDir, 'pglite'))).toBe(false);
  });

  it('a request role with BYPASSRLS: says row security would not apply, and the statement that fixes it', { timeout: 60_000 }, async () => {
    const target = await servedDatabase();
    await target.exec(`ALTER ROLE ${target.appRole} BYPASSRLS`);
    const line = failsOnly(await doctor(target.env), 'row-security');
    expect(line.text).toContain(`requests run as ${target.appRole}, which has BYPASSRLS: row security would not apply → run: ALTER ROLE ${target.appRole} NOBYPASSRLS`);
  });

  it('a request role that may create objects where the owner\'s functions look (any role may in public before PostgreSQL 15)', { timeout: 60_000 }, async () => {
    const target = await servedDatabase();
    await target.exec("DO $$ BEGIN EXECUTE format('GRANT CREATE ON SCHEMA %I TO PUBLIC', current_schema()); END $$");
    const line = failsOnly(await doctor(target.env), 'row-security');
    expect(line.text).toMatch(
      new RegExp(`requests run as role ${target.appRole}, which may create objects in schema \\w+, .*get around row security → as the schema's owner or a superuser run: REVOKE CREATE ON SCHEMA \\w+ FROM PUBLIC, ${target.appRole};`),
    );
  });

  it('a tenant table whose row security was switched off', { timeout: 60_000 }, async () => {
    const target = await servedDatabase();
    await target.exec('ALTER TABLE messages NO FORCE ROW LEVEL SECURITY');
    const line = failsOnly(await doctor(target.env), 'row-security');
    expect(line.text).toMatch(/row security is off on messages: every request would see every user's rows there → run, for each: ALTER TABLE <table> ENABLE ROW LEVEL SECURITY, FORCE ROW LEVEL SECURITY/);
  });
});

describe('parley doctor beside a running server on the embedded database', () => {
  it('leaves the folder alone: says which process has it open and skips what needs it', { timeout: 120_000 }, async () => {
    const dataDir = await servedPgliteDir();
    const port = await freePort();
    const server = start(['serve'], { DATA_DIR: dataDir, PORT: String(port), LOG_LEVEL: 'warn' });
    const base = `http://127.0.0.1:${port}`;
    for (let up = false; !up; await new Promise((resolve) => setTimeout(resolve, 200))) {
      if (server.child.exitCode !== null) throw new Error(`the server exited:\n${server.stderr()}`);
      up = await fetch(`${base}/health`).then((response) => response.ok, () => false);
    }

    const report = await doctor({ DATA_DIR: dataDir });
    expect(report.code, report.stdout).toBe(0);
    expect(report.line('database').text).toMatch(new RegExp(`^warn\\s+database\\s+embedded PGlite in .* is open in process ${server.child.pid} \\(.*parley.js serve\\); not opened here`));
    expect(report.line('migrations').text).toMatch(/^skip\s+migrations\s+not checked: the embedded database is in use$/);
    expect(report.line('row-security').status).toBe('skip');
    expect(report.line('transactions').text).toMatch(/^skip\s+transactions\s+not checked: the embedded database is in use$/);

    expect((await fetch(`${base}/health`)).status).toBe(200);
    server.child.kill('SIGTERM');
    expect(await server.exited).toBe(0);
  });
});
