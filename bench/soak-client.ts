/**
 * The soak's HTTP calls and their tally. Every call has a deadline (a request that hangs is a
 * finding, not a stuck bench) and every answer is counted by kind and outcome; answers that should
 * never happen (a 5xx other than 503, a connection cut by the server, a timeout, a stream that ends
 * without `message.end` or `error`) are kept with their bodies for the report.
 */
import net from 'node:net';

export type Kind = 'turn' | 'stream' | 'login' | 'upload' | 'conversation' | 'unread';
export const KINDS: Kind[] = ['turn', 'stream', 'login', 'upload', 'conversation', 'unread'];

export interface Outcome {
  status: number;
  body: unknown;
  /** Set when no HTTP answer came: `timeout` or the socket error's code. */
  error?: string;
  /** Streamed turns: the last event (`message.end`, `error`) or `none` when the stream just ended. */
  end?: string;
}

const DEADLINE_MS = 60_000;

function errorCode(error: unknown): string {
  const e = error as { name?: string; message?: string; cause?: { code?: string; message?: string } };
  if (e.name === 'TimeoutError' || e.name === 'AbortError') return 'timeout';
  return e.cause?.code ?? e.cause?.message ?? e.message ?? String(error);
}

const parse = (text: string): unknown => {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
};

function headers(token: string | undefined, stream = false): Record<string, string> {
  const out: Record<string, string> = { 'content-type': 'application/json' };
  if (token) out.authorization = `Bearer ${token}`;
  if (stream) out.accept = 'text/event-stream';
  return out;
}

/** One JSON call; never throws. */
export async function call(method: 'GET' | 'POST', url: string, body: unknown, token?: string): Promise<Outcome> {
  try {
    const res = await fetch(url, { method, headers: headers(token), body: body === undefined ? undefined : JSON.stringify(body), signal: AbortSignal.timeout(DEADLINE_MS) });
    return { status: res.status, body: parse(await res.text()) };
  } catch (error) {
    return { status: 0, body: null, error: errorCode(error) };
  }
}

/** A streamed turn read to its end: which event ended it, and the `error` event's data if one came. */
export async function streamTurn(url: string, token: string, content: string): Promise<Outcome> {
  try {
    const res = await fetch(url, { method: 'POST', headers: headers(token, true), body: JSON.stringify({ content, stream: true }), signal: AbortSignal.timeout(DEADLINE_MS) });
    if (res.status !== 200 || !res.body) return { status: res.status, body: parse(await res.text()) };
    let buffered = '';
    let end = 'none';
    let data: unknown = null;
    for await (const text of res.body.pipeThrough(new TextDecoderStream())) {
      buffered += text;
      let cut: number;
      while ((cut = buffered.indexOf('\n\n')) !== -1) {
        const block = buffered.slice(0, cut);
        buffered = buffered.slice(cut + 2);
        const event = /^event: *(.+)$/m.exec(block)?.[1];
        if (event === 'message.end' || event === 'error') {
          end = event;
          data = event === 'error' ? parse(/^data: *(.*)$/m.exec(block)?.[1] ?? '') : null;
        }
      }
    }
    return { status: 200, body: data, end };
  } catch (error) {
    return { status: 0, body: null, error: errorCode(error) };
  }
}

/**
 * Sends a streamed turn on a raw socket, takes the first packet of the answer (its status line) and
 * then reads nothing more: the server's buffers fill and it must drop the stream. The caller
 * destroys the socket.
 */
export function unreadStream(base: string, token: string, conversationId: string, content: string): { socket: net.Socket; head(): string } {
  const url = new URL(base);
  const body = JSON.stringify({ content, stream: true });
  const socket = net.connect({ host: url.hostname, port: Number(url.port) });
  let first = '';
  socket.on('error', () => {});
  socket.once('data', (chunk: Buffer) => {
    socket.pause();
    first = chunk.subarray(0, 200).toString('latin1').split('\r\n')[0]!;
  });
  socket.write(
    `POST /v1/conversations/${conversationId}/messages HTTP/1.1\r\nhost: ${url.host}\r\nauthorization: Bearer ${token}\r\n` +
      `content-type: application/json\r\naccept: text/event-stream\r\ncontent-length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
  );
  return { socket, head: () => first };
}

/** What an outcome counts as in the report's table. */
export function classify(outcome: Outcome): string {
  if (outcome.status === 0) return outcome.error === 'timeout' ? 'timeout' : 'network';
  if (outcome.status >= 200 && outcome.status < 300) {
    if (outcome.end === undefined || outcome.end === 'message.end') return '2xx';
    return outcome.end === 'error' ? 'stream error' : 'stream cut';
  }
  if ([409, 429, 503].includes(outcome.status)) return String(outcome.status);
  return outcome.status >= 500 ? 'other 5xx' : 'other 4xx';
}

export const COLUMNS = ['2xx', '409', '429', '503', 'other 4xx', 'stream error', 'other 5xx', 'stream cut', 'network', 'timeout'];
/** Outcomes that must not happen: the server failing otherwise than "unavailable, try again", or not answering. */
export const UNEXPECTED = new Set(['other 5xx', 'stream cut', 'network', 'timeout']);

export class Tally {
  private readonly counts = new Map<string, number>();
  /** Unexpected outcomes and other 4xx, with their bodies (the first 40). */
  readonly samples: string[] = [];
  /** `error` events of streamed turns by code. */
  readonly streamErrors = new Map<string, number>();
  /** Requests under way, by kind (what the server was doing when a `/health` probe was slow). */
  private readonly underWay = new Map<Kind, number>();

  begin(kind: Kind): void {
    this.underWay.set(kind, (this.underWay.get(kind) ?? 0) + 1);
  }

  end(kind: Kind): void {
    this.underWay.set(kind, (this.underWay.get(kind) ?? 1) - 1);
  }

  inFlight(kind: Kind): boolean {
    return (this.underWay.get(kind) ?? 0) > 0;
  }

  add(kind: Kind, outcome: Outcome): void {
    const label = classify(outcome);
    const key = `${kind}|${label}`;
    this.counts.set(key, (this.counts.get(key) ?? 0) + 1);
    if (label === 'stream error') {
      const code = String((outcome.body as { code?: unknown } | null)?.code ?? 'unknown');
      this.streamErrors.set(code, (this.streamErrors.get(code) ?? 0) + 1);
    }
    if ((UNEXPECTED.has(label) || label === 'other 4xx') && this.samples.length < 40) {
      this.samples.push(`${kind}: ${outcome.status || outcome.error} ${JSON.stringify(outcome.body ?? null).slice(0, 300)}`);
    }
  }

  count(kind: Kind | null, label: string | null): number {
    let total = 0;
    for (const [key, n] of this.counts) {
      const [k, l] = key.split('|');
      if ((kind === null || k === kind) && (label === null || l === label)) total += n;
    }
    return total;
  }

  unexpected(): number {
    return [...UNEXPECTED].reduce((sum, label) => sum + this.count(null, label), 0);
  }
}
