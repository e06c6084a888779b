// A backup or an export is written under a name of its own beside its target, checked, then
// renamed: the target is whole or not there. That name was `<file>.partial` for every writer, and
// two writers of one target (a cron job started again while the last run still writes, on a large
// database) shared it: the second removed the first's and wrote its own, the first then checked
// that half-written one, failed, and removed it in turn, and the second failed too. Neither backup
// was kept. Each writer now has its own name, with its process id; both complete, and the target is
// the one renamed last.
import { readdir, rm, stat } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { processAlive } from './process-alive.js';

/** Where this process writes `file` before renaming it. */
export function partialName(file: string, pid = process.pid): string {
  return `${file}.${pid}.partial`;
}

/** A writer still at work writes at least this often; the file of one that was killed stops changing. */
const STALE_AFTER_MS = 60_000;

const escapeRegExp = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/**
 * Removes what killed writers of `file` left beside it (SIGKILL, a power cut): their partial files,
 * and `<file>.partial` of earlier versions. Only those unchanged for a minute whose process is not
 * running here: the folder may be shared with another machine, where a process id means nothing.
 */
export async function removeStalePartials(file: string): Promise<void> {
  const folder = dirname(resolve(file));
  const own = new RegExp(`^${escapeRegExp(basename(file))}\\.(?:(\\d+)\\.)?partial$`);
  const names = await readdir(folder).catch(() => [] as string[]);
  for (const name of names) {
    const match = own.exec(name);
    if (!match) continue;
    const pid = match[1] === undefined ? null : Number(match[1]);
    if (pid === process.pid || (pid !== null && processAlive(pid))) continue;
    const path = join(folder, name);
    const changed = await stat(path).then((found) => found.mtimeMs, () => null);
    if (changed !== null && Date.now() - changed >= STALE_AFTER_MS) await rm(path, { force: true });
  }
}
