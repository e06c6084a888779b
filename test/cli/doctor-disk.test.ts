// `parley doctor`'s disk line: the free room where the embedded database writes, a warning while
// it is getting short and a failure well before the server refuses writes (db/disk-full.test.ts).
// DATA_DIR sits on a tmpfs of its own, sized for each case; mounting one needs root, as CI and
// the test machines run.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { cleanUp, doctor, failsOnly, start } from './doctor-run.js';

const mountPoint = mkdtempSync(join(tmpdir(), 'parley-doctor-disk-'));
let mounted = false;

function mountTmpfs(size: string) {
  try {
    execFileSync('mount', mounted ? ['-o', `remount,size=${size}`, mountPoint] : ['-t', 'tmpfs', '-o', `size=${size}`, 'tmpfs', mountPoint], { stdio: 'pipe' });
    mounted = true;
  } catch (error) {
    throw new Error(`this test mounts a tmpfs as DATA_DIR's disk, which needs root: ${(error as Error).message}`);
  }
}

/** A DATA_DIR on the tmpfs that `parley migrate` set up: only the disk is wrong with it. */
async function migratedDataDir(): Promise<string> {
  const dataDir = join(mountPoint, 'data');
  const migrated = start(['migrate'], { DATA_DIR: dataDir });
  expect(await migrated.exited, migrated.stderr()).toBe(0);
  return dataDir;
}

afterEach(cleanUp);
afterAll(() => {
  if (mounted) execFileSync('umount', ['-l', mountPoint], { stdio: 'pipe' });
  rmSync(mountPoint, { recursive: true, force: true });
});

describe("parley doctor on DATA_DIR's disk", () => {
  it('warns with under 1 GiB free, and still exits 0', { timeout: 60_000 }, async () => {
    mountTmpfs('600m');
    const report = await doctor({ DATA_DIR: await migratedDataDir() }, { args: ['--streams', '100'] });
    expect(report.code, report.stdout + report.stderr).toBe(0);
    expect(report.line('disk').text).toMatch(new RegExp(`^warn\\s+disk\\s+\\d+ MiB free of 600 MiB where DATA_DIR is \\(${mountPoint}/data\\) → free some room or move DATA_DIR to a larger disk`));
  });

  it('fails with under 256 MiB free, saying the server refuses writes under 64 MB', { timeout: 60_000 }, async () => {
    mountTmpfs('100m');
    const report = await doctor({ DATA_DIR: await migratedDataDir() }, { args: ['--streams', '100'] });
    expect(failsOnly(report, 'disk').text).toMatch(/^FAIL\s+disk\s+\d+ MiB free of 100 MiB where DATA_DIR is .* → .*under 64 MB free the server refuses writes \(503\) until room is made$/);
  });
});
