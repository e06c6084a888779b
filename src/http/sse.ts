// Server-Sent Events (§6.1): headers go out at once, every event is written the moment
// it exists (no buffering), a comment heartbeat keeps proxies from closing idle streams.
import type { Socket } from 'node:net';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { letGoOfBody } from './body-limits.js';

export interface EventStream {
  /** A named event: `event: name` then `data: json`. */
  send(event: string, data: unknown): void;
  /** A data-only frame (the OpenAI and AI SDK protocols): `data: json`, or the text as given. */
  data(data: unknown): void;
  /** The OpenAI and AI SDK end marker, `data: [DONE]`; the stream stays open until end(). */
  done(): void;
  /** Sends what was written so far now rather than at the end of this tick (the first token). */
  flush(): void;
  end(): void;
  /**
   * Calls `listener` once when the client goes away before the stream ended (at once if it has
   * already); returns what stops listening. A plain callback, not an AbortSignal: when thousands
   * of clients leave together, each event dispatch is time before the model calls close.
   */
  onClientGone(listener: () => void): () => void;
  /** Aborts when the client goes away before the stream ended (made when first asked for). */
  readonly clientGone: AbortSignal;
  readonly open: boolean;
}

export interface StreamLimits {
  /** Bytes a client may leave unread before the stream is dropped. */
  maxBufferedBytes: number;
  /** How long a client may read nothing while output waits, before the stream is dropped. */
  writeTimeoutMs: number;
}

/** A reader this far behind, or this long stalled, is not reading: a live client drains a reply in milliseconds. */
export const DEFAULT_STREAM_LIMITS: StreamLimits = { maxBufferedBytes: 1024 * 1024, writeTimeoutMs: 30_000 };

export interface Heartbeats {
  /** Every stream's limits on an unread backlog (kept here, the one object every stream gets). */
  readonly limits: StreamLimits;
  add(stream: { beat(): void }): () => void;
  size(): number;
  stop(): void;
}

/** One timer for every open stream, rather than one per stream. */
export function createHeartbeats(intervalMs: number, onCount: (open: number) => void = () => {}, limits = DEFAULT_STREAM_LIMITS): Heartbeats {
  const streams = new Set<{ beat(): void }>();
  let timer: NodeJS.Timeout | null = null;
  return {
    limits,
    add(stream) {
      streams.add(stream);
      onCount(streams.size);
      if (!timer) {
        timer = setInterval(() => {
          for (const each of streams) each.beat();
        }, intervalMs);
        timer.unref();
      }
      return () => {
        streams.delete(stream);
        onCount(streams.size);
        if (streams.size === 0 && timer) {
          clearInterval(timer);
          timer = null;
        }
      };
    },
    size: () => streams.size,
    stop() {
      if (timer) clearInterval(timer);
      timer = null;
      streams.clear();
    },
  };
}

export function wantsEventStream(request: FastifyRequest, stream: boolean | undefined): boolean {
  if (stream !== undefined) return stream;
  return /\btext\/event-stream\b/i.test(request.headers.accept ?? '');
}

/** Why a stream's clientGone aborted when its client went away: shared, as thousands may leave at once. */
const CLIENT_LEFT = new Error('client left');

/** Takes the response over from Fastify and writes the SSE head. */
function writeHead(request: FastifyRequest, reply: FastifyReply, headers: Record<string, string>): void {
  reply.hijack();
  letGoOfBody(request);
  // Headers set by hooks (request id, CORS) live on the Fastify reply until it sends.
  reply.raw.writeHead(200, {
    ...(reply.getHeaders() as Record<string, string>),
    'content-type': 'text/event-stream; charset=utf-8',
    'cache-control': 'no-cache, no-transform',
    connection: 'keep-alive',
    'x-accel-buffering': 'no',
    ...headers,
  });
  // The head written as a string of its own: Node builds it one header at a time, and glued to the
  // first event it stayed in its ~25 pieces as long as the stream; written alone, V8 flattens it
  // where it is (docs/decisions.md). Corked to the tick's end, it still leaves in one packet with
  // the first event. The socket is absent under inject.
  const socket = (request.raw.socket ?? null) as Partial<Socket> | null;
  const corked = typeof socket?.cork === 'function' && typeof socket.uncork === 'function' ? (socket as Socket) : null;
  corked?.cork();
  reply.raw.flushHeaders();
  if (corked) process.nextTick(() => corked.uncork());
  // Small events must not wait for more data to fill a packet.
  if (typeof socket?.setNoDelay === 'function') socket.setNoDelay(true);
}

/**
 * Node buffers whatever the socket cannot take, without limit: a client that never reads would
 * hold a whole long reply (times every such client) in memory, and its socket forever.
 */
function limitedWriter(raw: FastifyReply['raw'], limits: StreamLimits, stuck: () => void) {
  let stalled: NodeJS.Timeout | null = null;
  const stop = () => {
    if (stalled) clearTimeout(stalled);
    stalled = null;
  };
  raw.on('drain', stop);
  return {
    write(text: string) {
      const flushed = raw.write(text);
      if (raw.writableLength > limits.maxBufferedBytes) return stuck();
      if (!flushed && !stalled) {
        stalled = setTimeout(stuck, limits.writeTimeoutMs);
        stalled.unref();
      }
    },
    stop,
  };
}

/**
 * Node corks a response's socket at its first write in a tick and sends at the tick's end, so
 * frames written together leave in one packet. A model often sends several tokens in one packet:
 * the first should not wait while the rest are parsed and framed.
 */
function sendNow(socket: { uncork?: () => void; writableCorked?: number } | null): void {
  if (typeof socket?.uncork === 'function' && (socket.writableCorked ?? 0) > 0) socket.uncork();
}

/**
 * Who hears that the client left: callbacks (what a turn uses), and an AbortSignal made only
 * when asked for. Its listeners are told once, with the first reason.
 */
function clientGoneWatch() {
  let reason: Error | null = null;
  let listeners: Array<() => void> = [];
  let controller: AbortController | null = null;
  return {
    leave(why: Error) {
      if (reason) return;
      reason = why;
      controller?.abort(why);
      const told = listeners;
      listeners = [];
      for (const listener of told) listener();
    },
    onClientGone(listener: () => void): () => void {
      if (reason) {
        listener();
        return () => {};
      }
      listeners.push(listener);
      return () => {
        listeners = listeners.filter((each) => each !== listener);
      };
    },
    signal(): AbortSignal {
      if (!controller) {
        controller = new AbortController();
        if (reason) controller.abort(reason);
      }
      return controller.signal;
    },
  };
}

/**
 * Takes the response over from Fastify and sets the SSE head. The head leaves with the first
 * event, which every caller sends at once (one packet instead of two before the first token).
 */
export function openEventStream(request: FastifyRequest, reply: FastifyReply, heartbeats: Heartbeats, headers: Record<string, string> = {}): EventStream {
  const { limits } = heartbeats;
  const raw = reply.raw;
  let open = true;
  const gone = clientGoneWatch();
  writeHead(request, reply, headers);

  const close = () => {
    if (!open) return;
    open = false;
    out.stop();
    forget();
    socket?.removeListener('end', left);
  };
  /** A client that stopped reading is treated as gone: the reply is stored as interrupted and the model call stops. */
  const drop = (reason: string) => {
    if (!open) return;
    gone.leave(new Error(reason));
    close();
    raw.destroy();
  };
  const out = limitedWriter(raw, limits, () => drop('client stopped reading'));
  const write = (text: string) => {
    if (open) out.write(text);
  };
  const forget = heartbeats.add({ beat: () => write(': keep-alive\n\n') });
  const left = () => {
    if (open) gone.leave(CLIENT_LEFT);
    close();
  };
  raw.on('close', left);
  // The client's FIN arrives a turn of the event loop before the response's 'close'. When thousands
  // leave at once, Node reads every FIN before it runs any 'close': the model calls would only start
  // closing once all were read. (Node answers a FIN by ending its side: the stream could not go on.
  // Its socket is left to close after that shutdown: destroying it here measured slower.)
  const socket = typeof request.raw.socket?.once === 'function' ? request.raw.socket : null;
  socket?.once('end', left);
  // Gone before the stream opened (a pipelined answer told while its turn started): neither event comes again.
  if (raw.destroyed || socket?.destroyed) left();

  return {
    send(event, data) {
      write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
    },
    data(data) {
      write(`data: ${typeof data === 'string' ? data : JSON.stringify(data)}\n\n`);
    },
    done() {
      write('data: [DONE]\n\n');
    },
    flush() {
      if (open) sendNow(raw.socket);
    },
    end() {
      if (!open) return;
      close();
      raw.end();
      // The last events may still wait for a client that stopped reading: its socket is not kept forever.
      if (raw.writableNeedDrain) setTimeout(() => raw.destroy(), limits.writeTimeoutMs).unref();
    },
    onClientGone: gone.onClientGone,
    get clientGone() {
      return gone.signal();
    },
    get open() {
      return open;
    },
  };
}
