// Where `parley backup <file>` and `parley export --output <file>` write. Both write beside the
// file and rename onto it once whole, so whatever has that name is replaced: run as root, `parley
// backup /dev/null` replaced the machine's /dev/null with a regular file, and a folder or a
// missing folder was found only after the whole database had been copied. Looked at before anything is.
import { lstatSync, readlinkSync, statSync, type Stats } from 'node:fs';
import { dirname, resolve } from 'node:path';

/** A file name the command cannot write to, said in one line. */
export class OutputTargetError extends Error {}

/** Links followed at most, as the kernel's own limit (ELOOP) stops a loop. */
const MAX_LINKS = 40;

function kindOf(info: Stats): string {
  if (info.isCharacterDevice()) return 'a character device';
  if (info.isBlockDevice()) return 'a block device';
  if (info.isFIFO()) return 'a pipe (fifo)';
  if (info.isSocket()) return 'a socket';
  return 'not a regular file';
}

function folderMissing(file: string, folder: string): OutputTargetError {
  return new OutputTargetError(`cannot write ${file}: the folder ${folder} does not exist: create it first, or name a file in a folder that does`);
}

/**
 * The path to write `what` to: `file`, or where its symbolic links lead (as the shell's `>`
 * follows them; the link itself is kept). Refuses, in one line, a folder, a device, a pipe or a
 * socket there, and a folder that does not exist.
 */
export function outputTarget(file: string, what: 'backup' | 'export'): string {
  let path = resolve(file);
  for (let links = 0; ; links++) {
    let info;
    try {
      info = lstatSync(path);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw new OutputTargetError(`cannot write ${file}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
      const folder = dirname(path);
      const parent = statSync(folder, { throwIfNoEntry: false });
      if (!parent) throw folderMissing(file, folder);
      if (!parent.isDirectory()) throw new OutputTargetError(`cannot write ${file}: ${folder} is not a folder`);
      return path;
    }
    if (info.isSymbolicLink()) {
      if (links >= MAX_LINKS) throw new OutputTargetError(`cannot write ${file}: too many symbolic links (a loop?)`);
      path = resolve(dirname(path), readlinkSync(path));
      continue;
    }
    if (info.isFile()) return path;
    if (info.isDirectory()) {
      const day = new Date().toISOString().slice(0, 10);
      throw new OutputTargetError(`${file} is a folder: name a file in it, such as ${resolve(path, `parley-${day}.${what === 'backup' ? 'backup' : 'json'}`)}`);
    }
    throw new OutputTargetError(`${file} is ${kindOf(info)}, not a file: ${what === 'backup' ? 'a backup' : 'an export'} is written beside its name and renamed onto it once whole, so name a file (then copy or send it from there)`);
  }
}
