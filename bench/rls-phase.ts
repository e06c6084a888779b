/**
 * Phase 7: what Row Level Security costs a chat turn. Parley runs as usual (every tenant table's
 * policies enforced); for the "off" rounds the tables' owner turns row security off on them
 * (`ALTER TABLE … DISABLE ROW LEVEL SECURITY`), so the same server, code and SQL run without the
 * policies. Rounds alternate on and off to spread drift over both; each is phase 1's load.
 * PostgreSQL: toggled live on the running server's database. PGlite: the database lives inside the
 * Parley process, so Parley is stopped, the folder toggled from here, and Parley started again.
 */
import { spawnSync } from 'node:child_process';
import { PGlite } from '@electric-sql/pglite';
import { beforeFor } from './before.js';
import { ChatApi } from './client.js';
import { throughput, type ThroughputResult } from './load.js';
import { startParley, tempDir, type Child } from './processes.js';
import { atLeast, num, ratio, withUnit, type Section } from './report.js';

const TABLES = ['users', 'sessions', 'refresh_tokens', 'chatbots', 'knowledge_documents', 'knowledge_chunks', 'conversations', 'messages', 'idempotency_keys', 'profiles', 'visitors', 'usage_daily'];
const toggleSql = (on: boolean) => TABLES.map((table) => `ALTER TABLE ${table} ${on ? 'ENABLE' : 'DISABLE'} ROW LEVEL SECURITY;`).join('\n');
const dash = '—';
// Alternating, so drift (a growing database, a warming machine) falls on both sides alike.
const ROUNDS = [true, false, true, false, true, false];

export interface RlsPhaseOptions {
  runId: string;
  seconds: number;
  llmUrl: string;
  databaseUrl?: string;
  /** PostgreSQL mode: the Parley already serving on databaseUrl. */
  parley?: Child;
}

async function togglePglite(dataDir: string, on: boolean): Promise<void> {
  const db = new PGlite(`${dataDir}/pglite`);
  try {
    await db.exec(toggleSql(on));
  } finally {
    await db.close();
  }
}

function togglePostgres(databaseUrl: string, on: boolean): void {
  const run = spawnSync('psql', [databaseUrl, '-v', 'ON_ERROR_STOP=1', '-qAt'], { input: toggleSql(on), encoding: 'utf8' });
  if (run.status !== 0) throw new Error(`psql failed: ${run.stderr || run.stdout}`);
}

export async function rlsPhase(section: Section, say: (line: string) => void, options: RlsPhaseOptions): Promise<void> {
  const rounds: Array<{ on: boolean; result: ThroughputResult }> = [];
  const dataDir = options.databaseUrl ? undefined : tempDir('rls');
  let server = options.databaseUrl ? options.parley : undefined;
  try {
    for (const [index, on] of ROUNDS.entries()) {
      const label = `round ${index + 1}, row security ${on ? 'on' : 'off'}`;
      if (options.databaseUrl) {
        togglePostgres(options.databaseUrl, on);
      } else {
        await server?.stop();
        // The first start creates and migrates the folder; it is toggled between starts.
        if (index > 0) await togglePglite(dataDir!, on);
        server = await startParley('parley-rls', { llmUrl: options.llmUrl, dataDir });
      }
      say(label);
      const api = new ChatApi(server!.url, true);
      const result = await throughput(api, server!.pid, { runId: `${options.runId}r${index}`, connections: 32, seconds: options.seconds, warmupSeconds: 3 }, say);
      say(`${label}: ${num(result.turnsPerSecond)} turns/s, p50 ${num(result.p50, 2)} ms, ${num(result.cpuMsPerTurn, 3)} ms CPU/turn, ${result.non2xx + result.errors} failed`);
      rounds.push({ on, result });
    }
  } finally {
    // Never leave a database with row security off.
    if (options.databaseUrl) togglePostgres(options.databaseUrl, true);
    if (!options.databaseUrl) await server?.stop();
  }
  const mean = (on: boolean, f: (r: ThroughputResult) => number) => {
    const picked = rounds.filter((r) => r.on === on).map((r) => f(r.result));
    return picked.reduce((sum, v) => sum + v, 0) / picked.length;
  };
  const tps = (on: boolean) => mean(on, (r) => r.turnsPerSecond);
  section.rows.push(
    { measure: `Turns per second (mean of ${ROUNDS.length / 2} rounds; on ÷ off before: ${beforeFor(options.databaseUrl).rlsRatio})`, parley: num(tps(true)), baseline: num(tps(false)), ratio: ratio(tps(true), tps(false)), target: 'ratio ≥ 0.9', verdict: atLeast(tps(true) / tps(false), 0.9, '×') },
    { measure: 'Turn latency p50', parley: withUnit(mean(true, (r) => r.p50), 'ms', 2), baseline: withUnit(mean(false, (r) => r.p50), 'ms', 2), ratio: ratio(mean(true, (r) => r.p50), mean(false, (r) => r.p50)), target: dash, verdict: dash },
    { measure: 'Server CPU per turn', parley: withUnit(mean(true, (r) => r.cpuMsPerTurn), 'ms', 3), baseline: withUnit(mean(false, (r) => r.cpuMsPerTurn), 'ms', 3), ratio: ratio(mean(true, (r) => r.cpuMsPerTurn), mean(false, (r) => r.cpuMsPerTurn)), target: dash, verdict: dash },
    {
      measure: 'Errors + non-2xx + timeouts',
      parley: String(rounds.filter((r) => r.on).reduce((n, r) => n + r.result.errors + r.result.non2xx + r.result.timeouts, 0)),
      baseline: String(rounds.filter((r) => !r.on).reduce((n, r) => n + r.result.errors + r.result.non2xx + r.result.timeouts, 0)),
      ratio: dash,
      target: '0',
      verdict: dash,
    },
  );
  section.notes.push(`Rounds in order: ${rounds.map((r, i) => `${i + 1}. ${r.on ? 'on' : 'off'} ${num(r.result.turnsPerSecond)} turns/s`).join('; ')}.`);
}
