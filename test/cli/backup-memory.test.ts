// `parley backup` against a running server holds none of the database in the server's memory.
// PGlite's dumpDataDir built the whole tarball in memory, then it was compressed into memory
// again: a backup of a 151 MB database grew the server by 490 MB, so on a small VPS the backup
// itself could have the server killed. Now the folder is copied beside itself on the disk and
// archived from there a piece at a time. The server's memory is read from /proc while the backup
// runs; the bound is the database's own size (before: more than three times it).
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createPglite } from '../../src/db/pglite.js';
import { folderBytes } from '../../src/features/backup/tar-folder.js';
import { cliProcesses, serveUntilHealthy } from '../helpers/cli-process.js';
import { httpCall as call } from '../helpers/http-call.js';
import { fillWithLargeConversations } from '../helpers/large-database.js';

const url = process.env.TEST_DATABASE_URL;

const rssOf = (pid: number) => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1]) * 1024;

// The embedded database's own backup: on PostgreSQL it is pg_dump's.
describe.runIf(!url)('a backup of a large embedded database while the server runs', () => {
  const processes = cliProcesses();
  afterAll(() => processes.cleanUp());

  it('does not hold the database in the server\'s memory, and restores whole', { timeout: 240_000 }, async () => {
    const dataDir = join(processes.tempDir('parley-backup-memory-'), 'data');
    const first = await serveUntilHealthy(processes, { DATA_DIR: dataDir });
    const registered = await call(first.base, 'POST', '/v1/auth/register', undefined, { username: 'large_backup', password: 'a long enough password' });
    const token = registered.body.access_token as string;
    const userId = (registered.body.user as { id: string }).id;
    const chatbot = (await call(first.base, 'POST', '/v1/chatbots', token, { name: 'Large' })).body.id as string;
    first.server.child.kill('SIGTERM');
    expect(await first.server.exited).toBe(0);

    await fillWithLargeConversations(join(dataDir, 'pglite'), userId, chatbot);
    const databaseBytes = await folderBytes(join(dataDir, 'pglite'));
    expect(databaseBytes).toBeGreaterThan(80 * 1024 * 1024);

    const { server } = await serveUntilHealthy(processes, { DATA_DIR: dataDir });
    const pid = server.child.pid!;
    const before = rssOf(pid);
    let peak = before;
    const sampler = setInterval(() => (peak = Math.max(peak, rssOf(pid))), 20);
    const file = join(processes.tempDir('parley-backup-memory-file-'), 'large.parley');
    const backup = await processes.run(['backup', file], { DATA_DIR: dataDir });
    clearInterval(sampler);
    expect(backup.code, backup.stderr).toBe(0);
    expect(peak - before, `the server grew by ${Math.round((peak - before) / 1e6)} MB for a ${Math.round(databaseBytes / 1e6)} MB database`).toBeLessThan(databaseBytes);
    // Nothing of the backup's work is left in DATA_DIR.
    expect(readdirSync(dataDir).filter((name) => name.startsWith('.backup-'))).toEqual([]);

    server.child.kill('SIGTERM');
    expect(await server.exited).toBe(0);
    const restoredDir = join(processes.tempDir('parley-backup-memory-restored-'), 'data');
    const restore = await processes.run(['restore', file], { DATA_DIR: restoredDir });
    expect(restore.code, restore.stderr).toBe(0);
    const restored = createPglite(join(restoredDir, 'pglite'));
    const [counted] = (await restored.query<{ n: number; chars: number }>('SELECT count(*)::int AS n, sum(length(content))::bigint AS chars FROM messages WHERE user_id = $1', [userId])).rows;
    await restored.close();
    expect(counted).toEqual({ n: 3_000, chars: 96_000_000 });
  });
});
