// Two `parley backup`s of one file at once: a cron job started again while the last run still
// writes (a large database, a slow disk). They shared `<file>.partial`: the second removed the
// first's, the first then checked the second's half-written file, failed and removed it, and the
// second failed on it in turn. No backup was kept while runs overlapped.
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { checkArchive, readBackup } from '../../src/features/backup/backup-file.js';
import { cliProcesses, serveUntilHealthy, type CliProcess } from '../helpers/cli-process.js';
import { httpCall as call } from '../helpers/http-call.js';
import { fillWithLargeConversations } from '../helpers/large-database.js';

const url = process.env.TEST_DATABASE_URL;
const cli = cliProcesses();

afterAll(() => cli.cleanUp());

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** The partial files in `folder`, each as name and inode: a file removed and made again is another. */
const partials = (folder: string) =>
  readdirSync(folder)
    .filter((name) => name.endsWith('.partial'))
    .map((name) => {
      try {
        return `${name}#${statSync(join(folder, name)).ino}`;
      } catch {
        return null;
      }
    })
    .filter((entry): entry is string => entry !== null);

/** Waits until `backup` writes a partial file not among `known`, and returns the ones there then. */
async function writing(backup: CliProcess, folder: string, known: string[]): Promise<string[]> {
  const deadline = Date.now() + 60_000;
  for (;;) {
    const now = partials(folder);
    if (now.some((entry) => !known.includes(entry))) return now;
    if (backup.child.exitCode !== null || Date.now() > deadline) throw new Error(`no new partial file: ${backup.stderr()}`);
    await sleep(2);
  }
}

describe.runIf(!url)('two parley backups of one file at the same time', () => {
  it('both complete, the file is a whole backup, and nothing else is left beside it', { timeout: 180_000 }, async () => {
    const dataDir = join(cli.tempDir('parley-overlap-'), 'data');
    const first = await serveUntilHealthy(cli, { DATA_DIR: dataDir });
    const registered = await call(first.base, 'POST', '/v1/auth/register', undefined, { username: 'overlapping', password: 'a long enough password' });
    const chatbot = (await call(first.base, 'POST', '/v1/chatbots', registered.body.access_token as string, { name: 'Large' })).body.id as string;
    first.server.child.kill('SIGTERM');
    expect(await first.server.exited).toBe(0);
    // About 35 MB: each backup is written over many pieces, so it can be paused halfway.
    await fillWithLargeConversations(join(dataDir, 'pglite'), (registered.body.user as { id: string }).id, chatbot, 10);
    const { server } = await serveUntilHealthy(cli, { DATA_DIR: dataDir });
    const out = cli.tempDir('parley-overlap-out-');
    const file = join(out, 'nightly.backup');

    // The first run is paused while it writes; the second starts writing; then the first ends before the second.
    const earlier = cli.start(['backup', file], { DATA_DIR: dataDir });
    const earliers = await writing(earlier, out, []);
    earlier.child.kill('SIGSTOP');
    const later = cli.start(['backup', file], { DATA_DIR: dataDir });
    await writing(later, out, earliers);
    later.child.kill('SIGSTOP');
    earlier.child.kill('SIGCONT');
    const earlierCode = await earlier.exited;
    later.child.kill('SIGCONT');
    const laterCode = await later.exited;

    expect(earlierCode, earlier.stderr()).toBe(0);
    expect(laterCode, later.stderr()).toBe(0);
    expect(readdirSync(out)).toEqual(['nightly.backup']);
    const kept = await readBackup(file);
    await checkArchive(kept);
    expect(kept.header.migrations.length).toBeGreaterThan(0);
    expect(server.child.exitCode).toBeNull();
  });
});
