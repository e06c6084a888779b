// The embedded database answers through the event loop when a chain of its answers runs long. PGlite
// runs a query inside its promise and settles it at once: code that asks for query after query (an
// export's batches, read by a client that keeps up) ran as one chain of promise callbacks, and the
// event loop never turned in between. One export of 20,000 conversations held every other request,
// /health included, for 1.2–1.6 s (test/exports/export-event-loop.test.ts). Now an answer that
// comes more than CHAIN_MS after the loop last turned waits for the loop's check phase before it is
// handed back: what arrived meanwhile is read, and other requests' queries queue for the database
// before the chain's next one. Answers within a short chain are handed back at once: waiting for
// every one cost a fifth of the turns a second under load (docs/decisions.md).
import type { PGlite } from '@electric-sql/pglite';

type Exec = (message: Uint8Array, options?: object) => Promise<unknown>;

/** How long answers may follow each other without the event loop turning. */
export const CHAIN_MS = 10;

const turnOfTheLoop = () => new Promise<void>((resolve) => setImmediate(resolve));

export function answerThroughEventLoop(pg: PGlite): void {
  // When the current chain began; null once the loop has turned since.
  let chainSince: number | null = null;
  const loopTurned = () => {
    chainSince = null;
  };
  const overdue = () => {
    const now = performance.now();
    if (chainSince === null) {
      chainSince = now;
      setImmediate(loopTurned);
      return false;
    }
    return now - chainSince > CHAIN_MS;
  };
  const through =
    (exec: Exec): Exec =>
    async (message, options) => {
      try {
        return await exec(message, options);
      } finally {
        if (overdue()) await turnOfTheLoop();
      }
    };
  pg.execProtocol = through(pg.execProtocol.bind(pg)) as PGlite['execProtocol'];
  pg.execProtocolStream = through(pg.execProtocolStream.bind(pg)) as PGlite['execProtocolStream'];
}
