// Runs every check of `parley doctor` and formats the report: one line per check, what to do
// after each failure or warning. The checks run side by side; the report keeps a fixed order.
import { ConfigError, loadConfig, type Config, type Env } from '../../config/config.js';
import { checkDisk, checkIssuers, checkJwtSecret, checkModel, checkOpenFiles, checkRedis, result, type CheckResult } from './doctor.checks.js';
import { checkDatabase } from './doctor.database.js';
import { EMBEDDED_FILES_LATER } from '../../lib/open-files.js';

export type { CheckResult, CheckStatus } from './doctor.checks.js';

export interface DoctorOptions {
  /** Streams the server is expected to hold open at once (the open-file check). */
  streams: number;
  /** How long an unavailable database is retried: short, unlike the server's DATABASE_WAIT. */
  databaseWaitMs?: number;
}

export const DEFAULT_STREAMS = 1024;
const DATABASE_WAIT_MS = 2_000;
// A backstop: each check bounds its own waits, but the report must come whatever hangs.
const GROUP_LIMIT_MS = 20_000;

async function bounded(names: string[], run: () => Promise<CheckResult[]>): Promise<CheckResult[]> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<CheckResult[]>((resolve) => {
    timer = setTimeout(() => resolve(names.map((name) => result(name, 'fail', `no answer within ${GROUP_LIMIT_MS / 1000}s`, 'check what this line depends on is up and reachable'))), GROUP_LIMIT_MS);
  });
  try {
    return await Promise.race([run(), late]);
  } catch (error) {
    return names.map((name) => result(name, 'fail', `the check failed: ${(error as Error)?.message ?? String(error)}`, null));
  } finally {
    clearTimeout(timer);
  }
}

function configLine(config: Config): CheckResult {
  const database = config.databaseUrl ? 'PostgreSQL (DATABASE_URL)' : `embedded PGlite in ${config.dataDir}`;
  return result('config', 'ok', `NODE_ENV=${config.nodeEnv}, ${database}, model ${config.llm.provider}`);
}

/** Every check against the configuration in `env`; a configuration that does not load is the one failure reported. */
export async function runDoctor(env: Env, options: DoctorOptions): Promise<CheckResult[]> {
  let config: Config;
  try {
    config = loadConfig(env);
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    const fix = /JWT_SECRET/.test(error.message)
      ? 'set a random one in the environment or .env: JWT_SECRET=$(openssl rand -base64 48)'
      : 'correct that variable in the environment or .env (see README, Configuration)';
    return [result('config', 'fail', error.message, fix)];
  }
  const [database, model, redis, issuers] = await Promise.all([
    bounded(['database', 'migrations', 'row-security', 'admins', 'instances', 'transactions'], () => checkDatabase(config, options.databaseWaitMs ?? DATABASE_WAIT_MS)),
    bounded(['model'], async () => [await checkModel(config.llm)]),
    bounded(['redis'], async () => [await checkRedis(config.redisUrl)]),
    bounded(['issuers'], () => checkIssuers(config.externalIssuers)),
  ]);
  return [configLine(config), ...database, ...model, ...redis, ...issuers, checkJwtSecret(config), checkOpenFiles(options.streams, config.databaseUrl ? config.databasePoolMax : EMBEDDED_FILES_LATER), checkDisk(config)];
}

const LABELS: Record<CheckResult['status'], string> = { ok: 'ok', warn: 'warn', fail: 'FAIL', skip: 'skip' };

/** `ok    database        PostgreSQL 16.4 at …`; a failure or warning ends with `→ what to do`. */
export function formatResult(check: CheckResult): string {
  const fix = check.fix && (check.status === 'fail' || check.status === 'warn') ? ` → ${check.fix}` : '';
  return `${LABELS[check.status].padEnd(6)}${check.name.padEnd(15)} ${check.detail}${fix}`;
}

export const anyFailed = (checks: CheckResult[]): boolean => checks.some((check) => check.status === 'fail');
