/**
 * A fake JWK-set server for tests: a real HTTP server that serves `{keys}` at `/jwks.json` (and at
 * Supabase's `/auth/v1/.well-known/jwks.json`),
 * counts what it was asked, and can be taken "down" (answers 503) to test cached keys.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { JWK } from 'jose';

export interface FakeJwks {
  url: string;
  /** Requests received, any path. */
  fetches(): number;
  setKeys(keys: JWK[]): void;
  setDown(down: boolean): void;
  close(): Promise<void>;
}

export async function startFakeJwks(keys: JWK[]): Promise<FakeJwks> {
  let current = keys;
  let down = false;
  let fetches = 0;
  const server = http.createServer((request, response) => {
    fetches++;
    if (down) {
      response.writeHead(503).end();
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
    setDown(value) {
      down = value;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
