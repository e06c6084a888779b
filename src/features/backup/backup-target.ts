// Where `parley backup <file>` writes. The backup is written beside the file and renamed onto it
// once whole and checked, so whatever has that name is replaced: run as root, `parley backup
// /dev/null` replaced the machine's /dev/null with a regular file, and a folder or a missing
// folder was found only after the whole database had been copied. Looked at before anything is.
import { lstatSync, readlinkSync, statSync, type Stats } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { BackupError } from './control-socket.js';

/** Links followed at most, as the kernel's own limit (ELOOP) stops a loop. */
const MAX_LINKS = 40;

function kindOf(info: Stats): string {
  if (info.isCharacterDevice()) return 'a character device';
  if (info.isBlockDevice()) return 'a block device';
  if (info.isFIFO()) return 'a pipe (fifo)';
  if (info.isSocket()) return 'a socket';
  return 'not a regular file';
}

function folderMissing(file: string, folder: string): BackupError {
  return new BackupError('usage', `cannot write ${file}: the folder ${folder} does not exist: create it first, or name a file in a folder that does`);
}

/**
 * The path the backup is to be written to: `file`, or where its symbolic links lead (as the
 * shell's `>` follows them; the link itself is kept). Refuses, in one line, a folder, a device,
 * a pipe or a socket there, and a folder that does not exist.
 */
export function backupTarget(file: string): string {
  let path = resolve(file);
  for (let links = 0; ; links++) {
    let info;
    try {
      info = lstatSync(path);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw new BackupError('usage', `cannot write ${file}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
      const folder = dirname(path);
      const parent = statSync(folder, { throwIfNoEntry: false });
      if (!parent) throw folderMissing(file, folder);
      if (!parent.isDirectory()) throw new BackupError('usage', `cannot write ${file}: ${folder} is not a folder`);
      return path;
    }
    if (info.isSymbolicLink()) {
      if (links >= MAX_LINKS) throw new BackupError('usage', `cannot write ${file}: too many symbolic links (a loop?)`);
      path = resolve(dirname(path), readlinkSync(path));
      continue;
    }
    if (info.isFile()) return path;
    if (info.isDirectory()) {
      const day = new Date().toISOString().slice(0, 10);
      throw new BackupError('usage', `${file} is a folder: name a file in it, such as ${resolve(path, `parley-${day}.backup`)}`);
    }
    throw new BackupError('usage', `${file} is ${kindOf(info)}, not a file: a backup is written beside its name and renamed onto it once whole, so name a file (then copy or send it from there)`);
  }
}
