/**
 * Phase 2 (PostgreSQL only): the ceiling the database puts on turns. bench/turn.sql holds the SQL
 * one chat turn runs (written with the turn itself); pgbench replays it with 32 clients on ids taken
 * from the conversations phase 1 created, and its tps is the most turns/s this database could serve.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';

const ROOT = new URL('..', import.meta.url).pathname;
const TURN_SQL = `${ROOT}bench/turn.sql`;
const PLACEHOLDER_MARK = '-- PLACEHOLDER';

export interface PgbenchResult {
  tps: number;
  /** turn.sql is the placeholder (no real turn SQL was written yet). */
  placeholder: boolean;
  failedTransactions: number;
}

function psql(databaseUrl: string, sql: string): string {
  const run = spawnSync('psql', [databaseUrl, '-v', 'ON_ERROR_STOP=1', '-qAt'], { input: sql, encoding: 'utf8' });
  if (run.status !== 0) throw new Error(`psql failed: ${run.stderr || run.stdout}`);
  return run.stdout.trim();
}

export function postgresVersion(databaseUrl: string): string {
  return psql(databaseUrl, 'show server_version;');
}

function ensureTurnSql(log: (line: string) => void): boolean {
  if (!existsSync(TURN_SQL)) {
    log('bench/turn.sql is missing: writing a placeholder (a trivial lookup), reported as such');
    writeFileSync(
      TURN_SQL,
      `${PLACEHOLDER_MARK}: the real SQL of one chat turn is to be written by whoever builds the turn.\n` +
        '-- Until then pgbench runs this trivial lookup, so its tps is NOT a ceiling for a turn.\n' +
        '\\set n random(1, 32)\n' +
        'SELECT conversation_id FROM bench_targets WHERE n = :n;\n',
    );
  }
  return readFileSync(TURN_SQL, 'utf8').includes(PLACEHOLDER_MARK);
}

export function runPgbench(databaseUrl: string, conversationIds: string[], seconds: number, log: (line: string) => void): PgbenchResult {
  log(`filling bench_targets with the ${conversationIds.length} conversations phase 1 measured`);
  const ids = conversationIds.map((id) => `'${id.replace(/'/g, '')}'::uuid`).join(',');
  psql(
    databaseUrl,
    `DROP TABLE IF EXISTS bench_targets;
     CREATE TABLE bench_targets (n int PRIMARY KEY, user_id uuid, conversation_id uuid, chatbot_id uuid);
     INSERT INTO bench_targets (n, user_id, conversation_id, chatbot_id)
       SELECT row_number() OVER (ORDER BY c.id), c.user_id, c.id, c.chatbot_id
       FROM conversations c WHERE c.id IN (${ids});`,
  );
  const rows = Number(psql(databaseUrl, 'SELECT count(*) FROM bench_targets;'));
  if (rows !== conversationIds.length) throw new Error(`bench_targets has ${rows} rows, expected ${conversationIds.length}`);

  const placeholder = ensureTurnSql(log);
  log(`pgbench -n -c 32 -j 2 -T ${seconds} -f bench/turn.sql${placeholder ? ' (placeholder SQL)' : ''}`);
  const run = spawnSync('pgbench', ['-n', '-c', '32', '-j', '2', '-T', String(seconds), '-f', TURN_SQL, databaseUrl], { encoding: 'utf8' });
  const output = `${run.stdout}\n${run.stderr}`;
  const tps = /tps = ([\d.]+)/.exec(output);
  if (run.status !== 0 || !tps) {
    const firstError = output.split('\n').find((line) => line.includes('ERROR')) ?? output.trim().split('\n')[0];
    throw new Error(`pgbench failed (exit ${run.status}): ${firstError?.trim()}\n${output.trim().split("\n").slice(-4).join("\n")}`);
  }
  const failed = /number of failed transactions: (\d+)/.exec(output);
  return { tps: Number(tps[1]), placeholder, failedTransactions: failed ? Number(failed[1]) : 0 };
}
