// The embedded database's disk failing to save what is written to it: fsync(2) answering EIO, as
// a dying disk or a lost network volume does. A reply the disk may not hold is never answered as
// stored; the server stops for its supervisor, and everything that meets such a disk (a start, a
// backup, a restore) says it is the disk, naming where, rather than a bare errno or a blameless
// backup. The failure is injected under the server (test/helpers/failing-sync.ts), for the files
// under one folder only.
import { existsSync, mkdirSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parseSse } from '../helpers/chat.js';
import { cliProcesses, serveUntilHealthy } from '../helpers/cli-process.js';
import { failingSync, type FailingSync } from '../helpers/failing-sync.js';
import { httpCall as call } from '../helpers/http-call.js';
import { freePort } from '../helpers/ports.js';

const url = process.env.TEST_DATABASE_URL;

const exitWithin = (exited: Promise<number | null>, ms: number) => Promise.race([exited, new Promise((resolve) => setTimeout(() => resolve('still running'), ms))]);

// PostgreSQL's own disk is its server's, out of Parley's hands.
describe.runIf(!url)('the embedded database when its disk fails to sync', () => {
  const processes = cliProcesses();
  // Each disk fails apart from the others: one per test's DATA_DIR, one for where a backup is written.
  const disks: FailingSync[] = [];
  const disk = () => {
    disks.push(failingSync());
    return disks.at(-1)!;
  };
  afterAll(() => {
    processes.cleanUp();
    for (const one of disks) one.remove();
  });

  /** A server on a DATA_DIR of its own, with one conversation of one turn, syncs still working. */
  async function serverWithATurn(name: string, sync: FailingSync) {
    const dataDir = join(processes.tempDir(`parley-${name}-`), 'data');
    const env = { DATA_DIR: dataDir, RATE_LIMIT_MESSAGES_USER: 'off', ...sync.env(dataDir) };
    const { base, server } = await serveUntilHealthy(processes, env);
    const token = (await call(base, 'POST', '/v1/auth/register', undefined, { username: name, password: 'a long enough password' })).body.access_token as string;
    const conversation = (await call(base, 'POST', `/v1/conversations`, token, { title: 'a failing disk' })).body.id as string;
    expect((await call(base, 'POST', `/v1/conversations/${conversation}/messages`, token, { content: 'first' })).status).toBe(201);
    return { base, server, token, conversation, dataDir, env };
  }

  it('never answers a reply as stored when the disk could not save it: the stream ends in an error, later turns get 503, and the process stops naming DATA_DIR', { timeout: 120_000 }, async () => {
    const sync = disk();
    const { base, server, token, conversation, dataDir, env } = await serverWithATurn('sync_stream', sync);
    sync.start();
    try {
      const streamed = await fetch(`${base}/v1/conversations/${conversation}/messages`, {
        method: 'POST',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        body: JSON.stringify({ content: 'second', stream: true }),
        signal: AbortSignal.timeout(20_000),
      });
      const events = parseSse(await streamed.text());
      expect(events.map((e) => e.event)).not.toContain('message.end');
      expect(events.at(-1)).toMatchObject({ event: 'error', data: { code: 'database_unavailable' } });

      const refused = await call(base, 'POST', `/v1/conversations/${conversation}/messages`, token, { content: 'third' });
      // The database refuses it, or the server has begun to stop: a 503 either way.
      expect(refused).toMatchObject({ status: 503, contentType: expect.stringMatching(/^application\/problem\+json/), body: { code: expect.stringMatching(/^(database|service)_unavailable$/) } });
      expect(await exitWithin(server.exited, 30_000), `${server.stdout()}${server.stderr()}`).toBe(1);
      const log = `${server.stdout()}${server.stderr()}`;
      expect(log).toMatch(new RegExp(`"level":60[^\\n]*DATA_DIR \\(${dataDir.replace(/[/.]/g, '\\$&')}\\)[^\\n]*I/O error`));
      expect(log).not.toMatch(/"unexpected error"/);
    } finally {
      sync.stop();
    }

    // The disk sound again: the same conversation, with its first turn whole, takes the next message.
    const { base: again } = await serveUntilHealthy(processes, env);
    const history = await call(again, 'GET', `/v1/conversations/${conversation}/messages?limit=100`, token);
    expect(history.status).toBe(200);
    const messages = history.body.data as Array<{ role: string; content: string; status: string }>;
    expect(messages.slice(0, 2).map((m) => [m.role, m.status])).toEqual([
      ['user', 'complete'],
      ['assistant', 'complete'],
    ]);
    // The turn whose commit could not be synced is in doubt, as a commit cut off is on any database:
    // what its log reached the disk with is replayed at the start, so it is gone or there once, whole.
    expect([[], [['user', 'second'], ['assistant', 'complete']]]).toContainEqual(messages.slice(2).map((m) => [m.role, m.role === 'user' ? m.content : m.status]));
    expect((await call(again, 'POST', `/v1/conversations/${conversation}/messages`, token, { content: 'after the repair' })).status).toBe(201);
  });

  it('refuses to start on a disk that cannot sync, with one line naming DATA_DIR and the disk, for a fresh folder and an existing one', { timeout: 120_000 }, async () => {
    const sync = disk();
    const { server, dataDir, env } = await serverWithATurn('sync_start', sync);
    server.child.kill('SIGTERM');
    expect(await exitWithin(server.exited, 30_000)).toBe(0);
    const fresh = join(processes.tempDir('parley-sync-fresh-'), 'data');
    sync.start();
    try {
      for (const [folder, folderEnv] of [[dataDir, env], [fresh, { ...env, DATA_DIR: fresh, ...sync.env(fresh) }]] as const) {
        const started = processes.start(['serve'], { PORT: String(await freePort()), LOG_LEVEL: 'warn', ...folderEnv });
        expect(await exitWithin(started.exited, 30_000), `${started.stdout()}${started.stderr()}`).toBe(1);
        expect(started.stderr()).toMatch(new RegExp(`DATA_DIR \\(${folder.replace(/[/.]/g, '\\$&')}\\)[^\\n]*disk[^\\n]*I/O error`));
        // Nothing half made is left beside the database.
        if (existsSync(folder)) expect(readdirSync(folder).filter((name) => name.startsWith('pglite.'))).toEqual([]);
      }
    } finally {
      sync.stop();
    }
  });

  it('backup and restore on a disk that cannot sync say it is the disk, leave no file behind and change nothing', { timeout: 120_000 }, async () => {
    const sync = disk();
    const { base, server, token, conversation, dataDir, env } = await serverWithATurn('sync_backup', sync);
    const shelf = processes.tempDir('parley-sync-shelf-');
    const good = join(shelf, 'good.parley');
    expect((await processes.run(['backup', good], { DATA_DIR: dataDir })).code).toBe(0);

    // A backup written to a disk that cannot sync: refused, naming the file and the disk; nothing there.
    const broken = join(shelf, 'broken');
    mkdirSync(broken);
    const shelfSync = disk();
    shelfSync.start();
    try {
      const backup = await processes.run(['backup', join(broken, 'taken.parley')], { DATA_DIR: dataDir, ...shelfSync.env(broken) });
      expect(backup.code, backup.stderr).toBe(1);
      expect(backup.stderr).toMatch(new RegExp(`${broken.replace(/[/.]/g, '\\$&')}/taken\\.parley[^\\n]*disk[^\\n]*I/O error`));
      expect(readdirSync(broken)).toEqual([]);
      // The server it was asked of serves on.
      expect((await call(base, 'GET', `/v1/conversations/${conversation}/messages`, token)).status).toBe(200);
    } finally {
      shelfSync.stop();
    }

    // A restore onto a DATA_DIR whose disk cannot sync: the disk is named, not the (good) backup.
    server.child.kill('SIGTERM');
    expect(await exitWithin(server.exited, 30_000)).toBe(0);
    const before = readdirSync(dataDir).sort();
    sync.start();
    try {
      const restore = await processes.run(['restore', good], env);
      expect(restore.code, restore.stderr).toBe(1);
      expect(restore.stderr).toMatch(new RegExp(`DATA_DIR \\(${dataDir.replace(/[/.]/g, '\\$&')}\\)[^\\n]*disk[^\\n]*I/O error`));
      expect(restore.stderr).not.toMatch(/the backup's database[^\n]*could not be opened/);
      expect(readdirSync(dataDir).sort()).toEqual(before);
    } finally {
      sync.stop();
    }
    const { base: again } = await serveUntilHealthy(processes, env);
    expect((await call(again, 'GET', `/v1/conversations/${conversation}/messages`, token)).status).toBe(200);
  });
});
