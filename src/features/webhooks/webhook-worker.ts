// Delivers webhook events (§9.4, §12): every instance polls for due deliveries and claims some
// under a lease (FOR UPDATE SKIP LOCKED), so each attempt is made by one instance; one that stops
// mid-attempt leaves its lease to run out, and the delivery is tried again by whoever polls next.
// Failures are retried on the configured schedule with jitter; 2xx delivers, 410 turns the
// chatbot's webhook off, anything else (3xx included: redirects are not followed) is a failure.
import type { Clock } from '../../lib/clock.js';
import { webhookHeaders } from './signing.js';
import type { SendOutcome, WebhookSender } from './webhook-http.js';
import type { AttemptResult, ClaimedDelivery, WebhooksRepo } from './webhooks.repo.js';

export interface WebhookWorkerLog {
  info(fields: object, message: string): void;
  warn(fields: object, message: string): void;
}

export interface WebhookWorkerDeps {
  repo: WebhooksRepo;
  send: WebhookSender;
  clock: Clock;
  newId: () => string;
  log: WebhookWorkerLog;
  settings: { retryScheduleMs: readonly number[]; leaseMs: number };
  /** Attempts running at once on this instance; a slow receiver holds one, not the rest. */
  maxInFlight?: number;
  /** Of those, one account's at most. */
  maxPerAccount?: number;
  /**
   * Hears that an attempt was delivered, so its room can be filled before the next poll. Only a
   * delivered one: a receiver that fails at once would otherwise have its backlog claimed, tried
   * and put back as fast as the database allows.
   */
  onRoom?: () => void;
  random?: () => number;
}

export interface WebhookWorker {
  /** Claims what is due (as much as there is room for) and starts sending it; `track` keeps each send in view. */
  poll(track: (name: string, task: Promise<unknown>) => void): Promise<void>;
  running(): number;
}

const DEFAULT_MAX_IN_FLIGHT = 16;
/** Of those, one account's at most: a receiver that does not answer holds its own account's deliveries, not everyone's. */
export const MAX_IN_FLIGHT_PER_ACCOUNT = 4;
const JITTER = 0.2;
/** A receiver may ask for a longer wait than the schedule's (Retry-After), up to this. */
const MAX_RETRY_AFTER_MS = 24 * 3_600_000;

/**
 * The payload's `completed_at` written as the API writes times (§2: UTC, `toISOString`). The
 * database made it from a timestamptz, in its sessions' time zone: "…T10:09:12.675+06:00" from a
 * server whose `timezone` setting is Asia/Dhaka, "+00:00" at best. Events queued before are read
 * the same way, so every attempt of one still sends the same bytes.
 */
function inUtc(payload: Record<string, unknown>): Record<string, unknown> {
  const at = payload.completed_at;
  const time = typeof at === 'string' ? Date.parse(at) : Number.NaN;
  return Number.isNaN(time) ? payload : { ...payload, completed_at: new Date(time).toISOString() };
}

/** The body every attempt of one event sends, byte for byte, so each carries the same signature input. */
export function eventBody(delivery: Pick<ClaimedDelivery, 'type' | 'createdAt' | 'payload'>): string {
  return JSON.stringify({ type: delivery.type, timestamp: delivery.createdAt.toISOString(), data: inUtc(delivery.payload) });
}

/** Accounts whose last claim here is remembered: more would be sent to the database at every poll. */
const SERVED_REMEMBERED = 1000;

/** Moves `key` to the end as served at `claim`, forgetting the least lately served beyond the bound. */
function remember(served: Map<string, number>, key: string, claim: number): void {
  served.delete(key);
  served.set(key, claim);
  if (served.size > SERVED_REMEMBERED) served.delete(served.keys().next().value!);
}

/** Adds `by` to `key`'s count, forgetting it at 0. */
function count(counts: Map<string, number>, key: string, by: number): void {
  const now = (counts.get(key) ?? 0) + by;
  if (now <= 0) counts.delete(key);
  else counts.set(key, now);
}

export function createWebhookWorker(deps: WebhookWorkerDeps): WebhookWorker {
  const { repo, send, clock, log, settings } = deps;
  const schedule = settings.retryScheduleMs;
  const random = deps.random ?? Math.random;
  const maxInFlight = deps.maxInFlight ?? DEFAULT_MAX_IN_FLIGHT;
  const maxPerAccount = deps.maxPerAccount ?? MAX_IN_FLIGHT_PER_ACCOUNT;
  const inFlight = new Set<Promise<void>>();
  const busy = new Map<string, number>();
  // When each account was last served here, in claim order; the least lately served are forgotten
  // first, which ranks them as never served: first among equals all the same.
  const served = new Map<string, number>();
  let claims = 0;

  /** The next step of the schedule ±20%, or the receiver's Retry-After when longer (up to a day). */
  function nextAttemptAt(step: number, outcome: SendOutcome, now: Date): Date {
    let wait = schedule[step]! * (1 - JITTER + 2 * JITTER * random());
    if (outcome.retryAfterMs !== null) wait = Math.max(wait, Math.min(outcome.retryAfterMs, MAX_RETRY_AFTER_MS));
    return new Date(now.getTime() + Math.round(wait));
  }

  function resultOf(delivery: ClaimedDelivery, outcome: SendOutcome, now: Date): AttemptResult {
    const { statusCode, latencyMs } = outcome;
    if (statusCode !== null && statusCode >= 200 && statusCode < 300) return { kind: 'delivered', statusCode, error: null, latencyMs };
    if (statusCode === 410) return { kind: 'gone', statusCode, error: 'the receiver answered 410 Gone: the webhook is turned off', latencyMs };
    const error = outcome.error ?? (statusCode !== null && statusCode >= 300 && statusCode < 400 ? `redirect (${statusCode}) not followed` : `the receiver answered ${statusCode}`);
    if (delivery.retryStep >= schedule.length) return { kind: 'failed', statusCode, error, latencyMs };
    return { kind: 'retry', statusCode, error, latencyMs, nextAttemptAt: nextAttemptAt(delivery.retryStep, outcome, now) };
  }

  async function deliver(delivery: ClaimedDelivery): Promise<AttemptResult['kind']> {
    const body = eventBody(delivery);
    const timestamp = Math.floor(clock.now().getTime() / 1000);
    const outcome = await send(delivery.url, webhookHeaders(delivery.secrets, delivery.id, timestamp, body), body);
    const now = clock.now();
    const result = await repo.finish(delivery, resultOf(delivery, outcome, now), now);
    const fields = { delivery_id: delivery.id, chatbot_id: delivery.chatbotId, attempt: delivery.attempt, status_code: result.statusCode, latency_ms: result.latencyMs, outcome: result.kind };
    if (result.kind === 'delivered') log.info(fields, 'webhook delivered');
    else log.warn({ ...fields, error: result.error }, 'webhook attempt failed');
    // Recorded at the answer's head, but its place in flight is held until the exchange is over:
    // a body that never ends would otherwise leave a connection open per event of the backlog.
    await outcome.closed;
    return result.kind;
  }

  return {
    async poll(track) {
      const room = maxInFlight - inFlight.size;
      if (room <= 0) return;
      const claimed = await repo.claim({ now: clock.now(), leaseMs: settings.leaseMs, limit: room, token: deps.newId(), perAccount: maxPerAccount, busy, served });
      claims += 1;
      for (const delivery of claimed) {
        count(busy, delivery.userId, 1);
        remember(served, delivery.userId, claims);
        const task: Promise<void> = deliver(delivery)
          .finally(() => {
            inFlight.delete(task);
            count(busy, delivery.userId, -1);
          })
          .then((kind) => {
            if (kind === 'delivered') deps.onRoom?.();
          });
        inFlight.add(task);
        track('webhook delivery', task);
      }
    },
    running: () => inFlight.size,
  };
}
