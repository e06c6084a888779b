/**
 * Phase 3's floor: the SQL of one non-streamed chat turn, exactly as Parley sends it (the begin and
 * finish statements of src/features/chat/turns.sql.ts, read from the source, not a copy), replayed
 * by pgbench on one connection as the request role (row security applies), prepared as Parley's
 * driver prepares them. Its latency is what the database itself costs a turn: one durable commit
 * and two round trips. Whatever Parley adds beyond it is Parley's.
 *
 * pgbench has no string or uuid variables, so the per-turn ids are made in SQL from random integers
 * and `now()` stands for the timestamps Parley passes; every other parameter is a pgbench variable
 * (sent as a parameter of the prepared statement). Turns rotate over CONVERSATIONS fresh
 * conversations, so history stays as short as in phase 3's own (a new conversation every 10 turns).
 */
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BEGIN, FINISH } from '../src/features/chat/turns.sql.js';

const CONVERSATIONS = 1000;

export const TURN_SQL_METHOD =
  'On PostgreSQL the turn\'s own SQL (its begin and finish statements, taken from the source) is then replayed by pgbench on one connection, prepared, as the request role, over fresh conversations; "beyond the turn\'s SQL" = added p50 − that SQL\'s p50 (from pgbench\'s transaction log).';
const MESSAGE = 'What are your opening hours on weekends, and can I book a table for four people?';

export interface TurnSqlResult {
  /** pgbench's average latency per turn (begin + finish), ms. */
  latencyMs: number;
  /** The median of pgbench's per-turn latencies (its transaction log), ms: set against Parley's p50. */
  p50Ms: number;
  turns: number;
  failed: number;
  script: string;
}

/** A uuid from an integer variable: `<prefix>` is 24 hex digits with dashes, the rest the integer. */
const uuidFrom = (variable: string) => `((:prefix || lpad(to_hex((:${variable})::bigint), 12, '0'))::uuid)`;

/** Replaces each `$n` of a statement with what pgbench sends for it. */
function bind(sql: string, values: Record<number, string>): string {
  return sql.replace(/\$(\d+)/g, (_, n: string) => {
    const value = values[Number(n)];
    if (value === undefined) throw new Error(`turn SQL parameter $${n} has no pgbench value`);
    return value;
  });
}

export function turnScript(): string {
  const begin = bind(BEGIN.account.message, {
    1: uuidFrom('c'),
    2: '(:uid)::uuid',
    3: uuidFrom('r'),
    4: ':lease',
    5: 'now()',
    6: ':title',
    7: uuidFrom('m'),
    8: ':content',
    9: ':tokens',
    10: ':history_tokens',
    11: 'NULL',
    12: ':knowledge_limit',
    13: '0',
    14: 'date_trunc(\'month\', now())::date',
    // The instance's id (any uuid does: pgbench's turns are not cut by anyone).
    15: '(:uid)::uuid',
    // The message's own context: none, as the bench's turns send.
    16: 'NULL',
  });
  const finish = bind(FINISH, {
    1: uuidFrom('r'),
    2: uuidFrom('c'),
    3: '(:uid)::uuid',
    4: ':reply',
    5: "'complete'",
    6: ':reply_tokens',
    7: ':model',
    8: ':prompt_tokens',
    9: ':reply_tokens',
    10: ':latency',
    11: 'NULL',
    12: 'now()',
    13: 'NULL',
    14: ':shard',
    15: '(:bid)::uuid',
  });
  // Each statement ends with ';' on its own line: pgbench sends one statement per ';'.
  return [
    `\\set c random(1, ${CONVERSATIONS})`,
    '\\set r random(1, 281474976710655)',
    '\\set m random(1, 281474976710655)',
    '\\set shard random(0, 7)',
    `${begin.trim()};`,
    `${finish.trim()};`,
    '',
  ].join('\n');
}

function psql(databaseUrl: string, sql: string): string {
  const run = spawnSync('psql', [databaseUrl, '-v', 'ON_ERROR_STOP=1', '-qAt'], { input: sql, encoding: 'utf8' });
  if (run.status !== 0) throw new Error(`psql failed: ${run.stderr || run.stdout}`);
  return run.stdout.trim();
}

/** The median turn in pgbench's transaction logs (`-l`: each line's third field is the turn's time in µs). */
function loggedMedianMs(logDir: string): number {
  const micros = readdirSync(logDir)
    .flatMap((file) => readFileSync(join(logDir, file), 'utf8').split('\n'))
    .map((line) => Number(line.split(' ')[2]))
    .filter((value) => Number.isFinite(value) && value > 0)
    .sort((a, b) => a - b);
  if (micros.length === 0) throw new Error('pgbench wrote no transaction log');
  return micros[Math.floor(micros.length / 2)]! / 1000;
}

/**
 * Makes CONVERSATIONS conversations for `userId`'s chatbot with ids pgbench can name, runs the turn
 * script on one connection for `seconds`, and removes them again.
 */
export function runTurnSql(databaseUrl: string, who: { userId: string; chatbotId: string }, seconds: number, log: (line: string) => void): TurnSqlResult {
  const hex = randomBytes(10).toString('hex');
  const prefix = `${hex.slice(0, 8)}-${hex.slice(8, 12)}-7${hex.slice(12, 15)}-8${hex.slice(15, 18)}-`;
  const ids = `(${JSON.stringify(prefix).replace(/"/g, "'")} || lpad(to_hex(k), 12, '0'))::uuid`;
  log(`making ${CONVERSATIONS} conversations for the turn SQL to rotate over`);
  psql(
    databaseUrl,
    `INSERT INTO conversations (id, user_id, chatbot_id) SELECT ${ids}, '${who.userId}'::uuid, '${who.chatbotId}'::uuid FROM generate_series(1, ${CONVERSATIONS}) AS k;`,
  );
  const script = join(tmpdir(), `parley-turn-${process.pid}.sql`);
  writeFileSync(script, turnScript());
  const variables: Record<string, string> = {
    prefix,
    uid: who.userId,
    bid: who.chatbotId,
    lease: '120000',
    title: MESSAGE.slice(0, 60),
    content: MESSAGE,
    tokens: '19',
    history_tokens: '7978',
    knowledge_limit: '8',
    reply: `You said: ${MESSAGE}`,
    reply_tokens: '22',
    model: 'fake-model',
    prompt_tokens: '60',
    latency: '1',
  };
  const logDir = mkdtempSync(join(tmpdir(), 'parley-turn-log-'));
  const args = ['-n', '-M', 'prepared', '-c', '1', '-j', '1', '-T', String(seconds), '-l', `--log-prefix=${join(logDir, 'turn')}`, '-f', script, ...Object.entries(variables).flatMap(([k, v]) => ['-D', `${k}=${v}`]), databaseUrl];
  log(`pgbench -n -M prepared -c 1 -T ${seconds} on the turn's begin and finish statements, as the request role`);
  try {
    // As the request role, so row security's policies are part of what is measured.
    const run = spawnSync('pgbench', args, { encoding: 'utf8', env: { ...process.env, PGOPTIONS: '-c role=parley_app' } });
    const output = `${run.stdout}\n${run.stderr}`;
    const latency = /latency average = ([\d.]+) ms/.exec(output);
    const turns = /number of transactions actually processed: (\d+)/.exec(output);
    if (run.status !== 0 || !latency || !turns) {
      const firstError = output.split('\n').find((line) => line.includes('ERROR')) ?? output.trim().split('\n')[0];
      throw new Error(`pgbench failed (exit ${run.status}): ${firstError?.trim()}`);
    }
    const failed = /number of failed transactions: (\d+)/.exec(output);
    return { latencyMs: Number(latency[1]), p50Ms: loggedMedianMs(logDir), turns: Number(turns[1]), failed: failed ? Number(failed[1]) : 0, script };
  } finally {
    rmSync(logDir, { recursive: true, force: true });
    psql(databaseUrl, `DELETE FROM conversations WHERE user_id = '${who.userId}'::uuid AND id::text LIKE '${prefix}%';`);
  }
}
