import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { DeadlockCounts } from '../db/deadlocks.js';

export interface Metrics {
  registry: Registry;
  httpRequests: Counter<'method' | 'route' | 'status'>;
  httpDuration: Histogram<'method' | 'route'>;
  passwordHashing: Counter<'operation'>;
  rateLimitRefusals: Counter<'policy'>;
  replies: Counter<'status'>;
  modelLatency: Histogram<'status'>;
  firstToken: Histogram;
  tokens: Counter<'kind'>;
  openStreams: Gauge;
  turnsAtCapacity: Counter;
}

const LATENCY_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];

/** How many turns run now, against how many the instance takes (absent without a cap): what to alert on before 503s. */
export function watchTurns(metrics: Metrics, turns: { running(): number; capacity: number | null }): void {
  new Gauge({
    name: 'parley_turns_running',
    help: 'Turns (replies being generated) running on this instance now',
    registers: [metrics.registry],
    collect() {
      this.set(turns.running());
    },
  });
  if (turns.capacity === null) return;
  new Gauge({ name: 'parley_turns_capacity', help: 'Turns this instance runs at once (MAX_CONCURRENT_TURNS); one more answers 503 at_capacity', registers: [metrics.registry] }).set(turns.capacity);
}

/**
 * Deadlocks PostgreSQL settled by failing a transaction of ours (db/deadlocks.ts): run again, or
 * failed on their last try. A count that keeps growing is a lock order gone wrong.
 */
export function watchDeadlocks(metrics: Metrics, deadlocks: { counts(): DeadlockCounts }): void {
  new Counter({
    name: 'parley_database_deadlocks_total',
    help: 'Transactions PostgreSQL made a deadlock\'s victim, by outcome: retried (run again) or failed (still a victim on the last try)',
    labelNames: ['outcome'],
    registers: [metrics.registry],
    collect() {
      const counts = deadlocks.counts();
      this.reset();
      this.inc({ outcome: 'retried' }, counts.retried);
      this.inc({ outcome: 'failed' }, counts.failed);
    },
  });
}

/** One registry per app instance, so several apps in one process (tests) never share counters. */
export function createMetrics(): Metrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'parley_' });
  return {
    registry,
    httpRequests: new Counter({
      name: 'parley_http_requests_total',
      help: 'HTTP requests answered, by route and status',
      labelNames: ['method', 'route', 'status'],
      registers: [registry],
    }),
    httpDuration: new Histogram({
      name: 'parley_http_request_duration_seconds',
      help: 'Time to answer HTTP requests',
      labelNames: ['method', 'route'],
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers: [registry],
    }),
    passwordHashing: new Counter({
      name: 'parley_password_hash_operations_total',
      help: 'Password hash computations (hash, verify), the main CPU cost of sign-in',
      labelNames: ['operation'],
      registers: [registry],
    }),
    rateLimitRefusals: new Counter({
      name: 'parley_rate_limit_refusals_total',
      help: 'Requests refused by a rate limit, by policy',
      labelNames: ['policy'],
      registers: [registry],
    }),
    replies: new Counter({
      name: 'parley_replies_total',
      help: 'Model replies stored, by status (complete, interrupted, failed)',
      labelNames: ['status'],
      registers: [registry],
    }),
    modelLatency: new Histogram({
      name: 'parley_model_latency_seconds',
      help: 'Time the model took for a reply, retries included',
      labelNames: ['status'],
      buckets: LATENCY_BUCKETS,
      registers: [registry],
    }),
    firstToken: new Histogram({
      name: 'parley_time_to_first_token_seconds',
      help: 'Streamed replies: time from the model call to its first text',
      buckets: LATENCY_BUCKETS,
      registers: [registry],
    }),
    tokens: new Counter({
      name: 'parley_tokens_total',
      help: 'Tokens sent to (prompt) and received from (completion) models',
      labelNames: ['kind'],
      registers: [registry],
    }),
    openStreams: new Gauge({ name: 'parley_open_streams', help: 'Event streams open now', registers: [registry] }),
    turnsAtCapacity: new Counter({ name: 'parley_turns_at_capacity_total', help: 'Turns refused (503 at_capacity) because this instance ran as many as it takes at once', registers: [registry] }),
  };
}
