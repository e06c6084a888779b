// One HTTP attempt at a webhook delivery: a POST to the owner's URL through the address guard,
// bounded by a timeout, with nothing followed (a 3xx is the receiver's answer, not a hop).
import { request as httpRequest, type ClientRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { Socket } from 'node:net';
import { performance } from 'node:perf_hooks';
import { VERSION } from '../../lib/version.js';
import { addressRefusal, AddressRefusedError, guardedLookup, literalAddress, webhookUrlProblem } from './address-guard.js';

export interface SendOutcome {
  /** The receiver's status; null when none came (refused, unreachable, timed out). */
  statusCode: number | null;
  /** Why no status came, or why it was not taken. */
  error: string | null;
  /** Until the answer's headers arrived, or the attempt gave up; null when nothing was sent. */
  latencyMs: number | null;
  /** The receiver's `Retry-After`, in milliseconds. */
  retryAfterMs: number | null;
  /**
   * Settles once the exchange is over (the answer's body ended or was cut, or the timeout struck):
   * an answer may come long before its body ends, and its connection is held until then.
   */
  closed?: Promise<void>;
}

export type WebhookSender = (url: string, headers: Record<string, string>, body: string) => Promise<SendOutcome>;

/** An answer's body is drained and dropped; past this much, the connection is closed instead. */
const MAX_DRAIN_BYTES = 64 * 1024;

/** `Retry-After` as delta-seconds or an HTTP date, in milliseconds from `now`. */
export function retryAfterMs(value: string | undefined, now: number): number | null {
  if (!value) return null;
  const trimmed = value.trim();
  if (/^\d+$/.test(trimmed)) return Number(trimmed) * 1000;
  const at = Date.parse(trimmed);
  return Number.isNaN(at) ? null : Math.max(0, at - now);
}

/**
 * Some of Node's errors carry what the receiver sent: a certificate that does not name the host
 * lists every name it holds (a hundred, from a public authority), kilobytes kept at each attempt
 * in the delivery log and written to the server's log. The start says what went wrong.
 */
const MAX_ERROR_CHARS = 300;

function cut(text: string): string {
  const characters = Array.from(text);
  return characters.length <= MAX_ERROR_CHARS ? text : `${characters.slice(0, MAX_ERROR_CHARS - 1).join('')}…`;
}

function describe(error: Error & { code?: string; syscall?: string }, timeoutMs: number): string {
  if (error instanceof AddressRefusedError) return `address refused: ${error.message}`;
  // The DNS client's own failures (queryA, queryAaaa): the receiver was never reached.
  if (error.syscall?.startsWith('query')) return error.code === 'ETIMEOUT' ? 'no answer from the DNS for the host' : `host lookup failed (${error.code})`;
  switch (error.code) {
    case 'ETIMEDOUT':
      return `no answer within ${timeoutMs} ms`;
    case 'ECONNREFUSED':
      return 'connection refused';
    case 'ECONNRESET':
      return 'connection reset before an answer';
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return 'host not found';
    default:
      return cut(error.code ? `${error.code}: ${error.message}` : error.message);
  }
}

const refused = (error: string): SendOutcome => ({ statusCode: null, error, latencyMs: null, retryAfterMs: null });

export function createWebhookSender(settings: { allowPrivate: boolean; timeoutMs: number }): WebhookSender {
  const { allowPrivate, timeoutMs } = settings;
  return (target, headers, body) => {
    // Checked again at every attempt: the URL was written under rules that may have changed since.
    const problem = webhookUrlProblem(target, true);
    if (problem) return Promise.resolve(refused(`url refused: ${problem}`));
    const url = new URL(target);
    const literal = literalAddress(url);
    const why = literal && !allowPrivate ? addressRefusal(literal) : null;
    if (why) return Promise.resolve(refused(`address refused: ${why}`));

    const send = url.protocol === 'https:' ? httpsRequest : httpRequest;
    const request = send(url, {
      method: 'POST',
      headers: { ...headers, 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), 'user-agent': `Parley/${VERSION} (webhooks)` },
      // A connection of its own each time: a pooled one would skip the lookup, and so the check.
      agent: false,
      ...(allowPrivate ? {} : { lookup: guardedLookup }),
    });
    const outcome = outcomeOf(request, timeoutMs);
    request.end(body);
    return outcome;
  };
}

/**
 * How one request ends: its answer's status, or why none came; never left unsettled. The answer
 * is known at its head, but the exchange goes on until its body ends: `closed` says when, so that
 * the attempt holds its place in flight until then. A receiver answering 200 and never ending its
 * body otherwise kept its connection open until the timeout after its place was freed, and an
 * account's backlog went out at once, holding one of the server's sockets per event.
 */
function outcomeOf(request: ClientRequest, timeoutMs: number): Promise<SendOutcome> {
  const started = performance.now();
  const elapsed = () => Math.round(performance.now() - started);
  let over!: () => void;
  const closed = new Promise<void>((resolve) => {
    over = resolve;
  });
  // The whole exchange, connect included; the answer's body is read within it too.
  const timer = setTimeout(() => request.destroy(Object.assign(new Error('timed out'), { code: 'ETIMEDOUT' })), timeoutMs);
  timer.unref();
  const end = () => {
    clearTimeout(timer);
    over();
  };
  return new Promise<SendOutcome>((resolve) => {
    let settled = false;
    const finish = (outcome: Omit<SendOutcome, 'closed'>) => {
      if (settled) return;
      settled = true;
      resolve({ ...outcome, closed });
    };
    request.on('error', (error) => {
      const sent = !(error instanceof AddressRefusedError);
      finish({ statusCode: null, error: describe(error, timeoutMs), latencyMs: sent ? elapsed() : null, retryAfterMs: null });
      end();
    });
    request.on('response', (response: IncomingMessage) => {
      finish({
        statusCode: response.statusCode ?? null,
        error: null,
        latencyMs: elapsed(),
        retryAfterMs: retryAfterMs(response.headers['retry-after'], Date.now()),
      });
      let read = 0;
      response.on('data', (chunk: Buffer) => {
        read += chunk.length;
        if (read > MAX_DRAIN_BYTES) response.destroy();
      });
      response.on('error', () => {});
      // Ended, cut past MAX_DRAIN_BYTES, or destroyed by the timeout.
      response.on('close', end);
    });
    // A 101 with an Upgrade header is handed to 'upgrade', not 'response'; with no listener Node
    // closes the socket and raises neither 'response' nor 'error', so the attempt never ended
    // and held its place among the account's deliveries in flight for good.
    request.on('upgrade', (response: IncomingMessage, socket: Socket) => {
      socket.destroy();
      finish({ statusCode: response.statusCode ?? null, error: `the receiver switched protocols (${response.statusCode}): not an answer`, latencyMs: elapsed(), retryAfterMs: null });
      end();
    });
    // Whatever else closes the exchange without an answer or an error ends the attempt too.
    request.on('close', () => {
      finish({ statusCode: null, error: 'connection closed before an answer', latencyMs: elapsed(), retryAfterMs: null });
      end();
    });
  });
}
