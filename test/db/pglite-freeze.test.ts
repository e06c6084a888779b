// The embedded database has no autovacuum, so nothing froze its rows: its transaction ids only
// aged, towards the 2^31 where PostgreSQL stops taking writes, counted from the oldest database of
// the folder (template0 and template1 included). `parley serve` now freezes every database past
// PGLITE_FREEZE_AGE at start, `parley doctor` shows the age, and a server that runs on warns.
// Ages here are made by spending transaction ids (PGLITE_FREEZE_AGE's least is 1,000).
import { execFileSync } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statfsSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { openDatabase, pgliteDirFor } from '../../src/db/client.js';
import { COUNTERS_FILE } from '../../src/db/pglite-counters.js';
import { createTestApp, type TestApp } from '../helpers/app.js';
import { freePort } from '../helpers/ports.js';
import { cleanUp, doctor, removeTemplate, servedPgliteDir, start } from '../cli/doctor-run.js';

const url = process.env.TEST_DATABASE_URL;
const FREEZE_AGE = 1_000;

afterEach(cleanUp);
afterAll(async () => {
  await cleanUp();
  await removeTemplate();
});

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Each database of the folder and the age of its oldest unfrozen transaction. */
async function ages(dataDir: string): Promise<Record<string, number>> {
  const database = await openDatabase({ url: null, pgliteDir: pgliteDirFor(dataDir) });
  try {
    const rows = await database.sql.query<{ name: string; age: number }>('SELECT datname AS name, age(datfrozenxid)::int AS age FROM pg_database');
    return Object.fromEntries(rows.map((row) => [row.name, row.age]));
  } finally {
    await database.close();
  }
}

/** Spends `count` transaction ids in the folder, one transaction each, as a server's turns would. */
async function spendTransactions(dataDir: string, count: number): Promise<void> {
  const database = await openDatabase({ url: null, pgliteDir: pgliteDirFor(dataDir) });
  try {
    for (let i = 0; i < count; i++) await database.app.sql.query('SELECT txid_current()');
  } finally {
    await database.close();
  }
}

const MiB = 1024 * 1024;

/** `parley serve` on the folder until /health answers; then registers a user and stops it. */
async function serveOnce(dataDir: string): Promise<string> {
  const port = await freePort();
  const server = start(['serve'], { DATA_DIR: dataDir, PORT: String(port), PGLITE_FREEZE_AGE: String(FREEZE_AGE) });
  const base = `http://127.0.0.1:${port}`;
  let exited = false;
  void server.exited.then(() => (exited = true));
  for (let ready = false; !ready; await sleep(200)) {
    if (exited) throw new Error(`parley exited:\n${server.stderr()}\n${server.stdout()}`);
    ready = await fetch(`${base}/health`).then((r) => r.ok, () => false);
  }
  const registered = await fetch(`${base}/v1/auth/register`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ username: `frozen_${port}`, password: 'a long enough password' }),
  });
  expect(registered.status).toBe(201);
  server.child.kill('SIGTERM');
  expect(await server.exited, server.stderr()).toBe(0);
  return server.stdout();
}

describe.runIf(!url)('old transactions in the embedded database', () => {
  it('are frozen at start in every database of the folder once past PGLITE_FREEZE_AGE, and the doctor shows the age before and after', { timeout: 120_000 }, async () => {
    const dataDir = await servedPgliteDir();
    // Ten times the freeze age: where a server that never restarted would warn.
    await spendTransactions(dataDir, 10 * FREEZE_AGE + 50);
    const before = await ages(dataDir);
    expect(Object.keys(before).sort()).toEqual(['postgres', 'template0', 'template1']);
    for (const age of Object.values(before)) expect(age).toBeGreaterThan(10 * FREEZE_AGE);

    const old = await doctor({ DATA_DIR: dataDir, PGLITE_FREEZE_AGE: String(FREEZE_AGE) }, { args: ['--streams', '100'] });
    expect(old.code, old.stdout).toBe(0);
    expect(old.line('transactions').text).toMatch(/^warn\s+transactions\s+oldest unfrozen transaction 10,\d{3} old \(database \w+\); writes stop at 2,144\.5 million → start the server \(parley serve\): it freezes old rows at start/);
    // The doctor only looks.
    expect((await ages(dataDir)).template0).toBeGreaterThanOrEqual(before.template0!);

    // Dead rows a previous run counted (pglite-counters.ts), which the freeze's VACUUM reclaims.
    const counters = join(pgliteDirFor(dataDir), COUNTERS_FILE);
    const carried = () => (JSON.parse(readFileSync(counters, 'utf8')) as Record<string, { dead: number; modified: number }>).messages;
    writeFileSync(counters, JSON.stringify({ messages: { dead: 5_000, modified: 777 } }));

    const log = await serveOnce(dataDir);
    // Not vacuumed again for them; the changes still count towards the next ANALYZE.
    expect(carried()).toEqual({ dead: 0, modified: 777 });
    expect(log).toMatch(/froze the embedded database's old rows \(past PGLITE_FREEZE_AGE 1,000\): postgres \(10,\d{3} transactions old\), template0 \(10,\d{3} transactions old\), template1 \(10,\d{3} transactions old\), in \d+ ms/);
    const after = await ages(dataDir);
    // What the start and one registration spent since, and nothing older.
    for (const age of Object.values(after)) expect(age).toBeLessThan(FREEZE_AGE / 2);

    const fresh = await doctor({ DATA_DIR: dataDir, PGLITE_FREEZE_AGE: String(FREEZE_AGE) }, { args: ['--streams', '100'] });
    expect(fresh.line('transactions').text).toMatch(/^ok\s+transactions\s+oldest unfrozen transaction \d{1,3} old \(database \w+\); writes stop at 2,144\.5 million; frozen at start past 1,000 \(PGLITE_FREEZE_AGE\)$/);

    // Below the age, a start freezes nothing, and the dead rows counted stay counted.
    writeFileSync(counters, JSON.stringify({ messages: { dead: 300, modified: 777 } }));
    expect(await serveOnce(dataDir)).not.toContain('froze');
    expect(carried()).toEqual({ dead: 300, modified: 777 });
  });
});

describe.runIf(!url)('old transactions in the embedded database with a counts file it cannot write', () => {
  it('are frozen all the same, and the log says the counts file was not updated, not that the freeze failed', { timeout: 120_000 }, async () => {
    const dataDir = await servedPgliteDir();
    await spendTransactions(dataDir, FREEZE_AGE + 50);
    const counters = join(pgliteDirFor(dataDir), COUNTERS_FILE);
    writeFileSync(counters, JSON.stringify({ messages: { dead: 5_000, modified: 777 } }));
    // The file is written beside and renamed over: a directory in the way fails the write.
    mkdirSync(`${counters}.next`);

    const log = await serveOnce(dataDir);
    expect(log).toMatch(/froze the embedded database's old rows/);
    expect(log).not.toMatch(/could not freeze/);
    expect(log).toMatch(/could not set the dead rows of parley-counters\.json to zero after the freeze[^"]*EISDIR/);
    for (const age of Object.values(await ages(dataDir))) expect(age).toBeLessThan(FREEZE_AGE / 2);
  });
});

describe.runIf(!url)('old transactions in the embedded database on a nearly full disk', () => {
  const mountPoint = mkdtempSync(join(tmpdir(), 'parley-freeze-disk-'));
  afterAll(() => {
    execFileSync('umount', ['-l', mountPoint], { stdio: 'pipe' });
    rmSync(mountPoint, { recursive: true, force: true });
  });

  it('are left unfrozen, saying why, while the disk has less room than a freeze may write; the server serves, and freezes once there is room', { timeout: 120_000 }, async () => {
    try {
      execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=160m', 'tmpfs', mountPoint], { stdio: 'pipe' });
    } catch (error) {
      throw new Error(`this test mounts a 160 MB tmpfs as DATA_DIR's disk, which needs root: ${(error as Error).message}`);
    }
    const dataDir = join(mountPoint, 'data');
    cpSync(await servedPgliteDir(), dataDir, { recursive: true });
    await spendTransactions(dataDir, FREEZE_AGE + 50);
    // Above the 64 MiB the disk guard keeps (writes go on), below that plus the tables.
    const free = statfsSync(mountPoint);
    const filler = join(mountPoint, 'filler');
    writeFileSync(filler, Buffer.alloc(Number(free.bavail) * Number(free.bsize) - 70 * MiB));

    const log = await serveOnce(dataDir);
    expect(log).toMatch(/did not freeze the embedded database's old rows \(postgres \(1,\d{3} transactions old\), template0 .*\): 7\d MB free on its disk, freezing may need \d+ MB; make room, and the next start freezes them/);
    expect(log).not.toContain('froze');
    for (const age of Object.values(await ages(dataDir))) expect(age).toBeGreaterThan(FREEZE_AGE);

    rmSync(filler);
    expect(await serveOnce(dataDir)).toContain("froze the embedded database's old rows");
    for (const age of Object.values(await ages(dataDir))) expect(age).toBeLessThan(FREEZE_AGE / 2);
  });
});

describe.runIf(!url)('a server on the embedded database that runs on', () => {
  let t: TestApp | undefined;
  afterEach(async () => {
    await t?.close();
    t = undefined;
  });

  it('warns in its log once its oldest transaction is ten times PGLITE_FREEZE_AGE old, saying a restart freezes', { timeout: 60_000 }, async () => {
    t = await createTestApp({ PGLITE_FREEZE_AGE: String(FREEZE_AGE), PGLITE_STATISTICS_MS: '100' });
    await sleep(500);
    const warning = () => t!.logs.find((line) => line.includes('oldest unfrozen transaction'));
    expect(warning()).toBeUndefined();
    for (let i = 0; i < 10 * FREEZE_AGE; i++) await t.database.app.sql.query('SELECT txid_current()');
    for (const giveUpAt = Date.now() + 10_000; !warning() && Date.now() < giveUpAt; ) await sleep(100);
    const line = JSON.parse(warning() ?? '{}') as { level?: number; msg?: string; transactions_left?: number };
    expect(line.level).toBe(40);
    expect(line.msg).toMatch(/^the embedded database's oldest unfrozen transaction is 10,\d{3} old \(database \w+\); it stops taking writes 2,144,4\d{2},\d{3} transactions from now: restart Parley, which freezes old rows at start$/);
  });
});
