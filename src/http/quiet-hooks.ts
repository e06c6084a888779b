import { createQuietWatch } from '../jobs/quiet.js';
import type { Services } from '../compose.js';
import type { App } from './types.js';

/** Probes and scrapes come whether or not anyone uses the service: they neither wake nor keep awake. */
const OPERATIONS = new Set(['/health', '/ready', '/metrics']);

/**
 * Background work against the database rests once no request has come for `afterMs` (jobs/quiet.ts);
 * a request to a route wakes it, and waits for the instance's heartbeat before anything else.
 */
export function restWhenQuiet(app: App, services: Pick<Services, 'jobs' | 'generations' | 'webhooksOwed' | 'revocations'>, afterMs: number): void {
  const watch = createQuietWatch({
    jobs: services.jobs,
    afterMs,
    replies: () => services.generations.replyIds().length,
    owes: services.webhooksOwed,
    others: [services.revocations],
    log: app.log,
  });
  app.addHook('onRequest', async (request, reply) => {
    const route = request.routeOptions.url;
    // Unknown paths (scanners) are answered 404 without the database.
    if (!route || OPERATIONS.has(route)) return;
    const { woken, done } = watch.begin();
    reply.raw.once('close', done);
    if (woken) await woken;
  });
  app.addHook('onClose', async () => watch.stop());
}
