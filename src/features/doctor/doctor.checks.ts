// `parley doctor`'s checks that need no database: the model, Redis, external issuers' keys, the
// JWT secret, the open-file limit and DATA_DIR's disk. Each returns one result and never throws.
import { existsSync, readFileSync, statfsSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { Redis } from 'ioredis';
import { limitRedisReplies, RedisReplyTooLarge } from '../../lib/redis-replies.js';
import type { Config } from '../../config/config.js';
import type { ExternalIssuer } from '../../config/issuers-config.js';
import type { LlmConfig } from '../../config/llm-config.js';
import { LlmError } from '../../llm/errors.js';
import { filesForTurns, parseOpenFileLimit, turnsWithRoom } from '../../lib/open-files.js';
import { createRemoteModel } from '../../llm/openai-compatible.js';
import { fetchKeySet } from '../auth/key-set-fetch.js';

export type CheckStatus = 'ok' | 'warn' | 'fail' | 'skip';

export interface CheckResult {
  name: string;
  status: CheckStatus;
  detail: string;
  /** What to do about a failure or warning; null when there is nothing to do. */
  fix: string | null;
}

export const result = (name: string, status: CheckStatus, detail: string, fix: string | null = null): CheckResult => ({ name, status, detail, fix });

/** The code of an error or of any error it wraps (ECONNREFUSED, ETIMEDOUT…). */
export function causeCode(error: unknown): string | null {
  let current = error;
  for (let depth = 0; depth < 5 && current && typeof current === 'object'; depth++) {
    const code = (current as { code?: unknown }).code;
    if (typeof code === 'string') return code;
    current = (current as { cause?: unknown }).cause;
  }
  return null;
}

/** The HTTP client's parser codes (HPE_…) mean the peer answered in another protocol: a wrong port. */
const NOT_HTTP = 'what answers there does not speak HTTP';
export const describeCause = (code: string | null): string | null => (code?.startsWith('HPE_') ? NOT_HTTP : code);

/** scheme://host:port of a URL, without credentials, path or query. */
export function describeEndpoint(url: string): string {
  try {
    const parsed = new URL(url);
    return `${parsed.protocol}//${parsed.host}${parsed.pathname === '/' ? '' : parsed.pathname}`;
  } catch {
    return 'the configured address';
  }
}

// One model answer is all the check needs; a longer wait would only delay the report.
const MODEL_TIMEOUT_MS = 10_000;

/** One 1-token completion with the default model; the builtin responder needs no request. */
export async function checkModel(llm: LlmConfig): Promise<CheckResult> {
  if (llm.provider === 'builtin' || !llm.baseUrl) return result('model', 'ok', 'builtin responder (offline: no network, no key, no tokens spent)');
  const timeoutMs = Math.min(llm.timeoutMs, MODEL_TIMEOUT_MS);
  const model = createRemoteModel({ baseUrl: llm.baseUrl, apiKey: llm.apiKey, timeoutMs, retry: { maxRetries: 0, baseMs: 1, maxDelayMs: 1 } });
  const where = `${llm.provider} at ${describeEndpoint(llm.baseUrl)}, model ${llm.model}`;
  try {
    await model.generate({
      model: llm.model,
      messages: [{ role: 'user', content: 'Reply with OK.' }],
      temperature: null,
      maxTokens: 1,
      knowledge: [],
      profile: [],
      greeting: '',
      signal: AbortSignal.timeout(timeoutMs + 1_000),
    });
    return result('model', 'ok', `${where} answered a 1-token request`);
  } catch (error) {
    return modelFailure(error, where, timeoutMs);
  }
}

function modelFailure(error: unknown, where: string, timeoutMs: number): CheckResult {
  if (!(error instanceof LlmError)) return result('model', 'fail', `${where}: ${(error as Error)?.message ?? String(error)}`, 'check the LLM_* variables');
  const status = error.details.status;
  const code = causeCode(error);
  if (code?.startsWith('HPE_')) return result('model', 'fail', `${where}: ${NOT_HTTP}`, 'check LLM_BASE_URL: its host and port may be another service\'s');
  switch (error.failure) {
    // Only the check's own deadline aborts: an answer that kept coming in (so no idle timeout fired) and never ended.
    case 'aborted':
      return result('model', 'fail', `${where} answered, but its answer did not end within ${timeoutMs / 1000}s`, "check that LLM_BASE_URL is the model server's API (it ends before /chat/completions), not a page or a stream");
    case 'network_error':
      return result('model', 'fail', `${where} unreachable (${code ?? 'no answer'})`, 'check LLM_BASE_URL and that the model server is running and reachable from here');
    case 'timeout':
      return result('model', 'fail', `${where} did not answer within ${timeoutMs / 1000}s`, 'check LLM_BASE_URL, and that the model server is up and not overloaded');
    case 'rate_limited':
      return result('model', 'warn', `${where} answered 429 (rate limited)`, 'the key works; requests are being limited: check the plan or LLM_MAX_RETRIES');
    case 'quota_exceeded':
      return result('model', 'fail', `${where}: the account is out of quota (429 insufficient_quota)`, "add credit to the provider account, or use another key in LLM_API_KEY");
    case 'server_error':
      return result('model', 'fail', `${where}: the provider failed (${status ?? 'no status'})`, "the provider's server is failing: try again later or check its status page");
    default:
      if (status === 401 || status === 403) {
        return result('model', 'fail', `${where} refused the key (${status})`, 'check LLM_API_KEY (or the provider key variable): it is missing, wrong or revoked');
      }
      if (status === 404) return result('model', 'fail', `${where}: not found (404)`, 'check LLM_BASE_URL (it ends before /chat/completions) and LLM_MODEL');
      return result('model', 'fail', `${where}: ${error.message.slice(0, 200)}`, 'check LLM_MODEL and LLM_BASE_URL');
  }
}

const REDIS_TIMEOUT_MS = 2_000;

/** PING with a short timeout, then the server's version; nothing is written. */
export async function checkRedis(url: string | null): Promise<CheckResult> {
  if (!url) return result('redis', 'skip', 'REDIS_URL not set: limits and logouts are kept per instance (fine for one instance)');
  const where = describeEndpoint(url);
  const redis = limitRedisReplies(
    new Redis(url, {
      lazyConnect: true,
      connectTimeout: REDIS_TIMEOUT_MS,
      commandTimeout: REDIS_TIMEOUT_MS,
      maxRetriesPerRequest: 0,
      enableOfflineQueue: false,
      retryStrategy: () => null,
    }),
  );
  // The awaited call only says "Connection is closed"; the event says why (and would otherwise be printed).
  let cause: unknown = null;
  redis.on('error', (error) => {
    cause ??= error;
  });
  try {
    await redis.connect();
    const pong = await redis.ping();
    const version = /redis_version:(\S+)/.exec(await redis.info('server'))?.[1];
    const refused = await refusedDatabase(redis);
    if (refused) return result('redis', 'fail', `Redis ${version ?? '(version unknown)'} at ${where} refuses database ${redis.options.db} (${refused}): the server would log this error at every start and keep its limits in database 0`, 'name no database (or /0) in REDIS_URL, or one this Redis has');
    return result('redis', pong === 'PONG' ? 'ok' : 'warn', `Redis ${version ?? '(version unknown)'} at ${where} answered ${pong}`);
  } catch (error) {
    if (cause instanceof RedisReplyTooLarge) return result('redis', 'fail', `what answers at ${where} ${cause.message}`, 'check REDIS_URL: its host and port');
    const message = ((cause ?? error) as Error)?.message ?? String(error);
    if (/NOAUTH|WRONGPASS|invalid password|invalid username/i.test(message)) {
      return result('redis', 'fail', `Redis at ${where} refused the credentials`, 'check the user and password in REDIS_URL');
    }
    return result('redis', 'fail', `Redis at ${where} unreachable (${causeCode(cause ?? error) ?? message.slice(0, 120)})`, 'check REDIS_URL and that Redis is running and reachable from here');
  } finally {
    redis.disconnect();
  }
}

/**
 * What Redis answered to selecting REDIS_URL's database, when it refused: a cluster or a managed
 * Redis with database 0 only, or a number past its `databases`. ioredis reports that only as an
 * error event and goes on in database 0, so the ping above answers all the same.
 */
async function refusedDatabase(redis: Redis): Promise<string | null> {
  if (!redis.options.db) return null;
  try {
    await redis.select(redis.options.db);
    return null;
  } catch (error) {
    // Redis's own answer (an `-ERR …` reply); a lost connection is the caller's to report.
    if ((error as Error)?.name !== 'ReplyError') throw error;
    return (error as Error).message.slice(0, 120);
  }
}

const JWKS_TIMEOUT_MS = 5_000;

const KEY_TYPES: Record<string, string> = { RS: 'RSA', PS: 'RSA', ES: 'EC', Ed: 'OKP' };

/** One line per issuer: a JWK set is fetched and must hold a key for the pinned algorithms. */
export async function checkIssuers(issuers: ExternalIssuer[]): Promise<CheckResult[]> {
  if (issuers.length === 0) return [result('issuers', 'skip', 'no external issuers configured')];
  return Promise.all(issuers.map((issuer) => checkIssuer(issuer)));
}

async function checkIssuer(issuer: ExternalIssuer): Promise<CheckResult> {
  const name = `issuer:${issuer.name}`;
  if (issuer.kind === 'secret') return result(name, 'ok', 'shared secret (HS256): nothing to fetch');
  const where = describeEndpoint(issuer.jwksUrl);
  let body: unknown;
  try {
    // As the server fetches it: a redirect is not followed (the server answers 503 for it).
    const response = await fetchKeySet(issuer.jwksUrl, { redirect: 'manual', signal: AbortSignal.timeout(JWKS_TIMEOUT_MS), headers: { accept: 'application/json' } });
    if (response.status >= 300 && response.status < 400) {
      return result(name, 'fail', `key set at ${where} redirects (${response.status}), and Parley does not follow a key set's redirects`, 'point the issuer at the address it redirects to');
    }
    if (!response.ok) return result(name, 'fail', `key set at ${where} answered ${response.status}`, 'check the issuer\'s JWKS URL (EXTERNAL_JWKS_URL, SUPABASE_URL or AUTH_ISSUERS_FILE)');
    body = await response.json();
  } catch (error) {
    const reason = describeCause(causeCode(error)) ?? ((error as Error)?.name === 'TimeoutError' ? `no answer within ${JWKS_TIMEOUT_MS / 1000}s` : (error as Error)?.message);
    return result(name, 'fail', `key set at ${where} not fetchable (${reason})`, 'check the issuer\'s JWKS URL and that this host can reach it');
  }
  const keys = (body as { keys?: unknown } | null)?.keys;
  if (!Array.isArray(keys)) return result(name, 'fail', `${where} did not answer a JWK set ({"keys": […]})`, 'point the issuer at its JWKS URL (often …/.well-known/jwks.json)');
  const types = new Set(issuer.algorithms.map((alg) => KEY_TYPES[alg.slice(0, 2)]));
  const usable = keys.filter((key: { kty?: unknown; use?: unknown }) => types.has(String(key?.kty)) && key?.use !== 'enc');
  if (usable.length === 0) {
    return result(name, 'fail', `key set at ${where} has ${keys.length} key(s), none for ${issuer.algorithms.join(', ')}`, 'check the algorithms the issuer accepts (EXTERNAL_JWKS_ALGORITHMS or the file\'s algorithms)');
  }
  return result(name, 'ok', `key set at ${where}: ${usable.length} signing key(s) for ${issuer.algorithms.join(', ')}`);
}

const PLACEHOLDER = /change.?me|secret|example|password|default|replace|your.?(jwt|key)/i;

/** True when the text is a shorter piece repeated (abcabcabc…), however it is cut off. */
function repeats(text: string): boolean {
  for (let period = 1; period <= text.length / 2; period++) {
    let same = true;
    for (let i = period; i < text.length && same; i++) same = text[i] === text[i - period];
    if (same) return true;
  }
  return false;
}

/** In production the secret signs every token: its length is enforced by the configuration, its guessability here. */
export function checkJwtSecret(config: Pick<Config, 'nodeEnv' | 'jwtSecret'>): CheckResult {
  if (config.nodeEnv !== 'production') {
    const which = config.jwtSecret ? 'JWT_SECRET is set' : 'a secret generated in DATA_DIR/jwt-secret is used';
    return result('jwt-secret', 'skip', `NODE_ENV=${config.nodeEnv}: ${which}; strength is checked for production`);
  }
  const secret = config.jwtSecret ?? '';
  const bytes = Buffer.byteLength(secret);
  if (new Set(secret).size < 8 || repeats(secret) || PLACEHOLDER.test(secret)) {
    return result('jwt-secret', 'fail', `JWT_SECRET (${bytes} bytes) looks guessable: a placeholder, a repeated pattern or too few distinct characters`, 'set a random one, e.g. JWT_SECRET=$(openssl rand -base64 48); existing sessions end');
  }
  return result('jwt-secret', 'ok', `JWT_SECRET set, ${bytes} bytes, no guessable pattern`);
}

// Descriptors a server holds besides turns when it starts: listener, logs, Node's own, the
// embedded database's first files (82 measured), a pool's first connection.
const BASE_FILES = 64;

/**
 * Each running turn holds two descriptors (the client's connection and the model's); the server
 * takes as many at once as its limit leaves room for (MAX_CONCURRENT_TURNS=auto, the same sum)
 * and answers the rest 503. Node raises its own soft limit to the hard one at start, so this
 * process sees what a server started from the same shell or unit would get. `later`: files the
 * server opens after its start (the embedded database's, or the rest of the pool).
 */
export function checkOpenFiles(streams: number, later: number, platform = process.platform, read = () => readFileSync('/proc/self/limits', 'utf8')): CheckResult {
  if (platform !== 'linux') return result('open-files', 'skip', `not measured on ${platform} (run ulimit -n: each stream needs 2 open files)`);
  let soft: number | null;
  try {
    soft = parseOpenFileLimit(read());
  } catch {
    soft = null;
  }
  if (soft === null) return result('open-files', 'skip', '/proc/self/limits not readable (run ulimit -n: each stream needs 2 open files)');
  const turns = turnsWithRoom(soft, BASE_FILES, later).turns;
  if (turns === null) return result('open-files', 'ok', `unlimited open files, ${streams} streams expected`);
  const detail = `${soft} open files: room for about ${turns} ${turns === 1 ? 'stream' : 'streams'} at once (2 files each; more answer 503 at_capacity)`;
  if (turns >= streams) return result('open-files', 'ok', `${detail}, ${streams} expected`);
  const need = filesForTurns(streams, BASE_FILES, later);
  const fix = `raise the hard open-file limit to ${need} or more where the server starts: systemd LimitNOFILE=${need}, docker --ulimit nofile=${need}, or /etc/security/limits.conf`;
  return result('open-files', 'warn', `${detail}, fewer than the ${streams} expected`, fix);
}

const MiB = 1024 ** 2;
/** Below this the embedded database's next writes may fail (503 until room is made). */
const DISK_FAIL_BYTES = 256 * MiB;
const DISK_WARN_BYTES = 1024 * MiB;

const size = (bytes: number) => (bytes >= 1024 * MiB ? `${(bytes / 1024 / MiB).toFixed(1)} GiB` : `${Math.floor(bytes / MiB)} MiB`);

/** The folder itself, or the nearest one above it that exists (DATA_DIR is made at first start). */
function existingFolder(path: string): string {
  let folder = resolve(path);
  while (!existsSync(folder) && dirname(folder) !== folder) folder = dirname(folder);
  return folder;
}

/** Free room where the embedded database writes. PostgreSQL's disk is its server's, out of reach here. */
export function checkDisk(config: Pick<Config, 'databaseUrl' | 'dataDir'>, stat = statfsSync): CheckResult {
  if (config.databaseUrl) return result('disk', 'skip', "PostgreSQL's disk is its server's: watch its free space there");
  const folder = existingFolder(config.dataDir);
  let free: number;
  let total: number;
  try {
    const fs = stat(folder);
    free = Number(fs.bavail) * Number(fs.bsize);
    total = Number(fs.blocks) * Number(fs.bsize);
  } catch (error) {
    return result('disk', 'skip', `free space of ${folder} not readable: ${(error as Error).message}`);
  }
  const detail = `${size(free)} free of ${size(total)} where DATA_DIR is (${folder})`;
  const fix = 'free some room or move DATA_DIR to a larger disk: under 64 MB free the server refuses writes (503) until room is made';
  if (free < DISK_FAIL_BYTES) return result('disk', 'fail', detail, fix);
  if (free < DISK_WARN_BYTES) return result('disk', 'warn', detail, fix);
  return result('disk', 'ok', detail);
}
