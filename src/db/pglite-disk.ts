// The embedded database's disk, watched. When it fills, PostgreSQL fails a statement that needs
// a new page with 53100 (a 503), but one that needs a new segment of the write-ahead log (16 MB,
// made on the spot) left PGlite spinning inside its WebAssembly: the whole process froze, /health
// and timers included, and stayed so after room was made (docs/decisions.md). Any write can need
// one, a refused one too. So writes stop before that: under the reserve the session turns
// read-only (writes answer 503 from PostgreSQL's own 25006, reads go on), and writable again
// once there is room.
import { statfsSync } from 'node:fs';

const MiB = 1024 * 1024;
/** Free room the embedded database keeps: more than a segment of the write-ahead log (16 MB) and the pages around it. */
export const DISK_RESERVE_BYTES = 64 * MiB;
/** Writable again only with this much more, so a disk hovering at the reserve does not flip back and forth. */
const REOPEN_MARGIN_BYTES = 16 * MiB;
const CHECK_EVERY_MS = 1000;

export interface DiskGuardDeps {
  /** A folder on the database's disk (its data folder). */
  dir: string;
  /** Runs a statement on the database's one session, between transactions. */
  exec(statement: string): Promise<void>;
  log: { error(fields: object, message: string): void; info(fields: object, message: string): void; warn(fields: object, message: string): void };
  freeBytes?: (dir: string) => number;
  reserveBytes?: number;
}

export interface DiskGuard {
  /** Looks at the disk now (the first look is awaited at start, before requests come). */
  check(): Promise<void>;
  stop(): void;
}

export const statfsFree = (dir: string) => {
  const fs = statfsSync(dir);
  return Number(fs.bavail) * Number(fs.bsize);
};

export function guardPgliteDisk(deps: DiskGuardDeps): DiskGuard {
  const { dir, exec, log } = deps;
  const freeBytes = deps.freeBytes ?? statfsFree;
  const reserve = deps.reserveBytes ?? DISK_RESERVE_BYTES;
  let readOnly = false;
  let unreadable = false;
  let running: Promise<void> | null = null;

  async function look() {
    let free: number;
    try {
      free = freeBytes(dir);
      unreadable = false;
    } catch (error) {
      if (!unreadable) log.warn({ err: { message: (error as Error).message } }, `cannot read the free space of ${dir}; the embedded database's disk is not watched meanwhile`);
      unreadable = true;
      return;
    }
    const low = readOnly ? free < reserve + REOPEN_MARGIN_BYTES : free < reserve;
    if (low === readOnly) return;
    await exec(`SET default_transaction_read_only = ${low ? 'on' : 'off'}`);
    readOnly = low;
    const mb = Math.floor(free / MiB);
    if (low) {
      log.error({ free_mb: mb, reserve_mb: reserve / MiB }, `DATA_DIR's disk has ${mb} MB free, under the ${reserve / MiB} MB the embedded database keeps in reserve: writes are refused (503) until room is made`);
    } else {
      log.info({ free_mb: mb }, `DATA_DIR's disk has ${mb} MB free again: writes are taken again`);
    }
  }

  // One look at a time; a look that fails (the database closing) is tried again at the next tick.
  const check = () => (running ??= look().finally(() => (running = null)));
  const timer = setInterval(() => void check().catch(() => {}), CHECK_EVERY_MS);
  timer.unref();
  return { check, stop: () => clearInterval(timer) };
}
