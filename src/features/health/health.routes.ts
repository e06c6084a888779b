import { timingSafeEqual } from 'node:crypto';
import { Type } from 'typebox';
import type { SqlRunner } from '../../db/client.js';
import { pendingMigrations, type Migration } from '../../db/migrate.js';
import { AppError } from '../../errors/app-error.js';
import { bearerToken } from '../auth/authenticate.js';
import { problems } from '../../http/schemas.js';
import type { App } from '../../http/types.js';
import type { Metrics } from '../../observability/metrics.js';

export interface HealthDeps {
  version: string;
  sql: SqlRunner;
  migrations: Migration[];
  metrics: Metrics;
  metricsToken: string | null;
}

const ReadySchema = Type.Object({
  status: Type.Union([Type.Literal('ready'), Type.Literal('unavailable')]),
  database: Type.Union([Type.Literal('ok'), Type.Literal('unreachable')]),
  migrations: Type.Union([Type.Literal('current'), Type.Literal('pending'), Type.Literal('unknown')]),
});

function sameSecret(given: string, expected: string): boolean {
  const a = Buffer.from(given);
  const b = Buffer.from(expected);
  return a.length === b.length && timingSafeEqual(a, b);
}

export function registerHealthRoutes(app: App, deps: HealthDeps): void {
  const tags = ['operations'];

  app.get(
    '/health',
    {
      schema: {
        tags,
        summary: 'Liveness',
        response: { 200: Type.Object({ status: Type.Literal('ok'), service: Type.Literal('parley'), version: Type.String() }) },
      },
    },
    async () => ({ status: 'ok' as const, service: 'parley' as const, version: deps.version }),
  );

  app.get(
    '/ready',
    { schema: { tags, summary: 'Readiness: the database answers and its migrations are current', response: { 200: ReadySchema, 503: ReadySchema } } },
    async (request, reply) => {
      let pending: string[] | null = null;
      try {
        pending = await pendingMigrations(deps.sql, deps.migrations);
      } catch (error) {
        request.log.warn({ err: { message: (error as Error).message } }, 'readiness check: database unreachable');
      }
      if (pending === null) return reply.code(503).send({ status: 'unavailable', database: 'unreachable', migrations: 'unknown' });
      if (pending.length > 0) return reply.code(503).send({ status: 'unavailable', database: 'ok', migrations: 'pending' });
      return { status: 'ready' as const, database: 'ok' as const, migrations: 'current' as const };
    },
  );

  app.get(
    '/metrics',
    {
      schema: {
        tags,
        summary: 'Prometheus metrics (Bearer METRICS_TOKEN when set)',
        response: { 200: Type.String({ description: 'Prometheus text exposition format' }), ...problems(401) },
      },
    },
    async (request, reply) => {
      if (deps.metricsToken) {
        const token = bearerToken(request.headers.authorization);
        if (!token || !sameSecret(token, deps.metricsToken)) throw new AppError('unauthorized', 'Send Authorization: Bearer <METRICS_TOKEN>');
      }
      return reply.type(deps.metrics.registry.contentType).send(await deps.metrics.registry.metrics());
    },
  );
}
