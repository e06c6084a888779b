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
  app.addHook('onRequest', (request, reply, done) => {
    const socket = request.raw.socket as Connection;
    if (socket.destroyed) {
      // Nobody to answer: skip the hooks and the handler.
      reply.hijack();
      return;
    }
    const answer = reply.raw;
    const count = track(socket, answer);
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
 *
 * Kept on the connection itself, with listeners shared by every connection: a stream holds its
 * connection for minutes, and a set, a weak map's entry and two `once` wrappers for each took
 * about 0.8 kB of heap per open stream (docs/decisions.md, "Memory per open stream, again").
 */
const OPEN = Symbol('answers in flight');
const THEN = Symbol('also when the answer closes');
type Connection = Socket & { [OPEN]?: ServerResponse[] };
type Answer = ServerResponse & { [THEN]?: () => void };

/**
 * Runs `then` once `answer` closes, from the listener this module gave it (its hook runs before any
 * other): a stream's answer already has one `close` listener of its own, and each one beyond two
 * grows the list to 19 places, 0.15 kB more for as long as the stream runs. One call an answer.
 */
export function whenAnswerCloses(answer: ServerResponse, then: () => void): void {
  (answer as Answer)[THEN] = then;
}

/** Counts `answer` among its connection's open answers; returns how many are open now. */
function track(socket: Connection, answer: ServerResponse): number {
  answer.on('close', answerClosed);
  const open = socket[OPEN];
  if (open) return open.push(answer);
  socket[OPEN] = [answer];
  socket.on('close', connectionClosed);
  return 1;
}

function answerClosed(this: Answer): void {
  const open = (this.req.socket as Connection | null)?.[OPEN];
  const at = open ? open.indexOf(this) : -1;
  if (at >= 0) open!.splice(at, 1);
  this[THEN]?.();
}

function connectionClosed(this: Connection): void {
  const open = this[OPEN];
  if (open && open.length > 0) setImmediate(tellOpen, open);
}

function tellOpen(open: ServerResponse[]): void {
  // Each one told leaves `open` (answerClosed).
  for (const answer of [...open]) told(answer);
}

/** What Node does for the answer it writes when its connection closes (`emitCloseNT` in _http_server). */
function told(answer: ServerResponse): void {
  answer.destroy();
  (answer as ServerResponse & { _closed: boolean })._closed = true;
  answer.emit('close');
}
