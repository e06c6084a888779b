// A webhook receiver for tests: a real HTTP server on loopback that records every request and
// answers as each test scripts it (a status, headers such as Location or Retry-After, a delay,
// or no answer at all). Each endpoint is a path of its own, so a test's script and records are
// not disturbed by another test's deliveries still being retried.
import { createServer, type IncomingHttpHeaders, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';

export interface ReceivedWebhook {
  path: string;
  headers: IncomingHttpHeaders;
  body: string;
  /** Date.now() when the request had arrived whole. */
  at: number;
}

export interface Answer {
  status: number;
  headers?: Record<string, string>;
  /** Wait this long before answering. */
  delayMs?: number;
  /** Never answer (until the server closes). */
  hang?: boolean;
}

export interface Endpoint {
  url: string;
  path: string;
  received: ReceivedWebhook[];
  /** Answers for the next requests, in order; once used up, 200. */
  script(...answers: Answer[]): void;
  /** Resolves once `count` requests arrived here. */
  waitFor(count: number, timeoutMs?: number): Promise<ReceivedWebhook[]>;
}

export interface FakeWebhooks {
  port: number;
  /** `http://127.0.0.1:<port>`. */
  base: string;
  endpoint(name: string): Endpoint;
  /** TCP connections accepted so far, whatever was sent on them. */
  connections(): number;
  close(): Promise<void>;
}

export async function startFakeWebhooks(): Promise<FakeWebhooks> {
  const endpoints = new Map<string, { endpoint: Endpoint; answers: Answer[]; waiters: Array<() => void> }>();
  const sockets = new Set<Socket>();
  const hanging = new Set<ServerResponse>();
  let connections = 0;

  const server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      const path = (request.url ?? '/').split('?')[0]!;
      const entry = endpoints.get(path);
      entry?.endpoint.received.push({ path, headers: request.headers, body: Buffer.concat(chunks).toString('utf8'), at: Date.now() });
      for (const wake of entry?.waiters.splice(0) ?? []) wake();
      const answer = entry?.answers.shift() ?? { status: entry ? 200 : 404 };
      if (answer.hang) {
        hanging.add(response);
        return;
      }
      const send = () => response.writeHead(answer.status, answer.headers ?? {}).end(answer.status >= 300 ? `answered ${answer.status}` : 'ok');
      if (answer.delayMs) setTimeout(send, answer.delayMs);
      else send();
    });
  });
  server.on('connection', (socket: Socket) => {
    connections += 1;
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  if (!address || typeof address === 'string') throw new Error('no port');
  const base = `http://127.0.0.1:${address.port}`;

  return {
    port: address.port,
    base,
    endpoint(name) {
      const path = `/hooks/${name}`;
      const existing = endpoints.get(path);
      if (existing) return existing.endpoint;
      const entry = { answers: [] as Answer[], waiters: [] as Array<() => void>, endpoint: undefined as unknown as Endpoint };
      entry.endpoint = {
        url: `${base}${path}`,
        path,
        received: [],
        script: (...answers) => entry.answers.push(...answers),
        async waitFor(count, timeoutMs = 20_000) {
          const until = Date.now() + timeoutMs;
          while (entry.endpoint.received.length < count) {
            const left = until - Date.now();
            if (left <= 0) throw new Error(`${path}: ${entry.endpoint.received.length} of ${count} requests arrived within ${timeoutMs} ms`);
            await new Promise<void>((resolve) => {
              const timer = setTimeout(resolve, left);
              entry.waiters.push(() => {
                clearTimeout(timer);
                resolve();
              });
            });
          }
          return entry.endpoint.received;
        },
      };
      endpoints.set(path, entry);
      return entry.endpoint;
    },
    connections: () => connections,
    async close() {
      for (const response of hanging) response.destroy();
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
