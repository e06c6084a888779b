import type { ServerResponse } from 'node:http';
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
  const answers = new WeakMap<Socket, Set<ServerResponse>>();
  app.addHook('onRequest', (request, reply, done) => {
    const socket = request.raw.socket;
    if (socket.destroyed) {
      // Nobody to answer: skip the hooks and the handler.
      reply.hijack();
      return;
    }
    const open = answersOf(answers, socket);
    const answer = reply.raw;
    open.add(answer);
    answer.once('close', () => open.delete(answer));
    const count = open.size;
    if (count > MAX_PIPELINED) {
      request.log.info({ in_flight: count }, 'a connection pipelined more requests than allowed: closed');
      socket.destroy();
      reply.hijack();
      return;
    }
    done();
  });
}

/**
 * The answers of a connection not yet closed. Node tells only the answer being written that its
 * connection closed: those queued behind it (pipelined) never hear `close`, so what waits for it
 * waited for ever. A pipelined streamed message followed by two exports, then the client gone,
 * kept the account's two export places taken (every later export 429) and the instance counted
 * busy (it never rested). Once the connection is gone, each answer still open is ended and told,
 * after Node has told its own (a second `close` would end a request's work twice). It is marked
 * closed as Node marks its own: a route still working then (an export between taking its place and
 * sending its body) sends to it later, and `stream.finished` (Fastify's end of a streamed body)
 * waits for a `close` already emitted unless the answer says it is closed: the body was never read
 * nor ended, and the export place stayed taken (one CI run in six on PostgreSQL).
 */
function answersOf(answers: WeakMap<Socket, Set<ServerResponse>>, socket: Socket): Set<ServerResponse> {
  const known = answers.get(socket);
  if (known) return known;
  const open = new Set<ServerResponse>();
  answers.set(socket, open);
  socket.once('close', () =>
    setImmediate(() => {
      for (const answer of open) told(answer);
    }),
  );
  return open;
}

/** What Node does for the answer it writes when its connection closes (`emitCloseNT` in _http_server). */
function told(answer: ServerResponse): void {
  answer.destroy();
  (answer as ServerResponse & { _closed: boolean })._closed = true;
  answer.emit('close');
}
