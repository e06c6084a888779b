// A TCP proxy for fault injection: tests put it between Parley and PostgreSQL (or any TCP
// server) and cut connections abruptly, as a failover, a restart or a dropped NAT entry would,
// or let them go silent, as a network partition or a frozen host does.
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
  /**
   * While on, nothing gets through in either direction and nobody is told: connections stay
   * open, bytes are held (new connections too), as in a network partition. Off delivers what
   * was held, in order, as TCP does once the network heals; a side that left meanwhile loses it.
   * `answers` holds only what the server sends: statements arrive and run, their answers do not.
   */
  stall(on: boolean, only?: 'answers'): void;
  /**
   * The next connection whose client sends `text` (in one write) holds its server's answers from
   * then on, until `release` is called: a statement that has run but whose answer is still on its
   * way, on that connection only, while every other connection goes on. `answered` settles once
   * the server has sent something back that is being held.
   */
  holdAnswersAfter(text: string): { answered: Promise<void>; release(): void };
  /** Open client connections. */
  connections(): number;
  /** Connections accepted since the start, refused ones included: how often a client tried. */
  attempts(): number;
  /** Writes that arrived from clients since the start, held ones included (commands, for a protocol that writes one at a time). */
  clientWrites(): number;
  close(): Promise<void>;
}

/** One connection's answers held back by holdAnswersAfter. */
interface Hold {
  on: boolean;
  held: Buffer[];
  answered: () => void;
  flush: () => void;
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
  /** What is held: [client → server, server → client]. */
  const stalled = [false, false];
  const resumes = new Set<() => void>();
  let trigger: { text: Buffer; caught: (held: Hold) => void } | undefined;
  let clientWrites = 0;
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
    const hold: Hold = { on: false, held: [], answered: () => {}, flush: () => {} };
    forward(client, upstream, 0, hold);
    forward(upstream, client, 1, hold);
  });

  /** `from` → `to` with backpressure; while stalled, what arrives is held until the stall ends. */
  function forward(from: Socket, to: Socket, way: 0 | 1, hold: Hold) {
    const held: Buffer[] = [];
    const send = (chunk: Buffer) => {
      if (!to.destroyed && !to.write(chunk)) {
        from.pause();
        to.once('drain', () => from.resume());
      }
    };
    let ended = false;
    const resume = () => {
      held.splice(0).forEach(send);
      if (ended) to.end();
    };
    resumes.add(resume);
    from.on('close', () => resumes.delete(resume));
    if (way === 1) {
      hold.flush = () => {
        hold.held.splice(0).forEach(send);
        if (ended && !stalled[way]) to.end();
      };
    }
    from.on('data', (chunk: Buffer) => {
      if (way === 0) {
        clientWrites++;
        if (trigger && chunk.includes(trigger.text)) {
          trigger.caught(hold);
          trigger = undefined;
        }
      }
      if (way === 1 && hold.on) {
        hold.held.push(chunk);
        hold.answered();
      } else if (stalled[way]) held.push(chunk);
      else send(chunk);
    });
    from.on('end', () => {
      ended = true;
      if (!stalled[way] && !(way === 1 && hold.on)) to.end();
    });
  }
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
    stall(on, only) {
      stalled[0] = on && only !== 'answers';
      stalled[1] = on;
      if (!on) for (const resume of resumes) resume();
    },
    holdAnswersAfter(text) {
      let answered!: () => void;
      const answeredPromise = new Promise<void>((resolve) => (answered = resolve));
      let caught: Hold | undefined;
      trigger = {
        text: Buffer.from(text),
        caught: (hold) => {
          caught = hold;
          hold.on = true;
          hold.answered = answered;
        },
      };
      return {
        answered: answeredPromise,
        release() {
          trigger = undefined;
          if (!caught) return;
          caught.on = false;
          caught.flush();
        },
      };
    },
    connections: () => pairs.size,
    attempts: () => attempts,
    clientWrites: () => clientWrites,
    async close() {
      refusing = true;
      resetAll();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
