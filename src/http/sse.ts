// Server-Sent Events (§6.1): headers go out at once, every event is written the moment
// it exists (no buffering), a comment heartbeat keeps proxies from closing idle streams.
import type { FastifyReply, FastifyRequest } from 'fastify';

export interface EventStream {
  /** A named event: `event: name` then `data: json`. */
  send(event: string, data: unknown): void;
  /** A data-only frame (the OpenAI and AI SDK protocols): `data: json`, or the text as given. */
  data(data: unknown): void;
  /** The OpenAI and AI SDK end marker, `data: [DONE]`; the stream stays open until end(). */
  done(): void;
  end(): void;
  /** Aborts when the client goes away before the stream ended. */
  readonly clientGone: AbortSignal;
  readonly open: boolean;
}

export interface Heartbeats {
  add(stream: { beat(): void }): () => void;
  size(): number;
  stop(): void;
}

/** One timer for every open stream, rather than one per stream. */
export function createHeartbeats(intervalMs: number, onCount: (open: number) => void = () => {}): Heartbeats {
  const streams = new Set<{ beat(): void }>();
  let timer: NodeJS.Timeout | null = null;
  return {
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

/**
 * Takes the response over from Fastify and sets the SSE head. The head leaves with the first
 * event, which every caller sends at once (one packet instead of two before the first token).
 */
export function openEventStream(request: FastifyRequest, reply: FastifyReply, heartbeats: Heartbeats, headers: Record<string, string> = {}): EventStream {
  const raw = reply.raw;
  const controller = new AbortController();
  let open = true;
  reply.hijack();
  // Headers set by hooks (request id, CORS) live on the Fastify reply until it sends.
  raw.writeHead(200, {
    ...(reply.getHeaders() as Record<string, string>),
    'content-type': 'text/event-stream; charset=utf-8',
    'cache-control': 'no-cache, no-transform',
    connection: 'keep-alive',
    'x-accel-buffering': 'no',
    ...headers,
  });
  // Small events must not wait for more data to fill a packet (the socket is absent under inject).
  const socket = request.raw.socket as { setNoDelay?: (on: boolean) => void } | null;
  if (typeof socket?.setNoDelay === 'function') socket.setNoDelay(true);

  const forget = heartbeats.add({ beat: () => open && raw.write(': keep-alive\n\n') });
  const close = () => {
    if (!open) return;
    open = false;
    forget();
  };
  raw.on('close', () => {
    if (open) controller.abort(new Error('client left'));
    close();
  });

  return {
    send(event, data) {
      if (!open) return;
      raw.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
    },
    data(data) {
      if (!open) return;
      raw.write(`data: ${typeof data === 'string' ? data : JSON.stringify(data)}\n\n`);
    },
    done() {
      if (!open) return;
      raw.write('data: [DONE]\n\n');
    },
    end() {
      if (!open) return;
      close();
      raw.end();
    },
    get clientGone() {
      return controller.signal;
    },
    get open() {
      return open;
    },
  };
}
