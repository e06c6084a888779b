// Commits of the embedded database that reach the disk. PGlite starts PostgreSQL with fsync off
// (-F), and its file system layer (Emscripten's NODEFS) has no fsync anyway: PostgreSQL's fsync()
// found no operation and did nothing, and fdatasync() is a stub that answers success. A commit
// was safe from a killed process (its writes were in the kernel's cache) but not from a power
// loss or a kernel crash, which took back every turn of the last half minute or more, and could
// leave the database corrupt (test/db/power-loss.test.ts). Here NODEFS's files get an fsync that
// reaches the disk, and PostgreSQL runs with fsync on, syncing its log with fsync(): one sync per
// durable commit, as on a PostgreSQL server (docs/decisions.md, "A power loss on the embedded database").
import { closeSync, fdatasyncSync, openSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { PGlite } from '@electric-sql/pglite';
import { NodeFS } from '@electric-sql/pglite/nodefs';

/** PGlite's own start parameters, with fsync on and the log synced through fsync(), the call that reaches NODEFS. */
export const DURABLE_START_PARAMS = [...PGlite.defaultStartParams.filter((param) => param !== '-F'), '-c', 'fsync=on', '-c', 'wal_sync_method=fsync'];

interface NodefsStream {
  nfd?: number;
}

interface NodefsModule {
  NODEFS: {
    stream_ops: { fsync?: (stream: NodefsStream) => number };
    /** Turns a Node.js error into the errno PostgreSQL sees (EIO stays EIO: PostgreSQL then panics, as it must). */
    tryFSOperation<T>(operation: () => T): T;
  };
}

type InitResult = Awaited<ReturnType<NodeFS['init']>>;

/** NodeFS whose files' fsync is fdatasync(2) on the file's own descriptor. */
export class DurableNodeFS extends NodeFS {
  override async init(pg: PGlite, opts: Parameters<NodeFS['init']>[1]): Promise<InitResult> {
    const setup = await super.init(pg, opts);
    const syncing = (mod: NodefsModule) => {
      const { NODEFS } = mod;
      NODEFS.stream_ops.fsync = (stream) => {
        // A stream without a descriptor of its own (none is known) has nothing to sync.
        if (typeof stream.nfd === 'number') NODEFS.tryFSOperation(() => fdatasyncSync(stream.nfd!));
        return 0;
      };
    };
    const preRun = [...(setup.emscriptenOpts.preRun ?? []), syncing] as NonNullable<InitResult['emscriptenOpts']['preRun']>;
    return { emscriptenOpts: { ...setup.emscriptenOpts, preRun } };
  }
}

/** fdatasync(2) on every file and folder under `path` (or on `path` alone, a file or a folder), as initdb --sync does. */
export function syncTree(path: string, options: { recursive?: boolean } = {}): void {
  if (options.recursive ?? true) {
    for (const entry of readdirSync(path, { withFileTypes: true })) {
      const inner = join(path, entry.name);
      if (entry.isDirectory()) syncTree(inner);
      else if (entry.isFile()) syncPath(inner);
    }
  }
  syncPath(path);
}

function syncPath(path: string): void {
  const fd = openSync(path, 'r');
  try {
    fdatasyncSync(fd);
  } finally {
    closeSync(fd);
  }
}
