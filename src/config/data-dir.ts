import { lstatSync, readlinkSync, statSync, type Stats } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { ConfigError } from './errors.js';

export interface DataDirProblem {
  problem: string;
  fix: string;
}

function kind(stats: Stats): string {
  if (stats.isFile()) return 'a file';
  if (stats.isCharacterDevice() || stats.isBlockDevice()) return 'a device';
  if (stats.isFIFO()) return 'a pipe';
  if (stats.isSocket()) return 'a socket';
  return 'something else';
}

/** Where a link that leads nowhere points: mkdir cannot make a folder through it. */
function danglingLink(path: string): string | null {
  try {
    return lstatSync(path).isSymbolicLink() ? readlinkSync(path) : null;
  } catch {
    return null;
  }
}

/**
 * Why DATA_DIR cannot be a folder: it, or the nearest part of its path that exists, is no folder
 * (a mistyped path, a backup file named as the folder, a volume mounted onto a file), or a link
 * on its path leads nowhere (the disk it leads to is not mounted). Left to mkdir, these were
 * `EEXIST: file already exists, mkdir …`, `ENOTDIR` or `ENOENT`, which name no variable.
 * Null when DATA_DIR is a folder or can be made as one.
 */
export function dataDirNotAFolder(dataDir: string): DataDirProblem | null {
  const cannot = `DATA_DIR (${dataDir}) cannot be used`;
  let path = resolve(dataDir);
  for (;;) {
    let stats: Stats;
    try {
      stats = statSync(path);
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      const target = code === 'ENOENT' ? danglingLink(path) : null;
      if (target) return { problem: `${cannot}: ${path} is a link to ${target}, which does not exist`, fix: 'mount the disk it leads to, or point DATA_DIR elsewhere' };
      // ENOTDIR: a part above is no folder, found on the way up.
      if ((code !== 'ENOENT' && code !== 'ENOTDIR') || dirname(path) === path) return null;
      path = dirname(path);
      continue;
    }
    if (stats.isDirectory()) return null;
    return { problem: `${cannot}: ${path} is ${kind(stats)}, not a folder`, fix: 'set DATA_DIR to a folder (made at first start if missing), or move what is in its place' };
  }
}

/** Refuses, as a configuration error, a DATA_DIR that cannot be a folder. */
export function assertDataDirIsFolder(dataDir: string): void {
  const found = dataDirNotAFolder(dataDir);
  if (found) throw new ConfigError(`${found.problem}; ${found.fix}`);
}
