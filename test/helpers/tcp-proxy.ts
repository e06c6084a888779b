// A TCP proxy for fault injection: tests put it between Parley and PostgreSQL (or any TCP
// server) and cut connections abruptly, as a failover, a restart or a dropped NAT entry would.
import { createConnection, createServer, type Socket } from 'node:net';

export interface TcpProxy {
  /** The local port (on 127.0.0.1) the proxy listens on. */
  port: number;
  /** The same connection string with its host and port replaced by the proxy's. */
  url(databaseUrl: string): string;
  /** Cuts every open connection at once, with a TCP reset on both sides where Node can. */
  resetAll(): void;
  /** While on, each new connection is cut as soon as it arrives. */
  refuse(on: boolean): void;
  /** Open client connections. */
  connections(): number;
  /** Connections accepted since the start, refused ones included: how often a client tried. */
  attempts(): number;
  close(): Promise<void>;
}

/** RST rather than FIN: the peer sees ECONNRESET, as when a server dies, not a polite goodbye. */
function cut(socket: Socket): void {
  if (socket.destroyed) return;
  try {
    if (typeof socket.resetAndDestroy === 'function') socket.resetAndDestroy();
    else socket.destroy();
  } catch {
    socket.destroy();
  }
}

export async function startTcpProxy({ targetHost, targetPort }: { targetHost: string; targetPort: number }): Promise<TcpProxy> {
  const pairs = new Set<[Socket, Socket]>();
  let refusing = false;
  let attempts = 0;

  const server = createServer((client) => {
    attempts++;
    if (refusing) return cut(client);
    const upstream = createConnection({ host: targetHost, port: targetPort });
    const pair: [Socket, Socket] = [client, upstream];
    pairs.add(pair);
    // One side gone means the pair is gone: the other side must not wait for a peer that left.
    const drop = () => {
      if (!pairs.delete(pair)) return;
      client.destroy();
      upstream.destroy();
    };
    for (const socket of pair) socket.on('error', drop).on('close', drop);
    client.pipe(upstream).pipe(client);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const address = server.address();
  if (!address || typeof address === 'string') throw new Error('the proxy has no TCP port');
  const port = address.port;

  const resetAll = () => {
    for (const pair of [...pairs]) {
      pairs.delete(pair);
      pair.forEach(cut);
    }
  };

  return {
    port,
    url(databaseUrl) {
      const url = new URL(databaseUrl);
      url.hostname = '127.0.0.1';
      url.port = String(port);
      return url.toString();
    },
    resetAll,
    refuse(on) {
      refusing = on;
    },
    connections: () => pairs.size,
    attempts: () => attempts,
    async close() {
      refusing = true;
      resetAll();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
