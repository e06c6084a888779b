// A `parley backup` stopped while the running server copies its database (Ctrl-C, a cron job's
// timeout, a dropped SSH session): the server's copy of it, made in DATA_DIR, must go with it.
// Left there, each one took the size of the compressed database for as long as the server ran.
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { cliProcesses, serveUntilHealthy } from '../helpers/cli-process.js';

const url = process.env.TEST_DATABASE_URL;
const cli = cliProcesses();

afterAll(() => cli.cleanUp());

const workFolders = (dataDir: string) => readdirSync(dataDir).filter((name) => name.startsWith('.backup-'));
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

// Backups through the control socket are the embedded database's (PostgreSQL has pg_dump).
describe.runIf(!url)('a parley backup stopped while the server copies its database', () => {
  it('leaves nothing of the copy in DATA_DIR, and the next backup is taken as usual', { timeout: 120_000 }, async () => {
    const dataDir = cli.tempDir('parley-interrupted-data-');
    const { base, server } = await serveUntilHealthy(cli, { DATA_DIR: dataDir, LOG_LEVEL: 'info' });
    expect((await fetch(`${base}/health`)).ok).toBe(true);
    const out = cli.tempDir('parley-interrupted-out-');

    for (const signal of ['SIGINT', 'SIGKILL'] as const) {
      const backup = cli.start(['backup', join(out, `${signal}.backup`)], { DATA_DIR: dataDir });
      while (!/is copying its database/.test(backup.stderr()) && backup.child.exitCode === null) await sleep(20);
      backup.child.kill(signal);
      await backup.exited;
    }
    // The server finishes the copy it began, then finds nobody to send it to.
    let left = workFolders(dataDir);
    for (let i = 0; i < 400 && left.length > 0; i++) {
      await sleep(100);
      left = workFolders(dataDir);
    }
    expect(left, server.stdout()).toEqual([]);
    expect(server.stdout()).toMatch(/backup: the client left before the copy was sent/);
    expect(readdirSync(out).filter((name) => name.includes('partial'))).toEqual([]);

    const next = await cli.run(['backup', join(out, 'next.backup')], { DATA_DIR: dataDir });
    expect(next.code, next.stderr).toBe(0);
    expect(workFolders(dataDir)).toEqual([]);
    expect(server.child.exitCode).toBeNull();
  });
});
