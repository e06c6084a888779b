/**
 * `npm run bench -- soak [seconds]`: mixed traffic for SOAK_SECONDS (default 600) against a real
 * Parley process whose PostgreSQL connections pass through a TCP proxy that cuts them all every
 * SOAK_RESET_SECONDS (default 20). Then the load stops, the server is left alone for
 * SOAK_COOLDOWN_SECONDS (default 60), and the run is judged:
 *   - the server process never exited;
 *   - `/health` p99 over the load stayed under 200 ms;
 *   - RSS after the cool-down is within 1.5× of RSS at the start (server up, accounts created);
 *   - no conversation is still busy (holds a reply's lock) once every turn ended;
 *   - every stored reply is complete, interrupted or failed;
 *   - no answer was a 5xx other than 503, no request went unanswered.
 * Each criterion is printed with its figure and PASS/FAIL (exit status 1 on any FAIL) and the
 * "Soak" section of docs/benchmarks.md is rewritten; the rest of that file is kept.
 * A fresh database is created for the run on the PostgreSQL of DATABASE_URL (default
 * postgres://postgres@127.0.0.1:5432/postgres) and dropped afterwards (SOAK_KEEP_DATABASE=1 keeps it).
 */
import { spawnSync } from 'node:child_process';
import { createInterface } from 'node:readline';
import { startTcpProxy, type TcpProxy } from '../test/helpers/tcp-proxy.js';
import { postgresVersion } from './pgbench.js';
import { forceGc, rssBytes, sleep, startFakeLlmProcess, startParley, type Child } from './processes.js';
import { describeMachine, machineBusy, writeSoakSection } from './report.js';
import { Tally } from './soak-client.js';
import { lease, renderSoak, type Criterion, type SoakResult } from './soak-report.js';
import { createAccounts, startTraffic, warmUp, type Accounts, type TrafficPlan, type UnreadCounts } from './soak-traffic.js';
import { createDatabase, dropDatabase, readFindings, startHealthProbe, watchRss, withDatabase } from './soak-watch.js';

const ROOT = new URL('..', import.meta.url).pathname;
const REPORT = `${ROOT}docs/benchmarks.md`;
const LONG_PROMPT = 'Tell me everything you know, at length.';
/** On Linux loopback the kernel takes ~4 MB of a socket nobody reads before the server sees any backpressure. */
const LONG_REPLY_BYTES = 8_000_000;
const PLAN: TrafficPlan = { turnLoops: 3, streamLoops: 2, turnPauseMs: 200, loginPauseMs: 1000, uploadPauseMs: 3000, unreadPauseMs: 20_000 };
const MiB = 2 ** 20;

function envSeconds(name: string, fallback: number, raw = process.env[name]): number {
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value <= 0) throw new Error(`${name} must be a positive number of seconds (got ${JSON.stringify(raw)})`);
  return value;
}

export interface SoakSettings {
  seconds: number;
  cooldownSeconds: number;
  resetSeconds: number;
  adminUrl: string;
  keepDatabase: boolean;
}

function readSettings(args: string[]): SoakSettings {
  return {
    seconds: envSeconds('SOAK_SECONDS', 600, args[0] ?? process.env.SOAK_SECONDS),
    cooldownSeconds: envSeconds('SOAK_COOLDOWN_SECONDS', 60),
    resetSeconds: envSeconds('SOAK_RESET_SECONDS', 20),
    adminUrl: process.env.DATABASE_URL || 'postgres://postgres@127.0.0.1:5432/postgres',
    keepDatabase: process.env.SOAK_KEEP_DATABASE === '1',
  };
}

const startedAt = Date.now();
const say = (line: string) => console.log(`[${((Date.now() - startedAt) / 1000).toFixed(0).padStart(4)} s] soak: ${line}`);
const mib = (bytes: number) => `${(bytes / MiB).toFixed(1)} MiB`;

function build(): string | null {
  say('building Parley (npm run build)');
  const run = spawnSync('npm', ['run', 'build'], { cwd: ROOT, encoding: 'utf8' });
  if (run.status === 0) return null;
  const first = `${run.stdout}`.split('\n').find((line) => line.includes('error TS')) ?? run.stderr.trim();
  say(`warning: npm run build failed (${first}); running what tsc emitted`);
  return `\`npm run build\` reported errors (${first}); the run used what tsc emitted anyway.`;
}

/** Counts the server's error-level log lines (JSON, pino levels: 50 error, 60 fatal) and keeps the first few. */
function watchErrorLogs(server: Child): { count(): number; samples: string[] } {
  let count = 0;
  const samples: string[] = [];
  createInterface({ input: server.process.stdout! }).on('line', (line) => {
    try {
      const entry = JSON.parse(line) as { level?: number; msg?: string; err?: { message?: string; code?: string } };
      if ((entry.level ?? 0) < 50) return;
      count++;
      if (samples.length < 10) samples.push(`${entry.msg ?? ''}${entry.err ? `: ${entry.err.code ?? ''} ${entry.err.message ?? ''}` : ''}`.slice(0, 300));
    } catch {
      // not a log line
    }
  });
  return { count: () => count, samples };
}

/** The servers and the proxy of one soak, stopped together whatever happens. */
interface Rig {
  proxy: TcpProxy;
  fake: Child;
  parley: Child;
  /** Set when the server exited: when (s since the load began) and how. */
  exit: { at: number; how: string } | null;
}

async function startRig(databaseUrl: string, loadStart: () => number): Promise<Rig> {
  const target = new URL(databaseUrl);
  const proxy = await startTcpProxy({ targetHost: target.hostname, targetPort: Number(target.port || 5432) });
  const fake = await startFakeLlmProcess({ chunkDelayMs: 10 }, { prompt: LONG_PROMPT, bytes: LONG_REPLY_BYTES });
  const parley = await startParley('parley-soak', { llmUrl: fake.url, databaseUrl: proxy.url(databaseUrl), inspect: true });
  const rig: Rig = { proxy, fake, parley, exit: null };
  parley.process.once('exit', (code, signal) => {
    rig.exit ??= { at: (Date.now() - loadStart()) / 1000, how: String(signal ?? code) };
  });
  return rig;
}

function progress(elapsed: number, seconds: number, tally: Tally, health: { p99(): number; count(): number }, rss: { latest(): number; peak(): number }, rig: Rig, resets: number): void {
  const total = tally.count(null, null);
  say(
    `${elapsed}/${seconds} s: ${total} requests (2xx ${tally.count(null, '2xx')}, 503 ${tally.count(null, '503')}, 429 ${tally.count(null, '429')}, unexpected ${tally.unexpected()}), ` +
      `/health p99 ${health.p99().toFixed(1)} ms over ${health.count()}, RSS ${mib(rss.latest())} (peak ${mib(rss.peak())}), ${resets} resets, ${rig.proxy.connections()} database connections`,
  );
}

/** Runs the load for `seconds`: the proxy cuts every database connection each `resetSeconds`; a line every 30 s. */
async function runLoad(settings: SoakSettings, rig: Rig, run: () => { stop(): Promise<void> }, watch: { tally: Tally; health: ReturnType<typeof startHealthProbe>; rss: ReturnType<typeof watchRss> }): Promise<{ resets: number; seconds: number }> {
  let resets = 0;
  const resetTimer = setInterval(() => {
    rig.proxy.resetAll();
    resets++;
  }, settings.resetSeconds * 1000);
  const traffic = run();
  const began = Date.now();
  for (let next = 30; ; next += 30) {
    const until = Math.min(next, settings.seconds);
    await sleep(began + until * 1000 - Date.now());
    progress(until, settings.seconds, watch.tally, watch.health, watch.rss, rig, resets);
    if (until >= settings.seconds || rig.exit) break;
  }
  clearInterval(resetTimer);
  const seconds = Math.round((Date.now() - began) / 1000);
  say('load over: waiting for the last requests');
  await traffic.stop();
  return { resets, seconds };
}

function judge(result: Omit<SoakResult, 'criteria'>): Criterion[] {
  const { health, rss, findings } = result;
  const ratio = rss.after / rss.start;
  const statuses = findings ? Object.entries(findings.replies) : [];
  const odd = statuses.filter(([status]) => !['complete', 'interrupted', 'failed'].includes(status));
  return [
    { name: 'The server process never exited', measured: result.exit ? `exited (${result.exit.how}) ${result.exit.at.toFixed(0)} s into the load` : `alive after ${result.loadSeconds} s of load and the cool-down`, target: 'no exit', pass: !result.exit },
    { name: '`/health` p99 during the load', measured: `${health.p99.toFixed(1)} ms (${health.count} probes, max ${health.max.toFixed(0)} ms, ${health.failures} without a 200)`, target: '< 200 ms', pass: health.p99 < 200 },
    { name: 'RSS after the cool-down ÷ RSS at the start', measured: `${ratio.toFixed(2)}× (${mib(rss.after)} ÷ ${mib(rss.start)}; peak ${mib(rss.peak)})`, target: '≤ 1.5×', pass: ratio <= 1.5 },
    {
      name: 'Conversations still busy after their turn ended (reply lock still set after the load)',
      measured: findings ? `${findings.busy.length}${findings.busy.length ? ` (${findings.busy.map(lease).join(', ')}); 409 answers during the load: ${result.tally.count(null, '409')}` : ''}` : 'not read',
      target: '0',
      pass: findings?.busy.length === 0,
    },
    { name: 'Stored replies neither complete, interrupted nor failed', measured: findings ? `${odd.reduce((n, [, c]) => n + c, 0)} (${statuses.map(([s, c]) => `${c} ${s}`).join(', ')})` : 'not read', target: '0', pass: findings !== null && odd.length === 0 },
    { name: 'Answers that were a 5xx other than 503, a cut stream, a cut connection or no answer', measured: String(result.tally.unexpected()), target: '0', pass: result.tally.unexpected() === 0 },
  ];
}

async function settle(rig: Rig, health: ReturnType<typeof startHealthProbe>, settings: SoakSettings): Promise<{ after: number; afterGc: number; cooldownP99: number }> {
  health.mark();
  say(`cool-down: ${settings.cooldownSeconds} s without load`);
  await sleep(settings.cooldownSeconds * 1000);
  const cooldownP99 = health.p99();
  const alive = !rig.exit;
  const after = alive ? rssBytes(rig.parley.pid) : NaN;
  const afterGc = alive && (await forceGc(rig.parley)) ? (await sleep(1000), rssBytes(rig.parley.pid)) : NaN;
  return { after, afterGc, cooldownP99 };
}

/** Accounts, one request of each kind, and the RSS just after start and at the start of the load. */
async function prepare(rig: Rig, runId: string): Promise<{ accounts: Accounts; rssBare: number; rssStart: number }> {
  const rssBare = rssBytes(rig.parley.pid);
  const accounts = await createAccounts(rig.parley.url, runId, PLAN);
  await warmUp(rig.parley.url, accounts);
  await sleep(3000);
  const rssStart = rssBytes(rig.parley.pid);
  say(`accounts ready, one request of each kind answered; RSS ${mib(rssBare)} just started, ${mib(rssStart)} at the start of the load`);
  return { accounts, rssBare, rssStart };
}

/** Prepares, runs the load and the cool-down, reads the database: every figure the report needs. */
async function soak(rig: Rig, settings: SoakSettings, runId: string, began: (at: number) => void): Promise<Omit<SoakResult, 'criteria' | 'machine' | 'problems'>> {
  const errors = watchErrorLogs(rig.parley);
  const tally = new Tally();
  const { accounts, rssBare, rssStart } = await prepare(rig, runId);
  const health = startHealthProbe(rig.parley.url, () => (['upload', 'unread'] as const).filter((kind) => tally.inFlight(kind)));
  const rss = watchRss(rig.parley.pid);
  let unread: UnreadCounts = { opened: 0, dropped: 0, dropSeconds: [], cutByEnd: 0, other: [] };
  began(Date.now());
  const { resets, seconds: loadSeconds } = await runLoad(settings, rig, () => {
    const traffic = startTraffic({ url: rig.parley.url, runId, longPrompt: LONG_PROMPT, tally }, PLAN, accounts);
    unread = traffic.unread;
    return traffic;
  }, { tally, health, rss });
  const healthLoad = { p99: health.p99(), max: health.max(), count: health.count(), failures: health.failures(), slow: health.slow(200) };
  rss.stop();
  const settled = await settle(rig, health, settings);
  await health.stop();
  const findings = await readFindings(withDatabase(settings.adminUrl, `parley_soak_${runId}`)).catch((error: Error) => {
    say(`could not read the database after the load: ${error.message}`);
    return null;
  });
  return {
    settings,
    plan: PLAN,
    runId,
    startedAt: new Date(startedAt),
    loadSeconds,
    exit: rig.exit,
    health: { ...healthLoad, cooldownP99: settled.cooldownP99 },
    rss: { bare: rssBare, start: rssStart, peak: Math.max(rss.peak(), rssStart), after: settled.after, afterGc: settled.afterGc },
    resets,
    proxyAttempts: rig.proxy.attempts(),
    tally,
    unread,
    findings,
    errorLogs: { count: errors.count(), samples: errors.samples },
    longReplyBytes: LONG_REPLY_BYTES,
  };
}

export async function runSoak(args: string[]): Promise<number> {
  const settings = readSettings(args);
  const runId = `k${Date.now().toString(36).slice(-7)}`;
  const problems = [build()].filter((p): p is string => p !== null);
  const busy = await machineBusy();
  const dbName = `parley_soak_${runId}`;
  say(`fresh database ${dbName}; machine CPU busy with other work: ${Math.round(busy * 100)}%`);
  await createDatabase(settings.adminUrl, dbName);
  let loadBegan = Date.now();
  let rig: Rig | undefined;
  try {
    rig = await startRig(withDatabase(settings.adminUrl, dbName), () => loadBegan);
    say(`Parley ${rig.parley.url} (pid ${rig.parley.pid}) on PostgreSQL through the proxy on port ${rig.proxy.port}; fake LLM ${rig.fake.url}`);
    const figures = await soak(rig, settings, runId, (at) => (loadBegan = at));
    const machine = describeMachine(`PostgreSQL ${postgresVersion(settings.adminUrl)} (same machine), through a TCP proxy`, busy);
    const partial = { ...figures, machine, problems };
    const result: SoakResult = { ...partial, criteria: judge(partial) };
    for (const c of result.criteria) console.log(`${c.pass ? 'PASS' : 'FAIL'}  ${c.name}: ${c.measured} (target ${c.target})`);
    writeSoakSection(REPORT, renderSoak(result, (Date.now() - startedAt) / 1000));
    say(`wrote the Soak section of ${REPORT}`);
    return result.criteria.every((c) => c.pass) ? 0 : 1;
  } finally {
    if (rig) await Promise.all([rig.parley.stop(), rig.fake.stop(), rig.proxy.close()]);
    if (!settings.keepDatabase) await dropDatabase(settings.adminUrl, dbName).catch((error: Error) => say(`could not drop ${dbName}: ${error.message}`));
  }
}
