import cors from '@fastify/cors';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import Fastify, { LogController, type FastifyBaseLogger } from 'fastify';
import { pino, type DestinationStream } from 'pino';
import type { Config } from './config/config.js';
import type { Database } from './db/client.js';
import { loadMigrations, type Migration } from './db/migrate.js';
import { verifyAppRole } from './db/row-security.js';
import { createScoped, type Scoped } from './db/scope.js';
import { createAuthService } from './features/auth/auth.service.js';
import { registerAuthRoutes } from './features/auth/auth.routes.js';
import { requireCaller } from './features/auth/authenticate.js';
import { createExternalIdentities } from './features/auth/external-identity.js';
import { createPasswordHasher } from './features/auth/passwords.js';
import { createSessionGuard } from './features/auth/session-guard.js';
import { createSessionsRepo } from './features/auth/sessions.repo.js';
import { createAccessTokens } from './features/auth/tokens.js';
import { createAdminRepo } from './features/admin/admin.repo.js';
import { registerAdminRoutes } from './features/admin/admin.routes.js';
import { registerChatFeatures } from './features/chat/register.js';
import { registerHealthRoutes } from './features/health/health.routes.js';
import { createUsersRepo } from './features/users/users.repo.js';
import { registerBodyParsers } from './http/body-parsers.js';
import { frameworkError, registerHttpHooks, requestIdFor } from './http/hooks.js';
import { registerOpenApi } from './http/openapi.js';
import type { App } from './http/types.js';
import { createValidatorCompiler } from './http/validation.js';
import { systemClock, type Clock } from './lib/clock.js';
import { VERSION } from './lib/version.js';
import { loggerOptions } from './observability/logger.js';
import { createMetrics, type Metrics } from './observability/metrics.js';
import { createRateLimiter, type RateLimiter } from './rate-limit/rate-limiter.js';
import { createMemoryStore, createRedisStore } from './rate-limit/stores.js';

export interface AppOptions {
  /** Configuration with the JWT secret resolved. */
  config: Config & { jwtSecret: string };
  database: Database;
  /** Where log lines go (standard output when absent). */
  logStream?: DestinationStream;
  clock?: Clock;
  migrations?: Migration[];
}

export async function buildApp(options: AppOptions): Promise<App> {
  const { config, database } = options;
  // Fail closed: never serve with a role that row security would not apply to.
  await verifyAppRole(database.app.sql);
  const scoped = createScoped(database.app);
  const clock = options.clock ?? systemClock;
  const metrics = createMetrics();
  const logger = options.logStream ? pino(loggerOptions({ ...config, logPretty: false }), options.logStream) : pino(loggerOptions(config));

  const app = Fastify({
    loggerInstance: logger as FastifyBaseLogger,
    // Our own onResponse hook writes one line per request (src/http/hooks.ts).
    logController: new LogController({ disableRequestLogging: true, requestIdLogLabel: 'request_id' }),
    bodyLimit: config.bodyLimit,
    trustProxy: config.trustProxy,
    genReqId: requestIdFor,
    requestIdHeader: false,
    return503OnClosing: true,
    frameworkErrors: frameworkError,
  }).withTypeProvider<TypeBoxTypeProvider>();

  app.setValidatorCompiler(createValidatorCompiler());
  registerBodyParsers(app);
  registerHttpHooks(app, metrics);
  const anyOrigin = config.corsOrigins.includes('*');
  await app.register(cors, {
    origin: anyOrigin ? true : config.corsOrigins.length > 0 ? config.corsOrigins : false,
    exposedHeaders: ['x-request-id', 'retry-after', 'ratelimit', 'ratelimit-policy'],
    maxAge: 600,
  });
  await registerOpenApi(app, VERSION);

  const limiter = await createLimiter(app, config, metrics);
  const { auth, guard } = createAuth({ config, scoped, limiter, metrics, clock });

  registerHealthRoutes(app, {
    version: VERSION,
    sql: database.app.sql,
    migrations: options.migrations ?? loadMigrations(),
    metrics,
    metricsToken: config.metricsToken,
  });
  const external = createExternalIdentities({
    issuers: config.externalIssuers,
    users: createUsersRepo(scoped),
    clock,
    cacheMs: config.authCacheMs,
    log: app.log,
  });
  const authenticate = requireCaller(guard, external, config.adminUsernames);
  registerAuthRoutes(app, { auth, authenticate, localAccounts: config.authLocal });
  registerChatFeatures(app, { config, database, limiter, authenticate, clock, metrics });
  registerAdminRoutes(app, { admin: createAdminRepo(scoped), authenticate, clock });

  await app.ready();
  return app;
}

async function createLimiter(app: App, config: AppOptions['config'], metrics: Metrics): Promise<RateLimiter> {
  const store = config.redisUrl
    ? createRedisStore(config.redisUrl, (error) => app.log.warn({ err: { message: error.message } }, 'redis error'))
    : createMemoryStore();
  app.addHook('onClose', () => store.close());
  // Without this, the first requests after start would find Redis "down" and fail open or closed.
  await store.ready();
  return createRateLimiter({
    store,
    failureMode: config.redisFailureMode,
    onRefused: (policy) => metrics.rateLimitRefusals.inc({ policy }),
    onStoreError: (error) => app.log.warn({ err: { message: (error as Error).message } }, 'rate limit store unavailable'),
  });
}

function createAuth(deps: { config: AppOptions['config']; scoped: Scoped; limiter: RateLimiter; metrics: Metrics; clock: Clock }) {
  const { config, scoped, limiter, metrics, clock } = deps;
  const sessions = createSessionsRepo(scoped);
  const tokens = createAccessTokens({ secret: config.jwtSecret, ttlMs: config.accessTokenTtlMs, clock });
  const guard = createSessionGuard({ sessions, tokens, clock, cacheMs: config.authCacheMs });
  const auth = createAuthService({
    users: createUsersRepo(scoped),
    sessions,
    passwords: createPasswordHasher((operation) => metrics.passwordHashing.inc({ operation })),
    tokens,
    guard,
    limiter,
    clock,
    settings: {
      refreshTokenTtlMs: config.refreshTokenTtlMs,
      refreshReuseGraceMs: config.refreshReuseGraceMs,
      limits: config.rateLimits,
    },
  });
  return { auth, guard };
}
