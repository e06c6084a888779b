// Whether an embedded database folder is open in another process. PGlite has no lock of its
// own: two processes on one folder overwrite each other's pages. While open it keeps a
// postmaster.pid there (removed on a clean close) and holds the folder's files open, which on
// Linux /proc shows; a postmaster.pid that no process holds is left from a crash, and harmless.
import { existsSync, readdirSync, readFileSync, readlinkSync, realpathSync, statSync } from 'node:fs';
import { join } from 'node:path';

export interface Holder {
  /** null when the platform cannot tell who (the folder is then taken to be in use). */
  pid: number | null;
  command: string | null;
}

function commandOf(pid: number): string | null {
  try {
    const parts = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean);
    return parts.length ? parts.join(' ').slice(0, 120) : null;
  } catch {
    return null;
  }
}

/** The first other process with a file of `dir` open; processes we may not inspect are passed over. */
function findHolder(dir: string): Holder | null {
  const prefix = `${realpathSync(dir)}/`;
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
    let fds: string[];
    try {
      fds = readdirSync(`/proc/${entry}/fd`);
    } catch {
      continue;
    }
    for (const fd of fds) {
      let target: string;
      try {
        target = readlinkSync(`/proc/${entry}/fd/${fd}`);
      } catch {
        continue;
      }
      if (target.startsWith(prefix)) return { pid: Number(entry), command: commandOf(Number(entry)) };
    }
  }
  return null;
}

/** Who holds the embedded database in `dir` open, or null when nobody does. */
export function pgliteHolder(dir: string, platform = process.platform): Holder | null {
  if (!existsSync(join(dir, 'postmaster.pid'))) return null;
  const unknown = { pid: null, command: null };
  if (platform !== 'linux' || !existsSync('/proc/self/fd')) return unknown;
  // Another user's processes are hidden from us, and a folder of another user's is likely theirs.
  const uid = process.getuid?.();
  if (uid !== 0 && statSync(dir).uid !== uid) return unknown;
  return findHolder(dir);
}
