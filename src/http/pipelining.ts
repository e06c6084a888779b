import type { Socket } from 'node:net';
import type { App } from './types.js';

/**
 * Requests one connection may have in flight at once. Only HTTP/1.1 pipelining puts more than one
 * there; browsers and proxies do not pipeline, and a client library that does sends a handful.
 */
export const MAX_PIPELINED = 16;

/**
 * Node hands the app every request in what it has read from a connection at once (64 kB: some
 * 1,800 short requests), and stops reading only once answers pile up, which async handlers make
 * late. So one client writing requests without pause made the server take on tens of thousands:
 * 10 connections of pipelined GET /health froze it for 10 s; of a 1.5 MB file, they held 4.7 GB
 * and kept the server busy long after the clients left. Past MAX_PIPELINED in flight, the
 * connection is closed, and the requests it still holds are dropped before any work.
 */
export function limitPipelining(app: App): void {
  const inFlight = new WeakMap<Socket, number>();
  app.addHook('onRequest', (request, reply, done) => {
    const socket = request.raw.socket;
    if (socket.destroyed) {
      // Nobody to answer: skip the hooks and the handler.
      reply.hijack();
      return;
    }
    const count = (inFlight.get(socket) ?? 0) + 1;
    inFlight.set(socket, count);
    reply.raw.once('close', () => inFlight.set(socket, (inFlight.get(socket) ?? 1) - 1));
    if (count > MAX_PIPELINED) {
      request.log.info({ in_flight: count }, 'a connection pipelined more requests than allowed: closed');
      socket.destroy();
      reply.hijack();
      return;
    }
    done();
  });
}
