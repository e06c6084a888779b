import cors from '@fastify/cors';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import Fastify, { LogController, type FastifyBaseLogger } from 'fastify';
import { pino, type DestinationStream } from 'pino';
import { composeServices, type AppConfig, type Services } from './compose.js';
import type { TrustProxy } from './config/parsers.js';
import type { Database } from './db/client.js';
import { loadMigrations, type Migration } from './db/migrate.js';
import { verifyAppRole } from './db/row-security.js';
import { registerApiKeyRoutes } from './features/api-keys/api-keys.routes.js';
import { registerAiSdkRoutes } from './features/ai-sdk/ai-sdk.routes.js';
import { ADMIN_PATH_PREFIX, registerAdminRoutes } from './features/admin/admin.routes.js';
import { registerAuthRoutes } from './features/auth/auth.routes.js';
import { registerChatRoutes } from './features/chat/chat.routes.js';
import { registerChatbotRoutes } from './features/chatbots/chatbots.routes.js';
import { registerConversationRoutes } from './features/conversations/conversations.routes.js';
import { registerExportRoutes } from './features/exports/exports.routes.js';
import { registerHealthRoutes } from './features/health/health.routes.js';
import { registerInboxRoutes } from './features/inbox/inbox.routes.js';
import { registerKnowledgeRoutes } from './features/knowledge/knowledge.routes.js';
import { registerOpenAiRoutes } from './features/openai/openai.routes.js';
import { openAiNotFound } from './features/openai/openai-errors.js';
import { registerProfileRoutes } from './features/profiles/profiles.routes.js';
import { registerPublicRoutes } from './features/public/public.routes.js';
import { registerVisitorConversationRoutes } from './features/public/visitor-conversations.routes.js';
import { registerUsageRoutes } from './features/usage/usage.routes.js';
import { registerWebhookRoutes } from './features/webhooks/webhooks.routes.js';
import { loadWidgetAssets } from './features/widget/widget-assets.js';
import { HOSTED_PAGE_PREFIX, registerWidgetRoutes, sendNotFoundPage } from './features/widget/widget.routes.js';
import { registerAbsentBodyAsEmpty, registerBodyParsers } from './http/body-parsers.js';
import { clientErrorHandler } from './http/client-errors.js';
import { createFrameworkErrorHandler, registerHttpHooks, requestIdFor } from './http/hooks.js';
import { limitPipelining } from './http/pipelining.js';
import { restWhenQuiet } from './http/quiet-hooks.js';
import { closeUnusedConnectionsOnClose } from './http/unused-connections.js';
import { registerOpenApi } from './http/openapi.js';
import type { App } from './http/types.js';
import { buildLazySerializer } from './http/serialization.js';
import { createValidatorCompiler } from './http/validation.js';
import { systemClock, type Clock } from './lib/clock.js';
import { VERSION } from './lib/version.js';
import { loggerOptions } from './observability/logger.js';
import { createMetrics, watchDeadlocks, type Metrics } from './observability/metrics.js';

export type { AppConfig } from './compose.js';

export interface AppOptions {
  /** Configuration with the JWT secret resolved. */
  config: AppConfig;
  database: Database;
  /** Where log lines go (standard output when absent). */
  logStream?: DestinationStream;
  clock?: Clock;
  migrations?: Migration[];
}

/**
 * A number of proxies trusts that many hops back from the socket, as Express counts them. Fastify
 * takes no count (it fails closed), so it gets the function proxy-addr calls with each hop's index.
 */
function trustProxyOption(trust: TrustProxy): boolean | string[] | ((address: string, hop: number) => boolean) {
  if (typeof trust !== 'number') return trust;
  return (_address, hop) => hop < trust;
}

export async function buildApp(options: AppOptions): Promise<App> {
  const { config, database } = options;
  // Fail closed: never serve with a role that row security would not apply to.
  await verifyAppRole(database.app.sql);
  const clock = options.clock ?? systemClock;
  const metrics = createMetrics();
  watchDeadlocks(metrics, database.deadlocks);
  const logger = options.logStream ? pino(loggerOptions({ ...config, logPretty: false }), options.logStream) : pino(loggerOptions(config));

  const app = Fastify({
    loggerInstance: logger as FastifyBaseLogger,
    // Our own onResponse hook writes one line per request (src/http/hooks.ts).
    logController: new LogController({ disableRequestLogging: true, requestIdLogLabel: 'request_id' }),
    bodyLimit: config.bodyLimit,
    // Bounds receiving a request (a body trickled in a byte at a time), never the answer: event
    // streams outlast it. Node answers a late request through clientErrorHandler (408).
    requestTimeout: config.requestTimeoutMs,
    http: {
      requestTimeout: config.requestTimeoutMs,
      headersTimeout: Math.min(60_000, config.requestTimeoutMs),
      // Node looks for late requests only this often (30 s by default), so a slow client could hold on twice as long.
      connectionsCheckingInterval: Math.max(100, Math.round(config.requestTimeoutMs / 10)),
    },
    trustProxy: trustProxyOption(config.trustProxy),
    genReqId: requestIdFor,
    requestIdHeader: false,
    // src/http/hooks.ts answers requests that arrive during the drain.
    return503OnClosing: false,
    schemaController: { compilersFactory: { buildSerializer: buildLazySerializer } },
    // Input the router refuses: admin routes stay unseen, a hosted page address gets the page's own not-found page.
    frameworkErrors: createFrameworkErrorHandler({ hiddenPrefixes: [ADMIN_PATH_PREFIX], hostedPagePrefix: HOSTED_PAGE_PREFIX, sendHostedNotFound: sendNotFoundPage }),
    clientErrorHandler,
  }).withTypeProvider<TypeBoxTypeProvider>();

  app.setValidatorCompiler(createValidatorCompiler());
  registerBodyParsers(app);
  registerAbsentBodyAsEmpty(app);
  limitPipelining(app);
  registerHttpHooks(app, metrics, { foreignNotFound: [openAiNotFound] });
  closeUnusedConnectionsOnClose(app);
  const anyOrigin = config.corsOrigins.includes('*');
  await app.register(cors, {
    origin: anyOrigin ? true : config.corsOrigins.length > 0 ? config.corsOrigins : false,
    exposedHeaders: ['x-request-id', 'retry-after', 'ratelimit', 'ratelimit-policy'],
    maxAge: 600,
  });
  registerOpenApi(app, VERSION);

  const services = await composeServices({ config, database, clock, metrics, log: app.log });

  if (config.quietAfterMs !== null) restWhenQuiet(app, services, config.quietAfterMs);
  registerRoutes(app, services, { config, database, clock, metrics, migrations: options.migrations });

  app.addHook('preClose', () => services.drain());
  app.addHook('onClose', () => services.close());
  await app.ready();
  services.start();
  return app;
}

/** Every route of the API, each feature's over its services. */
function registerRoutes(
  app: App,
  services: Services,
  parts: { config: AppConfig; database: Database; clock: Clock; metrics: Metrics; migrations?: Migration[] },
): void {
  const { authenticate } = services;
  const { config, clock } = parts;
  registerHealthRoutes(app, {
    version: VERSION,
    sql: parts.database.app.sql,
    migrations: parts.migrations ?? loadMigrations(),
    metrics: parts.metrics,
    metricsToken: config.metricsToken,
  });
  registerAuthRoutes(app, { auth: services.auth, authenticate, localAccounts: config.authLocal });
  registerChatbotRoutes(app, { chatbots: services.chatbots, authenticate });
  registerKnowledgeRoutes(app, { knowledge: services.knowledge, authenticate });
  registerConversationRoutes(app, { conversations: services.conversations, authenticate: services.authenticateKeys });
  registerChatRoutes(app, { chat: services.chat, responder: services.responder, authenticate: services.authenticateKeys });
  registerApiKeyRoutes(app, { apiKeys: services.apiKeys, authenticate });
  registerWebhookRoutes(app, { webhooks: services.webhooks, authenticate });
  registerOpenAiRoutes(app, services);
  registerAiSdkRoutes(app, services);
  registerExportRoutes(app, services);
  registerAdminRoutes(app, { admin: services.admin, authenticate, clock });
  registerProfileRoutes(app, { profiles: services.profiles, authenticate, guard: services.publicGuard });
  registerInboxRoutes(app, { inbox: services.inbox, authenticate });
  registerUsageRoutes(app, { usage: services.usage, authenticate });
  const publicParts = { directory: services.directory, guard: services.publicGuard, visitorTokens: services.visitorTokens };
  registerPublicRoutes(app, { publicChatbots: services.publicChatbots, visitors: services.visitors, authenticate, ...publicParts });
  registerVisitorConversationRoutes(app, { chat: services.chat, conversations: services.conversations, responder: services.responder, ...publicParts });
  const assets = loadWidgetAssets();
  if (assets.missing) app.log.warn(`GET /widget.js answers 503: ${assets.missing}`);
  registerWidgetRoutes(app, { assets, directory: services.directory, guard: services.publicGuard });
}
