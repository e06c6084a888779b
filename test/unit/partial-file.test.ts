// What killed backups and exports leave beside their file goes at the next run; what a running one
// writes, or what was written a moment ago (maybe by another machine sharing the folder), stays.
import { mkdtempSync, readdirSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { partialName, removeStalePartials } from '../../src/lib/partial-file.js';

/** A process id no process has here: past the kernel's largest (pid_max is at most 2^22). */
const DEAD_PID = 4_194_304 + 17;

function folderWith(names: Record<string, 'old' | 'new'>): string {
  const folder = mkdtempSync(join(tmpdir(), 'parley-partials-'));
  const hourAgo = new Date(Date.now() - 3_600_000);
  for (const [name, age] of Object.entries(names)) {
    writeFileSync(join(folder, name), 'x');
    if (age === 'old') utimesSync(join(folder, name), hourAgo, hourAgo);
  }
  return folder;
}

describe('partial files beside a backup or an export', () => {
  it('are named with the writing process, so two writers of one file never share one', () => {
    expect(partialName('/b/nightly.backup', 123)).toBe('/b/nightly.backup.123.partial');
    expect(partialName('/b/nightly.backup')).toBe(`/b/nightly.backup.${process.pid}.partial`);
  });

  it("are removed when their writer is gone and they stopped changing, and only the file's own", async () => {
    const folder = folderWith({
      'nightly.backup': 'old',
      [`nightly.backup.${DEAD_PID}.partial`]: 'old',
      'nightly.backup.partial': 'old', // an earlier version's name
      [`nightly.backup.${process.ppid}.partial`]: 'old', // a writer still running
      [`nightly.backup.${DEAD_PID + 1}.partial`]: 'new', // written a moment ago (another machine?)
      [`weekly.backup.${DEAD_PID}.partial`]: 'old', // another file's
      [`nightly.backup.x.${DEAD_PID}.partial`]: 'old',
    });
    await removeStalePartials(join(folder, 'nightly.backup'));
    expect(readdirSync(folder).sort()).toEqual(
      [
        'nightly.backup',
        `nightly.backup.${process.ppid}.partial`,
        `nightly.backup.${DEAD_PID + 1}.partial`,
        `weekly.backup.${DEAD_PID}.partial`,
        `nightly.backup.x.${DEAD_PID}.partial`,
      ].sort(),
    );
  });

  it('finds nothing to do in a folder that is not there', async () => {
    await expect(removeStalePartials(join(tmpdir(), 'parley-no-such-folder', 'nightly.backup'))).resolves.toBeUndefined();
  });
});
