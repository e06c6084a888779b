// The embedded database after a PANIC. PostgreSQL panics when it cannot write its log (a disk
// turned read-only after an error, a disk full as a new log segment is made); a server would
// restart every session and recover. PGlite answers the statement with the PANIC error, but
// whatever it is asked next spins inside its WebAssembly for ever: the whole process froze,
// timers, /health and SIGTERM included (docs/decisions.md). So a PGlite that panicked is never
// asked anything again: each later call fails at once, and whoever runs the process is told, to
// stop it and start a fresh one (PostgreSQL's own crash recovery then runs at start).
import type { PGlite } from '@electric-sql/pglite';

/** What every call after the PANIC fails with: the database is unavailable (503), for its operator to fix. */
export class PgliteStoppedError extends Error {
  override name = 'PgliteStoppedError';
  readonly code = 'PGLITE_STOPPED';
  constructor(readonly panic: Error) {
    super(`the embedded database stopped after a failure: ${panic.message}`, { cause: panic });
  }
}

export const isPanic = (error: unknown) => (error as { severity?: unknown } | null)?.severity === 'PANIC';

export interface PanicWatch {
  /** Settles, once, with the first PANIC's error. */
  panicked: Promise<Error>;
  /** Whether one came: the instance must not be closed either (closing asks it to end its session). */
  stopped(): boolean;
  /** Stops the instance as a PANIC would, for a failure of Parley's own that leaves the session unsafe to use. */
  fail(error: Error): void;
}

type Exec = (message: Uint8Array, options?: object) => Promise<unknown>;

/**
 * Puts the guard on one instance. Every call into PGlite's WebAssembly goes through
 * execProtocolRawSync (its query, exec and transaction methods, their ROLLBACK and Sync after an
 * error, and named statements alike), and every error comes out of execProtocol or
 * execProtocolStream, which read PostgreSQL's answer.
 */
export function watchForPanic(pg: PGlite): PanicWatch {
  let panic: Error | null = null;
  let announce: (error: Error) => void = () => {};
  const panicked = new Promise<Error>((resolve) => (announce = resolve));

  const raw = pg.execProtocolRawSync.bind(pg);
  pg.execProtocolRawSync = (message) => {
    if (panic) throw new PgliteStoppedError(panic);
    return raw(message);
  };
  const fail = (error: Error) => {
    if (panic) return;
    panic = error;
    announce(panic);
  };
  const watch = (exec: Exec): Exec =>
    async (message, options) => {
      try {
        return await exec(message, options);
      } catch (error) {
        if (isPanic(error)) fail(error as Error);
        throw error;
      }
    };
  pg.execProtocol = watch(pg.execProtocol.bind(pg)) as PGlite['execProtocol'];
  pg.execProtocolStream = watch(pg.execProtocolStream.bind(pg)) as PGlite['execProtocolStream'];
  return { panicked, stopped: () => panic !== null, fail };
}
