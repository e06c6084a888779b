// The composition root: every repository, service and background job of one instance is
// built here, from configuration and the database, and nowhere else. app.ts turns the result
// into HTTP routes; the CLI and tests can build the same services without a server.
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Config } from './config/config.js';
import type { Database } from './db/client.js';
import { keepFollowingDatabaseClock } from './db/database-clock.js';
import { keepEmbeddedDatabase } from './db/pglite-upkeep.js';
import { createScoped } from './db/scope.js';
import { composeResponder, composeTurnEngine, composeTurnSlots, LEASE_MS } from './compose-turns.js';
import { createAdminRepo } from './features/admin/admin.repo.js';
import { createAdminService } from './features/admin/admin.service.js';
import { createApiKeysRepo } from './features/api-keys/api-keys.repo.js';
import { createApiKeysService } from './features/api-keys/api-keys.service.js';
import { createKeyCredentials, type KeyCredentials } from './features/api-keys/key-credentials.js';
import { createAuthService } from './features/auth/auth.service.js';
import { bearerToken, createAuthenticate, namedAdmins, withNamedAdmins, type Authenticate, type CredentialStrategy, type NamedAdmins } from './features/auth/authenticate.js';
import { createExternalIdentities } from './features/auth/external-identity.js';
import { createPasswordHasher } from './features/auth/passwords.js';
import { createLocalRevocations, createRedisRevocations, type Revocations } from './features/auth/revocations.js';
import { createSessionGuard } from './features/auth/session-guard.js';
import { createSessionsRepo } from './features/auth/sessions.repo.js';
import { createAccessTokens } from './features/auth/tokens.js';
import { createChatService } from './features/chat/chat.service.js';
import type { Generations } from './features/chat/generations.js';
import { storeCutTurns } from './features/chat/cut-turns.js';
import { scheduleHeartbeat } from './features/chat/instances.js';
import { createChatbotsRepo } from './features/chatbots/chatbots.repo.js';
import { createChatbotsService, type ChatbotsService } from './features/chatbots/chatbots.service.js';
import { createConversationsRepo } from './features/conversations/conversations.repo.js';
import { createConversationsService } from './features/conversations/conversations.service.js';
import { createInboxRepo } from './features/inbox/inbox.repo.js';
import { createInboxService } from './features/inbox/inbox.service.js';
import { createChunker, type Chunker } from './features/knowledge/chunker.js';
import { createKnowledgeRepo } from './features/knowledge/knowledge.repo.js';
import { createKnowledgeService } from './features/knowledge/knowledge.service.js';
import { createProfilesRepo } from './features/profiles/profiles.repo.js';
import { createProfilesService } from './features/profiles/profiles.service.js';
import { createPublicChatbotsRepo } from './features/public/public-chatbots.repo.js';
import { createPublicChatbotsService } from './features/public/public-chatbots.service.js';
import { createPublicDirectory, type PublicDirectory } from './features/public/public-directory.js';
import { createPublicGuard } from './features/public/public-guard.js';
import { createVisitorAuthenticate } from './features/public/visitor-conversations.routes.js';
import { createVisitorTokens, looksLikeVisitorToken } from './features/public/visitor-tokens.js';
import { createAccountStanding } from './features/public/account-standing.js';
import { createVisitorsRepo } from './features/public/visitors.repo.js';
import { createVisitorsService } from './features/public/visitors.service.js';
import { createDailyMessageCap } from './features/usage/quotas.js';
import { createUsageRepo } from './features/usage/usage.repo.js';
import { createUsageService } from './features/usage/usage.service.js';
import { createUsersRepo } from './features/users/users.repo.js';
import { countTokens } from './llm/tokens.js';
import { createWebhookSender } from './features/webhooks/webhook-http.js';
import { createWebhookLogSweep } from './features/webhooks/webhook-log-sweep.js';
import { createWebhookWorker } from './features/webhooks/webhook-worker.js';
import { createWebhooksRepo } from './features/webhooks/webhooks.repo.js';
import { createWebhooksService } from './features/webhooks/webhooks.service.js';
import { createJobs } from './jobs/jobs.js';
import { createSessionSweep } from './features/auth/session-sweep.js';
import { AppError } from './errors/app-error.js';
import type { Clock } from './lib/clock.js';
import { newId } from './lib/ids.js';
import type { Metrics } from './observability/metrics.js';
import { createRateLimiter, type RateLimiter } from './rate-limit/rate-limiter.js';
import { createMemoryStore, createRedisStore } from './rate-limit/stores.js';

/** Configuration with the JWT secret resolved. */
export type AppConfig = Config & { jwtSecret: string };

export interface ComposeLog {
  info(fields: object, message: string): void;
  warn(fields: object, message: string): void;
  error(fields: object, message: string): void;
}

export interface ComposeDeps {
  config: AppConfig;
  database: Database;
  clock: Clock;
  metrics: Metrics;
  log: ComposeLog;
}

/** API keys' last use is written this often (coalesced, §8), not on every call. */
const KEY_USE_FLUSH_MS = 30_000;
// Expired refresh tokens and sessions (session-sweep.ts): hourly, and as an instance starts.
const SESSION_SWEEP_MS = 3_600_000;
/** A stop sent to another instance takes effect within this time. */
const STOP_POLL_MS = 500;
/** After the grace, how long shutdown waits for stores, then for final stream events. */
export const DRAIN_AFTER_GRACE_MS = 5_000;

async function createLimiter(config: AppConfig, clock: Clock, metrics: Metrics, log: ComposeLog): Promise<{ limiter: RateLimiter; close(): Promise<void> }> {
  const store = config.redisUrl
    ? await createRedisStore(config.redisUrl, (error) => log.warn({ err: { message: error.message } }, 'redis error'))
    : createMemoryStore(() => clock.now().getTime());
  // Without this, the first requests after start would find Redis "down" and fail open or closed.
  await store.ready();
  const limiter = createRateLimiter({
    store,
    failureMode: config.redisFailureMode,
    onRefused: (policy) => metrics.rateLimitRefusals.inc({ policy }),
    onStoreError: (error) => log.warn({ err: { message: (error as Error).message } }, 'rate limit store unavailable'),
  });
  return { limiter, close: () => store.close() };
}

/** Key-shaped tokens on routes keys do not reach: a valid key is told so (403), any other refused as usual. */
function keysRefused(keys: KeyCredentials): CredentialStrategy {
  return {
    claims: keys.claims,
    async authenticate(token) {
      await keys.authenticate(token);
      throw new AppError('forbidden', 'An API key reaches only its chatbot\'s conversations, /v1/chat, /v1/chat/completions, /v1/models and /v1/ai-sdk/chat');
    },
  };
}

async function composeAuth(deps: ComposeDeps, limiter: RateLimiter, admins: NamedAdmins) {
  const { config, database, clock, metrics, log } = deps;
  const scoped = createScoped(database.app);
  const keys = createKeyCredentials({ keys: createApiKeysRepo(scoped, database.app.sql), limiter, clock, perKey: config.rateLimits.apiKey });
  const users = createUsersRepo(scoped);
  const sessions = createSessionsRepo(scoped, database.app.sql);
  const tokens = createAccessTokens({ secret: config.jwtSecret, ttlMs: config.accessTokenTtlMs, clock });
  const revocations = config.redisUrl ? await createRedisRevocations(config.redisUrl, log, { cacheMs: config.authCacheMs }) : createLocalRevocations();
  const guard = createSessionGuard({ sessions, tokens, revocations, cacheMs: config.authCacheMs });
  const auth = createAuthService({
    users,
    sessions,
    passwords: createPasswordHasher({ onOperation: (operation) => metrics.passwordHashing.inc({ operation }), log }),
    tokens,
    revocations,
    limiter,
    clock,
    admins,
    settings: { refreshTokenTtlMs: config.refreshTokenTtlMs, refreshReuseGraceMs: config.refreshReuseGraceMs, limits: config.rateLimits },
  });
  const external = createExternalIdentities({ issuers: config.externalIssuers, users, clock, cacheMs: config.authCacheMs, revocations, log });
  // Parley's own access tokens are what no other strategy claims.
  const own = withNamedAdmins({ claims: () => true, authenticate: (token) => guard.authenticate(token) }, admins);
  const authenticate: Authenticate = createAuthenticate([external, keysRefused(keys)], own);
  const authenticateKeys: Authenticate = createAuthenticate([external, keys], own);
  const authenticateAnswer: Authenticate = createAuthenticate([external, keys.deferred], own);
  return { auth, authenticate, authenticateKeys, authenticateAnswer, keys, revocations };
}

function composeChat(deps: ComposeDeps, limiter: RateLimiter, jobs: ReturnType<typeof createJobs>, chunker: Chunker, directory: PublicDirectory) {
  const { config, database, clock } = deps;
  const { llm } = config;
  const scoped = createScoped(database.app);
  const { turns, answers, usage, progress, generations, engine, pulse } = composeTurnEngine(deps, jobs);
  const chatbots = createChatbotsService({
    chatbots: createChatbotsRepo(scoped, newId),
    clock,
    models: { allowed: llm.models, default: llm.model },
    contextTokenBudget: config.contextTokenBudget,
    onChanged: (chatbot) => directory.forget(chatbot),
    // Its conversations went with it: replies running here in them have nobody to read them.
    onRemoved: (chatbotId) => void generations.stopFor({ chatbot: chatbotId }, 'stopped'),
    // Closed to the public: its visitors' replies end now, kept as interrupted, as a stop would.
    onPrivate: (chatbotId) => void generations.stopFor({ chatbot: chatbotId, visitorsOnly: true }, 'stopped'),
    webhooks: { allowPrivate: config.webhooks.allowPrivate },
  });
  const knowledge = createKnowledgeService({
    knowledge: createKnowledgeRepo(scoped),
    chatbots,
    chunker,
    limiter,
    clock,
    newId,
    settings: { uploadsPerUser: config.rateLimits.knowledgeUser, bytesPerAccount: config.knowledgeLimitPerAccount },
  });
  // A reply running here for a conversation just deleted has nobody to read it: its model call ends.
  const onRemoved = (conversationId: string) => void generations.stop(conversationId, 'stopped');
  const conversations = createConversationsService({ conversations: createConversationsRepo(scoped), chatbots, clock, newId, onRemoved });
  const chat = createChatService({
    slots: composeTurnSlots(deps),
    turns,
    answers,
    progress,
    engine,
    conversations,
    knowledge,
    generations,
    jobs,
    limiter,
    dailyCap: createDailyMessageCap(limiter, config.messagesPerDay),
    clock,
    newId,
    settings: { contextTokenBudget: config.contextTokenBudget, maxMessageChars: config.maxMessageChars, messagesPerUser: config.rateLimits.messagesUser, messagesPerEndUser: config.rateLimits.apiKeyUser, leaseMs: LEASE_MS },
  });
  const { heartbeats, responder } = composeResponder(deps, jobs);
  jobs.every('stop poll', STOP_POLL_MS, () => chat.applyStopRequests(), { rests: true });
  // Holds that lapsed while this instance runs: another instance killed, or any cut off from the
  // database past the lease. A full read of conversations (an index on the hold would cost every
  // turn's lock its in-place update), once a minute by default.
  const sweepCut = async () => {
    const cut = await storeCutTurns(scoped, { everyHold: false, watcher: pulse?.id ?? null, countTokens, clock });
    if (cut > 0) deps.log.warn({ conversations: cut }, `${cut} conversation(s) held by replies of an instance gone silent or nobody renewed for the lease's length (their instance stopped or lost the database): their replies are stored as cut short and the conversations are free`);
  };
  jobs.every('cut turns sweep', config.cutTurnsSweepMs, sweepCut, { rests: true });
  jobs.every('reply stops sweep', config.cutTurnsSweepMs, () => turns.forgetReplyStops(), { rests: true });
  if (pulse) scheduleHeartbeat(jobs, pulse, config.instanceHeartbeatMs, sweepCut);
  return { chatbots, knowledge, conversations, chat, responder, generations, heartbeats, answerUsage: usage, pulse };
}

/** Webhooks (§9.4): the owner's routes' service, and this instance's share of the deliveries. */
function composeWebhooks(deps: ComposeDeps, jobs: ReturnType<typeof createJobs>, chatbots: ChatbotsService) {
  const { config, database, clock, log } = deps;
  const repo = createWebhooksRepo(createScoped(database.app));
  // A delivered attempt makes room at once: an account's backlog is not held to 4 a poll (webhook-worker.ts).
  const onRoom = () => jobs.nudge('webhook deliveries');
  const worker = createWebhookWorker({ repo, send: createWebhookSender(config.webhooks), clock, newId, log, settings: config.webhooks, onRoom });
  jobs.every('webhook deliveries', config.webhooks.pollMs, () => worker.poll((name, task) => jobs.track(name, task)), { rests: true });
  const logSweep = createWebhookLogSweep({ scoped: createScoped(database.app), clock, retentionMs: config.webhooks.logRetentionMs });
  jobs.every(
    'webhook log sweep',
    config.webhooks.logSweepMs,
    async () => {
      await logSweep.run();
    },
    { rests: true },
  );
  return { service: createWebhooksService({ repo, chatbots, clock }), owed: () => repo.pending() };
}

/** Public chatbots' visitors: their tokens, the limits and origin checks they pass, and one authentication for every channel. */
function composeVisitors(deps: ComposeDeps, limiter: RateLimiter, directory: PublicDirectory, authenticateKeys: Authenticate, revocations: Revocations) {
  const { config } = deps;
  const standing = createAccountStanding({ users: createUsersRepo(createScoped(deps.database.app)), revocations, cacheMs: config.authCacheMs, now: () => Date.now() });
  const visitorTokens = createVisitorTokens({ secret: config.jwtSecret, clock: deps.clock, standing });
  const publicGuard = createPublicGuard({
    limiter,
    limits: { visitor: config.rateLimits.publicVisitor, ip: config.rateLimits.publicIp, chatbot: config.rateLimits.publicChatbot },
  });
  const visitorAuthenticate = createVisitorAuthenticate({ directory, guard: publicGuard, visitorTokens });
  /** Accounts, external users, keys, and public chatbots' visitors (with their origin and limit checks). */
  const authenticateChannels = async (request: FastifyRequest, reply: FastifyReply) => {
    const token = bearerToken(request.headers.authorization);
    if (token && looksLikeVisitorToken(token)) return visitorAuthenticate(request, reply);
    return authenticateKeys(request);
  };
  return { visitorTokens, publicGuard, authenticateChannels };
}

/**
 * A session that ends, or a user deactivated, on any instance stops its replies running here; a
 * deactivated (or reactivated) owner's public chatbots change at once, not when lookups lapse.
 */
function heedRevocations(revocations: Revocations, generations: Pick<Generations, 'stopFor'>, directory: PublicDirectory) {
  revocations.listen((revoked) => {
    if (revoked && ('session' in revoked || revoked.deactivated)) generations.stopFor(revoked, 'signed_out');
    if (!revoked || !('session' in revoked)) directory.forgetOwners();
  });
}

/** Keys' last use written in batches; expired refresh tokens and sessions swept. */
function scheduleAccountUpkeep(deps: ComposeDeps, jobs: ReturnType<typeof createJobs>, keys: { flush(): Promise<void> }) {
  jobs.every('api key last use', KEY_USE_FLUSH_MS, () => keys.flush(), { rests: true });
  const sweep = createSessionSweep({ scoped: createScoped(deps.database.app), clock: deps.clock, refreshTokenTtlMs: deps.config.refreshTokenTtlMs });
  jobs.every('session sweep', SESSION_SWEEP_MS, async () => void (await sweep.run()), { atStart: true, rests: true });
}

/** The embedded database's own upkeep; on PostgreSQL, its clock followed for what is stored (lib/time-base.ts). */
function scheduleDatabaseUpkeep({ config, database, log }: ComposeDeps, jobs: ReturnType<typeof createJobs>) {
  if (database.kind === 'pglite') keepEmbeddedDatabase({ jobs, database, log, everyMs: config.pgliteStatisticsMs, freezeAge: config.pgliteFreezeAge });
  else keepFollowingDatabaseClock(jobs, database.app.sql, config.instanceHeartbeatMs, log);
}

export async function composeServices(deps: ComposeDeps) {
  const { config, database, log } = deps;
  const { limiter, close: closeLimiter } = await createLimiter(config, deps.clock, deps.metrics, log);
  const jobs = createJobs(log);
  const admins = namedAdmins(config.adminUsernames);
  const { auth, authenticate, authenticateKeys, authenticateAnswer, keys, revocations } = await composeAuth(deps, limiter, admins);
  const chunker = createChunker();
  const directory = createPublicDirectory({
    chatbots: createPublicChatbotsRepo(createScoped(database.app)),
    cacheMs: config.authCacheMs,
    now: () => deps.clock.now().getTime(),
  });
  const chat = composeChat(deps, limiter, jobs, chunker, directory);
  const { service: webhooks, owed: webhooksOwed } = composeWebhooks(deps, jobs, chat.chatbots);
  const { visitorTokens, publicGuard, authenticateChannels } = composeVisitors(deps, limiter, directory, authenticateKeys, revocations);
  scheduleAccountUpkeep(deps, jobs, keys);
  scheduleDatabaseUpkeep(deps, jobs);
  heedRevocations(revocations, chat.generations, directory);
  const admin = createAdminService(createAdminRepo(createScoped(database.app)), admins, revocations, config.externalIssuers);
  return {
    auth,
    authenticate,
    admin,
    profiles: createProfilesService({ profiles: createProfilesRepo(createScoped(database.app)), clock: deps.clock, contextTokenBudget: config.contextTokenBudget }),
    inbox: createInboxService({ inbox: createInboxRepo(createScoped(database.app)), chatbots: chat.chatbots, clock: deps.clock }),
    usage: createUsageService({ usage: createUsageRepo(createScoped(database.app)), clock: deps.clock }),
    publicChatbots: createPublicChatbotsService({ maxMessageChars: config.maxMessageChars }),
    directory,
    visitorTokens,
    visitors: createVisitorsService({ visitors: createVisitorsRepo(createScoped(database.app)), tokens: visitorTokens, clock: deps.clock, newId }),
    publicGuard,
    authenticateKeys,
    /**
     * Like authenticateKeys, but a key looked up lately is not read again: the chat answer's first
     * statement checks it (the OpenAI endpoint, §8), so it costs the request no read of its own.
     */
    authenticateAnswer,
    authenticateChannels,
    keys,
    apiKeys: createApiKeysService({ keys: createApiKeysRepo(createScoped(database.app), database.app.sql), chatbots: chat.chatbots, clock: deps.clock, newId }),
    webhooks,
    config,
    /** For features that build their own repositories over the same database (exports). */
    database,
    limiter,
    jobs,
    /** Whether a webhook delivery is still to be made (by any instance): the instance does not rest meanwhile. */
    webhooksOwed,
    revocations,
    ...chat,
    /** Starts background work (after the server is ready). */
    start: () => jobs.start(),
    /**
     * Shutdown: running replies get the grace to finish; what remains is stopped and stored as
     * interrupted; then their streams get their final events, and background stores a bounded wait.
     */
    async drain() {
      await chat.generations.drain(config.shutdownGraceMs, DRAIN_AFTER_GRACE_MS);
      // The replies just finished may have usage still to write.
      jobs.track('record usage', chat.answerUsage.flush());
      await jobs.drain(DRAIN_AFTER_GRACE_MS);
      await keys.flush().catch((error: Error) => log.warn({ err: { message: error.message } }, 'could not record API keys\' last use'));
      await chat.pulse?.leave().catch(() => {});
      chat.heartbeats.stop();
    },
    async close() {
      await chunker.close();
      await closeLimiter();
      await revocations.close();
    },
  };
}

export type Services = Awaited<ReturnType<typeof composeServices>>;
