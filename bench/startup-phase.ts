/**
 * Phase 13: how fast Parley starts and how much memory it holds, idle and after mixed load.
 * Start-up = spawn of `bin/parley.js serve` with its #! line's environment and flags → first 200 from /health (polled every 10 ms),
 * against a bare node:http process started and polled the same way. Idle RSS is read 5 s after
 * that first 200, without asking for a garbage collection: what an operator's `ps` shows.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { rmSync } from 'node:fs';
import { beforeFor } from './before.js';
import { benchParleyEnv, freePort, PARLEY_SERVE, PARLEY_SERVE_ENV, rssBytes, sleep, startFakeLlmProcess, tempDir } from './processes.js';
import { atMost, ratio, withUnit, type Row, type Section } from './report.js';
import { Tally } from './soak-client.js';
import { createAccounts, startTraffic, warmUp, type TrafficPlan } from './soak-traffic.js';
import { createDatabase, dropDatabase, withDatabase } from './soak-watch.js';

const ROOT = new URL('..', import.meta.url).pathname;
const MiB = 2 ** 20;
const IDLE_WAIT_MS = 5000;
const LONG_PROMPT = 'Tell me everything you know, at length.';
const STARTS = 3;
/** How long the server is left without requests after the load before its RSS is held to the target. */
const QUIET_MS = 60_000;
const dash = '—';
const LOAD_PLAN: TrafficPlan = { turnLoops: 3, streamLoops: 2, turnPauseMs: 200, loginPauseMs: 1000, uploadPauseMs: 3000, unreadPauseMs: 20_000 };


export const STARTUP_METHOD = `Start-up is the time from spawning the process to its first 200 from \`GET /health\` (asked every 10 ms), median of ${STARTS} starts each: "fresh" on a new empty \`DATA_DIR\` (PGlite) or a new empty database (PostgreSQL, migrations included), "restart" on the folder or database the fresh start left. Idle RSS is read ${IDLE_WAIT_MS / 1000} s after the first 200, without forcing a garbage collection. The baseline is a bare \`node:http\` process started and polled the same way. "After load" runs the soak's mixed traffic (chat turns whole and streamed, sign-ins, ~1 MB Chinese uploads, a never-read stream) for BENCH_LOAD_SECONDS and reads RSS as the load ends, after 10 s of quiet and after ${QUIET_MS / 1000} s of quiet; the target (≤ 1.5× idle) is held to the last, which leaves V8 time to give back its young generation and shrink its old one (its memory reducer starts after some seconds of low allocation) and the chunking worker time to end. The "before" figures in the measures' names are the issue's, measured on main before this work (PostgreSQL start-up measured at the start of the work).`;

interface Started {
  process: ChildProcess;
  ms: number;
  url: string;
}

async function spawnUntilHealthy(args: string[], env: NodeJS.ProcessEnv, port: number): Promise<Started> {
  const url = `http://127.0.0.1:${port}`;
  const begun = performance.now();
  const inherited = { ...process.env };
  // Each start names its own database, or none for the embedded one.
  delete inherited.DATABASE_URL;
  delete inherited.DATA_DIR;
  const child = spawn(process.execPath, args, { cwd: ROOT, env: { ...inherited, ...env, PORT: String(port) }, stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr!.on('data', (chunk: Buffer) => (stderr = (stderr + chunk.toString()).slice(-4000)));
  for (;;) {
    if (child.exitCode !== null) throw new Error(`exited with ${child.exitCode} before answering /health: ${stderr}`);
    try {
      const answer = await fetch(`${url}/health`);
      if (answer.status === 200) return { process: child, ms: performance.now() - begun, url };
    } catch {
      // not listening yet
    }
    if (performance.now() - begun > 60_000) throw new Error(`no 200 from /health within 60 s: ${stderr}`);
    await sleep(10);
  }
}

async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGTERM');
  await exited;
}

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;

function parleyEnv(llmUrl: string, database: { url?: string; dir?: string }): NodeJS.ProcessEnv {
  // The mixed load uploads every few seconds: its limit is raised too.
  return { ...benchParleyEnv(llmUrl), RATE_LIMIT_KNOWLEDGE_USER: '1000000/1m', ...(database.url ? { DATABASE_URL: database.url } : { DATA_DIR: database.dir }) };
}

const BASELINE_SCRIPT = "require('node:http').createServer((q, s) => s.end('ok')).listen(Number(process.env.PORT), '127.0.0.1')";

interface StartFigures {
  freshMs: number;
  restartMs: number;
  idleFreshMiB: number;
  idleRestartMiB: number;
}

/** Fresh and restart starts of Parley on new databases, `STARTS` of each. */
async function measureStarts(llmUrl: string, databaseUrl: string | undefined, runId: string, say: (line: string) => void): Promise<StartFigures> {
  const fresh: number[] = [];
  const restart: number[] = [];
  const idleFresh: number[] = [];
  const idleRestart: number[] = [];
  for (let i = 0; i < STARTS; i++) {
    const name = `${runId}_start_${i}`;
    const dir = databaseUrl ? undefined : tempDir('startup');
    if (databaseUrl) await createDatabase(databaseUrl, name);
    const env = parleyEnv(llmUrl, databaseUrl ? { url: withDatabase(databaseUrl, name) } : { dir });
    try {
      for (const [times, idles] of [[fresh, idleFresh], [restart, idleRestart]] as const) {
        const started = await spawnUntilHealthy(PARLEY_SERVE, { ...PARLEY_SERVE_ENV, ...env }, await freePort());
        await sleep(IDLE_WAIT_MS);
        times.push(started.ms);
        idles.push(rssBytes(started.process.pid!) / MiB);
        await stop(started.process);
      }
      say(`start ${i + 1}/${STARTS}: fresh ${fresh.at(-1)!.toFixed(0)} ms (idle ${idleFresh.at(-1)!.toFixed(0)} MiB), restart ${restart.at(-1)!.toFixed(0)} ms (idle ${idleRestart.at(-1)!.toFixed(0)} MiB)`);
    } finally {
      if (databaseUrl) await dropDatabase(databaseUrl, name);
      else rmSync(dir!, { recursive: true, force: true });
    }
  }
  return { freshMs: median(fresh), restartMs: median(restart), idleFreshMiB: median(idleFresh), idleRestartMiB: median(idleRestart) };
}

async function measureBaseline(): Promise<{ ms: number; idleMiB: number }> {
  const times: number[] = [];
  const idles: number[] = [];
  for (let i = 0; i < STARTS; i++) {
    const started = await spawnUntilHealthy(['-e', BASELINE_SCRIPT], {}, await freePort());
    await sleep(IDLE_WAIT_MS);
    times.push(started.ms);
    idles.push(rssBytes(started.process.pid!) / MiB);
    await stop(started.process);
  }
  return { ms: median(times), idleMiB: median(idles) };
}

/** Idle RSS of a fresh server, then RSS after `seconds` of the soak's mixed traffic and 10 s of quiet. */
async function measureLoad(llmUrl: string, databaseUrl: string | undefined, runId: string, seconds: number, say: (line: string) => void) {
  const name = `${runId}_load`;
  const dir = databaseUrl ? undefined : tempDir('load');
  if (databaseUrl) await createDatabase(databaseUrl, name);
  const env = parleyEnv(llmUrl, databaseUrl ? { url: withDatabase(databaseUrl, name) } : { dir });
  const started = await spawnUntilHealthy(PARLEY_SERVE, { ...PARLEY_SERVE_ENV, ...env }, await freePort());
  try {
    await sleep(IDLE_WAIT_MS);
    const idleMiB = rssBytes(started.process.pid!) / MiB;
    const accounts = await createAccounts(started.url, runId, LOAD_PLAN);
    await warmUp(started.url, accounts);
    const tally = new Tally();
    say(`mixed load for ${seconds} s (idle RSS ${idleMiB.toFixed(0)} MiB)`);
    const traffic = startTraffic({ url: started.url, runId, longPrompt: LONG_PROMPT, tally }, LOAD_PLAN, accounts);
    let peakMiB = idleMiB;
    for (let elapsed = 0; elapsed < seconds; elapsed += 10) {
      await sleep(Math.min(10, seconds - elapsed) * 1000);
      peakMiB = Math.max(peakMiB, rssBytes(started.process.pid!) / MiB);
      if (elapsed % 60 === 50) say(`  ${elapsed + 10} s: RSS ${(rssBytes(started.process.pid!) / MiB).toFixed(0)} MiB`);
    }
    const endMiB = rssBytes(started.process.pid!) / MiB;
    await traffic.stop();
    await sleep(10_000);
    const quiet10MiB = rssBytes(started.process.pid!) / MiB;
    await sleep(QUIET_MS - 10_000);
    const afterMiB = rssBytes(started.process.pid!) / MiB;
    return { idleMiB, peakMiB, endMiB, quiet10MiB, afterMiB, requests: tally };
  } finally {
    await stop(started.process);
    if (databaseUrl) await dropDatabase(databaseUrl, name);
    else rmSync(dir!, { recursive: true, force: true });
  }
}

/** A figure held to an upper limit, in ms or MiB. */
const limitRow = (unit: 'ms' | 'MiB') => (measure: string, parley: number, baseline: number, target: number): Row => ({
  measure,
  parley: withUnit(parley, unit, 0),
  baseline: withUnit(baseline, unit, 0),
  ratio: ratio(parley, baseline),
  target: `≤ ${target} ${unit}`,
  verdict: atMost(parley, target, unit, 0),
});
const msRow = limitRow('ms');
const mibRow = limitRow('MiB');

export async function startupPhase(section: Section, say: (line: string) => void, options: { databaseUrl?: string; runId: string; loadSeconds: number }): Promise<void> {
  const { databaseUrl, runId } = options;
  const before = beforeFor(databaseUrl);
  // The soak's never-read stream asks for a long reply.
  const fake = await startFakeLlmProcess({}, { prompt: LONG_PROMPT, bytes: 8_000_000 });
  try {
    say('bare node:http process: start-up and idle RSS');
    const baseline = await measureBaseline();
    say(`baseline: ${baseline.ms.toFixed(0)} ms, ${baseline.idleMiB.toFixed(0)} MiB`);
    const starts = await measureStarts(fake.url, databaseUrl, runId, say);
    const idleTarget = databaseUrl ? 100 : 150;
    section.rows.push(
      msRow(`Fresh start to /health 200 (before: ${before.fresh})`, starts.freshMs, baseline.ms, databaseUrl ? 1000 : 1500),
      msRow(`Restart to /health 200 (before: ${before.restart})`, starts.restartMs, baseline.ms, 1000),
      mibRow(`Idle RSS after a fresh start (before: ${before.idleFresh})`, starts.idleFreshMiB, baseline.idleMiB, idleTarget),
      mibRow(`Idle RSS after a restart (before: ${before.idleRestart})`, starts.idleRestartMiB, baseline.idleMiB, idleTarget),
    );
    if (options.loadSeconds > 0) {
      const load = await measureLoad(fake.url, databaseUrl, runId, options.loadSeconds, say);
      const limit = Math.round(load.idleMiB * 1.5);
      section.rows.push({
        measure: `RSS at the end of ${options.loadSeconds} s of mixed load, then after 10 s quiet (idle ${load.idleMiB.toFixed(0)} MiB)`,
        parley: `${load.endMiB.toFixed(0)} → ${load.quiet10MiB.toFixed(0)} MiB`,
        baseline: withUnit(load.idleMiB, 'MiB', 0),
        ratio: `${ratio(load.endMiB, load.idleMiB)} → ${ratio(load.quiet10MiB, load.idleMiB)}`,
        target: dash,
        verdict: dash,
      });
      section.rows.push({
        measure: `RSS after ${options.loadSeconds} s of mixed load and ${QUIET_MS / 1000} s quiet, vs idle ${load.idleMiB.toFixed(0)} MiB`,
        parley: withUnit(load.afterMiB, 'MiB', 0),
        baseline: withUnit(load.idleMiB, 'MiB', 0),
        ratio: ratio(load.afterMiB, load.idleMiB),
        target: '≤ 1.5× idle',
        verdict: atMost(load.afterMiB, limit, 'MiB', 0),
      });
      section.notes.push(`Mixed load: peak RSS ${load.peakMiB.toFixed(0)} MiB; ${load.requests.count(null, null)} requests answered, ${load.requests.count(null, '2xx')} of them 2xx, ${load.requests.unexpected()} unexpected (5xx other than 503, cut, unanswered).`);
    }
  } finally {
    await fake.stop();
  }
}
