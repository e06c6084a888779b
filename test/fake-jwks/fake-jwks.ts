/**
 * A fake JWK-set server for tests: a real HTTP server that serves `{keys}` at `/jwks.json` (and at
 * Supabase's `/auth/v1/.well-known/jwks.json`),
 * counts what it was asked, and can be taken "down" (answers 503, or another status) or stopped
 * altogether (connections refused) to test cached keys and outages, or made to answer a key set
 * that never ends (a broken or hostile key server).
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { JWK } from 'jose';

export interface FakeJwks {
  url: string;
  /** Requests received, any path. */
  fetches(): number;
  setKeys(keys: JWK[]): void;
  /** While down, every request is answered with `status` (503 unless told). */
  setDown(down: boolean, status?: number): void;
  /** While on, a key set is answered with `{"keys":[` and then blank space, as fast as the client reads, never ending. */
  setEndless(on: boolean): void;
  /** Bytes of endless answers sent so far. */
  endlessBytes(): number;
  close(): Promise<void>;
}

export async function startFakeJwks(keys: JWK[]): Promise<FakeJwks> {
  let current = keys;
  let down: number | null = null;
  let fetches = 0;
  let endless = false;
  let endlessBytes = 0;
  const piece = ' '.repeat(64 * 1024);
  const sendEndless = (response: http.ServerResponse): void => {
    response.writeHead(200, { 'content-type': 'application/json' });
    response.write('{"keys":[');
    let closed = false;
    response.on('close', () => (closed = true));
    const pump = (): void => {
      while (!closed) {
        endlessBytes += piece.length;
        if (!response.write(piece)) {
          response.once('drain', pump);
          return;
        }
      }
    };
    pump();
  };
  const server = http.createServer((request, response) => {
    fetches++;
    if (down !== null) {
      response.writeHead(down).end();
      return;
    }
    if (endless) {
      sendEndless(response);
      return;
    }
    // Also where Supabase publishes a project's keys.
    if (request.url !== '/jwks.json' && request.url !== '/auth/v1/.well-known/jwks.json') {
      response.writeHead(404).end();
      return;
    }
    response.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ keys: current }));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/jwks.json`,
    fetches: () => fetches,
    setKeys(next) {
      current = next;
    },
    setDown(value, status = 503) {
      down = value ? status : null;
    },
    setEndless(on) {
      endless = on;
    },
    endlessBytes: () => endlessBytes,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
