import {
  ConfigValueError,
  parseBoolean,
  parseDuration,
  parsePgSize,
  parseEnum,
  parseHeaderToken,
  parseInteger,
  parseList,
  parseRate,
  parseRoleName,
  parseSize,
  parseSizeLimit,
  parseTrustProxy,
  parseTurnCap,
  parseUrl,
  type RateRule,
  type TrustProxy,
} from './parsers.js';
import { ConfigError } from './errors.js';
import { loadExternalIssuers, type ExternalIssuer } from './issuers-config.js';
import { loadLlmConfig, type LlmConfig } from './llm-config.js';
import { CONFIG_VARIABLES } from './variables.js';

export type Env = Readonly<Record<string, string | undefined>>;
export type LogLevel = 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';

export interface Config {
  nodeEnv: 'development' | 'production' | 'test';
  host: string;
  port: number;
  dataDir: string;
  databaseUrl: string | null;
  /** DATABASE_APP_URL: the request pool's own login, as databaseAppRole; null = switch roles on databaseUrl's connections. */
  databaseAppUrl: string | null;
  databasePoolMax: number;
  databaseAppRole: string;
  databasePrepare: boolean;
  pgliteSharedBuffers: string;
  pgliteWasmOptimize: boolean;
  pgliteFsync: boolean;
  /** How often the embedded database's stale planner statistics are looked for (db/pglite-statistics.ts). */
  pgliteStatisticsMs: number;
  /** The embedded database's old rows are frozen at start once its oldest transaction is this old (db/pglite-freeze.ts). */
  pgliteFreezeAge: number;
  databaseWaitMs: number;
  /** DATABASE_STALL_TIMEOUT: a statement hearing nothing back this long drops its connection (503); null = wait forever. */
  databaseStallMs: number | null;
  /** DATABASE_IDLE_TIMEOUT: a connection idle this long is closed (the owner's after at most 30 s); null = kept. */
  databaseIdleMs: number | null;
  /** Null until resolved: development generates one (see secrets.ts). */
  jwtSecret: string | null;
  accessTokenTtlMs: number;
  refreshTokenTtlMs: number;
  refreshReuseGraceMs: number;
  authLocal: boolean;
  authCacheMs: number;
  bodyLimit: number;
  requestTimeoutMs: number;
  corsOrigins: string[];
  trustProxy: TrustProxy;
  logLevel: LogLevel;
  logPretty: boolean;
  metricsToken: string | null;
  redisUrl: string | null;
  redisFailureMode: 'open' | 'closed';
  rateLimits: {
    loginAccount: RateRule | null;
    refreshSession: RateRule | null;
    loginIp: RateRule | null;
    registerIp: RateRule | null;
    messagesUser: RateRule | null;
    knowledgeUser: RateRule | null;
    publicVisitor: RateRule | null;
    publicIp: RateRule | null;
    publicChatbot: RateRule | null;
    apiKey: RateRule | null;
    apiKeyUser: RateRule | null;
  };
  /** USAGE_MESSAGES_PER_DAY: an account's messages per UTC day; null = no cap. */
  messagesPerDay: number | null;
  /** KNOWLEDGE_LIMIT_PER_ACCOUNT: UTF-8 bytes of documents an account may store over its chatbots; null = no cap. */
  knowledgeLimitPerAccount: number | null;
  shutdownGraceMs: number;
  llm: LlmConfig;
  externalIssuers: ExternalIssuer[];
  adminUsernames: string[];
  /** Prompt size per turn (system part, knowledge, history and the new message), in tokens. */
  contextTokenBudget: number;
  maxMessageChars: number;
  /** Turns one instance runs at once: a number, `auto` (what the open-file limit leaves room for) or null (no cap). */
  maxConcurrentTurns: number | 'auto' | null;
  sseHeartbeatMs: number;
  sseWriteTimeoutMs: number;
  /** How often this instance stores the replies of holds whose lease ran out (features/chat/cut-turns.ts). */
  cutTurnsSweepMs: number;
  /** How often an instance on PostgreSQL says it is alive (features/chat/instances.ts). */
  instanceHeartbeatMs: number;
  /** QUIET_AFTER: no request this long and nothing owed, background work against the database rests (jobs/quiet.ts); null = never. */
  quietAfterMs: number | null;
  webhooks: WebhookConfig;
}

export interface WebhookConfig {
  allowPrivate: boolean;
  timeoutMs: number;
  /** Waits before the 1st, 2nd… retry; one attempt plus one per entry. */
  retryScheduleMs: number[];
  pollMs: number;
  leaseMs: number;
  /** Events delivered or failed are forgotten this long after they happened (webhook-log-sweep.ts). */
  logRetentionMs: number;
  /** How often each instance looks for such events. */
  logSweepMs: number;
}

export { ConfigError };

const MIN_SECRET_BYTES = 32;
const documented = new Map(CONFIG_VARIABLES.map((v) => [v.name, v]));

/** Any address's `user:password@` (a model proxy behind basic auth, say), kept out of messages. */
const withoutCredentials = (raw: string) => raw.replace(/(\/\/)[^/?#\s]*@/g, '$1…@');

function reader(env: Env) {
  return function read<T>(name: string, parse: (raw: string) => T, fallback: T): T {
    const doc = documented.get(name);
    if (!doc) throw new Error(`configuration variable ${name} is read but not documented in variables.ts`);
    for (const key of [name, ...(doc.aliases ?? [])]) {
      const raw = env[key];
      if (raw === undefined || raw === '') continue;
      try {
        return parse(raw);
      } catch (error) {
        if (!(error instanceof ConfigValueError)) throw error;
        const shown = /SECRET|(?<!CONTEXT_)TOKEN(?!_TTL|_BUDGET)|PASSWORD|KEY|DATABASE_(?:APP_)?URL|REDIS_URL/.test(key) ? '' : ` (got "${withoutCredentials(raw).slice(0, 80)}")`;
        throw new ConfigError(`${key} must be ${error.message}${shown}`);
      }
    }
    return fallback;
  };
}

const text = (raw: string) => raw;

const MAX_RETRIES = 20;

function parseSchedule(raw: string): number[] {
  const steps = parseList(raw);
  if (steps.length === 0 || steps.length > MAX_RETRIES) throw new ConfigValueError(`1 to ${MAX_RETRIES} comma-separated durations such as 5s,5m,30m,2h`);
  return steps.map(parseDuration);
}

const DAY_MS = 86_400_000;

/** Shorter than an hour, an owner could not read what happened to an event before it is gone. */
function parseRetention(raw: string): number {
  const ms = parseDuration(raw);
  if (ms < 3_600_000) throw new ConfigValueError('a duration of at least 1h such as 30d');
  return ms;
}

function loadWebhookConfig(read: ReturnType<typeof reader>): WebhookConfig {
  const timeoutMs = read('WEBHOOK_TIMEOUT_MS', (raw) => parseInteger(raw, 100, 600_000), 15_000);
  const leaseMs = read('WEBHOOK_LEASE_MS', (raw) => parseInteger(raw, 1000, 3_600_000), 60_000);
  // A lease that ends while its delivery still waits for an answer lets a second instance send it too.
  if (leaseMs <= timeoutMs) throw new ConfigError(`WEBHOOK_LEASE_MS (${leaseMs}) must be longer than WEBHOOK_TIMEOUT_MS (${timeoutMs})`);
  return {
    allowPrivate: read('WEBHOOK_ALLOW_PRIVATE', parseBoolean, false),
    timeoutMs,
    retryScheduleMs: read('WEBHOOK_RETRY_SCHEDULE', parseSchedule, [5_000, 300_000, 1_800_000, 7_200_000, 18_000_000, 36_000_000]),
    pollMs: read('WEBHOOK_POLL_MS', (raw) => parseInteger(raw, 10, 600_000), 1000),
    leaseMs,
    logRetentionMs: read('WEBHOOK_LOG_RETENTION', parseRetention, 30 * DAY_MS),
    logSweepMs: read('WEBHOOK_LOG_SWEEP_MS', (raw) => parseInteger(raw, 100, 86_400_000), 60_000),
  };
}

const postgresUrl = (raw: string) => parseUrl(raw, ['postgres', 'postgresql']);

/**
 * DATABASE_URL is the owner; requests run as DATABASE_APP_ROLE, reached by switching roles on
 * the owner's connections, or, with DATABASE_APP_URL, by logging in as it (poolers in transaction
 * mode refuse the switch). The role is then the URL's user, less the `.project-ref` Supavisor adds.
 */
function loadDatabaseRoles(read: ReturnType<typeof reader>): Pick<Config, 'databaseUrl' | 'databaseAppUrl' | 'databaseAppRole'> {
  const databaseUrl = read('DATABASE_URL', postgresUrl, null as string | null);
  const databaseAppUrl = read('DATABASE_APP_URL', postgresUrl, null as string | null);
  const named = read('DATABASE_APP_ROLE', parseRoleName, null as string | null);
  if (!databaseAppUrl) return { databaseUrl, databaseAppUrl, databaseAppRole: named ?? 'parley_app' };
  if (!databaseUrl) throw new ConfigError('DATABASE_APP_URL is set without DATABASE_URL: set DATABASE_URL to the role that owns the tables, or remove DATABASE_APP_URL to use the embedded database');
  let user = '';
  try {
    user = decodeURIComponent(new URL(databaseAppUrl).username);
  } catch {
    // Left empty: refused below.
  }
  const role = user.split('.')[0]!;
  try {
    parseRoleName(role);
  } catch {
    throw new ConfigError(`DATABASE_APP_URL must name its user, the login role requests run as, in lowercase letters, digits and _ (postgres://parley_app:…@host/db)${user ? ` (got "${user.slice(0, 80)}")` : ''}`);
  }
  if (named && named !== role) throw new ConfigError(`DATABASE_APP_ROLE (${named}) is not DATABASE_APP_URL's user (${role}): remove DATABASE_APP_ROLE, or make them the same role`);
  return { databaseUrl, databaseAppUrl, databaseAppRole: role };
}

/** The embedded database's own settings. */
function loadPgliteSettings(read: ReturnType<typeof reader>): Pick<Config, 'pgliteSharedBuffers' | 'pgliteWasmOptimize' | 'pgliteFsync' | 'pgliteStatisticsMs' | 'pgliteFreezeAge'> {
  return {
    pgliteSharedBuffers: read('PGLITE_SHARED_BUFFERS', parsePgSize, '8MB'),
    pgliteWasmOptimize: read('PGLITE_WASM_OPTIMIZE', parseBoolean, false),
    pgliteFsync: read('PGLITE_FSYNC', parseBoolean, true),
    pgliteStatisticsMs: read('PGLITE_STATISTICS_MS', (raw) => parseInteger(raw, 100, 86_400_000), 60_000),
    pgliteFreezeAge: read('PGLITE_FREEZE_AGE', (raw) => parseInteger(raw, 1_000, 1_000_000_000), 100_000_000),
  };
}

/** Every RATE_LIMIT_… variable (§12): `N/window` or `off`. */
function loadRateLimits(read: ReturnType<typeof reader>): Config['rateLimits'] {
  return {
    loginAccount: read('RATE_LIMIT_LOGIN_ACCOUNT', parseRate, { limit: 10, windowMs: 60_000 } as RateRule | null),
    loginIp: read('RATE_LIMIT_LOGIN_IP', parseRate, { limit: 30, windowMs: 60_000 } as RateRule | null),
    registerIp: read('RATE_LIMIT_REGISTER_IP', parseRate, { limit: 10, windowMs: 3_600_000 } as RateRule | null),
    refreshSession: read('RATE_LIMIT_REFRESH_SESSION', parseRate, { limit: 10, windowMs: 60_000 } as RateRule | null),
    messagesUser: read('RATE_LIMIT_MESSAGES_USER', parseRate, { limit: 60, windowMs: 60_000 } as RateRule | null),
    knowledgeUser: read('RATE_LIMIT_KNOWLEDGE_USER', parseRate, { limit: 30, windowMs: 60_000 } as RateRule | null),
    publicVisitor: read('RATE_LIMIT_PUBLIC_VISITOR', parseRate, { limit: 20, windowMs: 60_000 } as RateRule | null),
    publicIp: read('RATE_LIMIT_PUBLIC_IP', parseRate, { limit: 60, windowMs: 60_000 } as RateRule | null),
    publicChatbot: read('RATE_LIMIT_PUBLIC_CHATBOT', parseRate, { limit: 600, windowMs: 60_000 } as RateRule | null),
    apiKey: read('RATE_LIMIT_API_KEY', parseRate, { limit: 600, windowMs: 60_000 } as RateRule | null),
    apiKeyUser: read('RATE_LIMIT_API_KEY_USER', parseRate, { limit: 60, windowMs: 60_000 } as RateRule | null),
  };
}

export function loadConfig(env: Env): Config {
  const read = reader(env);
  const nodeEnv = read('NODE_ENV', (raw) => parseEnum(raw, ['development', 'production', 'test'] as const), 'development');
  const jwtSecret = read('JWT_SECRET', text, null as string | null);
  if (nodeEnv === 'production' && (jwtSecret === null || Buffer.byteLength(jwtSecret) < MIN_SECRET_BYTES)) {
    throw new ConfigError(`JWT_SECRET (or SECRET_KEY) must be set to at least ${MIN_SECRET_BYTES} bytes when NODE_ENV=production`);
  }
  return {
    nodeEnv,
    host: read('HOST', text, '127.0.0.1'),
    port: read('PORT', (raw) => parseInteger(raw, 0, 65535), 8000),
    dataDir: read('DATA_DIR', text, './data'),
    ...loadDatabaseRoles(read),
    databasePoolMax: read('DATABASE_POOL_MAX', (raw) => parseInteger(raw, 1, 1000), 10),
    databasePrepare: read('DATABASE_PREPARE', parseBoolean, true),
    ...loadPgliteSettings(read),
    databaseWaitMs: read('DATABASE_WAIT', parseDuration, 10_000),
    databaseStallMs: read('DATABASE_STALL_TIMEOUT', (raw) => (raw.trim() === 'off' ? null : parseDuration(raw)), 15_000 as number | null),
    databaseIdleMs: read('DATABASE_IDLE_TIMEOUT', (raw) => (raw.trim() === 'off' ? null : parseDuration(raw)), 180_000 as number | null),
    jwtSecret,
    accessTokenTtlMs: read('ACCESS_TOKEN_TTL', parseDuration, 15 * 60_000),
    refreshTokenTtlMs: read('REFRESH_TOKEN_TTL', parseDuration, 30 * 86_400_000),
    refreshReuseGraceMs: read('REFRESH_REUSE_GRACE', (raw) => (raw.trim() === '0' ? 0 : parseDuration(raw)), 10_000),
    authLocal: read('AUTH_LOCAL', parseBoolean, true),
    authCacheMs: read('AUTH_CACHE_MS', (raw) => parseInteger(raw, 0, 60_000), 2000),
    bodyLimit: read('BODY_LIMIT', parseSize, 1024 * 1024),
    requestTimeoutMs: read('REQUEST_TIMEOUT_MS', (raw) => parseInteger(raw, 1000, 600_000), 30_000),
    corsOrigins: read('CORS_ORIGINS', parseList, [] as string[]),
    trustProxy: read('TRUST_PROXY', parseTrustProxy, false as TrustProxy),
    logLevel: read('LOG_LEVEL', (raw) => parseEnum(raw, ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const), 'info'),
    logPretty: read('LOG_PRETTY', parseBoolean, false),
    metricsToken: read('METRICS_TOKEN', parseHeaderToken, null as string | null),
    redisUrl: read('REDIS_URL', (raw) => parseUrl(raw, ['redis', 'rediss']), null as string | null),
    redisFailureMode: read('REDIS_FAILURE_MODE', (raw) => parseEnum(raw, ['open', 'closed'] as const), 'open'),
    rateLimits: loadRateLimits(read),
    messagesPerDay: read('USAGE_MESSAGES_PER_DAY', (raw) => (raw.trim() === 'off' ? null : parseInteger(raw, 1, 1_000_000_000)), null as number | null),
    knowledgeLimitPerAccount: read('KNOWLEDGE_LIMIT_PER_ACCOUNT', parseSizeLimit, 100_000_000 as number | null),
    shutdownGraceMs: read('SHUTDOWN_GRACE_MS', (raw) => parseInteger(raw, 0, 600_000), 10_000),
    llm: loadLlmConfig(read),
    externalIssuers: loadExternalIssuers(read),
    adminUsernames: read('ADMIN_USERNAMES', parseList, [] as string[]),
    contextTokenBudget: read('CONTEXT_TOKEN_BUDGET', (raw) => parseInteger(raw, 500, 2_000_000), 8000),
    maxMessageChars: read('MAX_MESSAGE_CHARS', (raw) => parseInteger(raw, 1, 1_000_000), 32_000),
    maxConcurrentTurns: read('MAX_CONCURRENT_TURNS', parseTurnCap, 'auto' as number | 'auto' | null),
    sseHeartbeatMs: read('SSE_HEARTBEAT_MS', (raw) => parseInteger(raw, 100, 300_000), 15_000),
    sseWriteTimeoutMs: read('SSE_WRITE_TIMEOUT_MS', (raw) => parseInteger(raw, 100, 600_000), 30_000),
    cutTurnsSweepMs: read('CUT_TURNS_SWEEP_MS', (raw) => parseInteger(raw, 100, 3_600_000), 60_000),
    instanceHeartbeatMs: read('INSTANCE_HEARTBEAT_MS', (raw) => parseInteger(raw, 500, 60_000), 5_000),
    quietAfterMs: read('QUIET_AFTER', (raw) => (raw.trim() === 'off' ? null : parseDuration(raw)), 60_000 as number | null),
    webhooks: loadWebhookConfig(read),
  };
}
