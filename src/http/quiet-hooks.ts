import { createQuietWatch } from '../jobs/quiet.js';
import type { Services } from '../compose.js';
import { whenAnswerCloses } from './pipelining.js';
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
  // Told by the connection's bookkeeping (pipelining.ts) rather than by a listener of its own: a
  // closure and a `once` wrapper for each request held about 0.4 kB per open stream for as long as
  // it ran (docs/decisions.md, "Memory per open stream, again"). Node tells an answer `close` once.
  const ended = () => watch.end();
  app.addHook('onRequest', (request, reply, done) => {
    const route = request.routeOptions.url;
    // Unknown paths (scanners) are answered 404 without the database.
    if (!route || OPERATIONS.has(route)) return done();
    const woken = watch.begin();
    whenAnswerCloses(reply.raw, ended);
    if (woken) woken.then(() => done(), done);
    else done();
  });
  app.addHook('onClose', async () => watch.stop());
}
