/**
 * Phase 5 orchestration. A Parley stream holds two sockets in the Parley process (the client's and
 * the upstream call's), so N streams need 2N descriptors there; 10,000 streams need more than the
 * 20,000 one process may hold on this machine. So, honestly:
 *   5a. one Parley instance with as many streams as fit under its descriptor limit → RSS per stream and
 *       the close check; the baseline gets the same number of streams;
 *   5b. when BENCH_STREAMS did not fit, the full number across two Parley instances (as behind a load
 *       balancer), on the same PostgreSQL, or each on its own PGlite (PGlite cannot be shared).
 */
import { readFileSync } from 'node:fs';
import { ChatApi } from './client.js';
import { fdLimit, openFds, rssBytes, startBaseline, startFakeLlmProcess, startParley, tempDir, type Child, type FakeLlmProcess } from './processes.js';
import { atMost, num, ratio, withUnit, type Section } from './report.js';
import { closeAll, createTargets, openStreams, settledRss, type CloseResult, type StreamTarget } from './streams.js';

const SLOW = { firstTokenDelayMs: 0, chunkDelayMs: 600_000 };
const FD_MARGIN = 400; // database connections, files, listening sockets and some slack
const dash = '—';

interface Measured {
  streams: number;
  openSeconds: number;
  rssPerStreamKiB: number;
  close: CloseResult;
}

/** Opens `targets` (all served by `servers`), measures RSS per stream and the close, and closes them. */
async function measure(targets: StreamTarget[], servers: Child[], fake: FakeLlmProcess, say: (line: string) => void): Promise<Measured & { perServer: string[] }> {
  say(`waiting for memory to settle, then opening ${targets.length} streams`);
  const before = await Promise.all(servers.map((s) => settledRss(s.pid)));
  const { sockets, seconds } = await openStreams(targets, say);
  const upstream = (await fake.stats()).open;
  say(`all ${sockets.length} streams got message.start in ${num(seconds)} s; fake LLM holds ${upstream} open calls`);
  const after = await Promise.all(servers.map((s) => settledRss(s.pid, 1000)));
  const perServer = servers.map((s, i) => `${s.name}: RSS ${num(before[i]! / 2 ** 20)} → ${num(after[i]! / 2 ** 20)} MiB, ${openFds(s.pid)} descriptors open`);
  for (const line of perServer) say(line);
  const grown = after.reduce((a, b) => a + b, 0) - before.reduce((a, b) => a + b, 0);
  say('destroying every client socket at once');
  const close = await closeAll(sockets, [fake]);
  say(`upstream calls: ${close.openBefore} open before, ${close.openAt1s} still open at 1 s, all closed after ${num(close.allClosedMs, 0)} ms`);
  return { streams: sockets.length, openSeconds: seconds, rssPerStreamKiB: grown / 1024 / sockets.length, close, perServer };
}

function closeVerdict(close: CloseResult): string {
  if (Number.isFinite(close.allClosedMs) && close.allClosedMs <= 1000) return `✅ met: all ${close.openBefore} closed in ${num(close.allClosedMs, 0)} ms`;
  return `❌ missed: ${close.openAt1s} of ${close.openBefore} still open at 1 s${Number.isFinite(close.allClosedMs) ? `, all closed at ${num(close.allClosedMs, 0)} ms` : ', not all closed within 15 s'}`;
}

export async function streamsPhase(section: Section, say: (line: string) => void, options: { runId: string; streams: number; databaseUrl?: string; withParley: boolean }): Promise<void> {
  const started: Array<{ stop(): Promise<void> }> = [];
  try {
    const fake = await startFakeLlmProcess(SLOW);
    started.push(fake);
    const own = /Max open files\s+(\d+)/.exec(readFileSync('/proc/self/limits', 'utf8'))?.[1];
    if (Number(own) < options.streams + 500) say(`warning: this process may open only ${own} files; run through \`npm run bench\`, which raises it`);

    const baselineFake = await startFakeLlmProcess(SLOW);
    started.push(baselineFake);
    const baselineProcess = await startBaseline(baselineFake.url);
    started.push(baselineProcess);
    // How many streams one server process can hold: its descriptor limit, minus what it uses, halved.
    const fit = (server: Child) => Math.floor((fdLimit(server.pid) - openFds(server.pid) - FD_MARGIN) / 2);
    let single = Math.min(options.streams, fit(baselineProcess));
    let parley: Child | undefined;
    if (options.withParley) {
      parley = await startParley('parley-a', { llmUrl: fake.url, databaseUrl: options.databaseUrl });
      started.push(parley);
      single = Math.min(single, fit(parley));
      say(`one Parley process may open ${fdLimit(parley.pid)} files: ${single} streams fit in one instance`);
    }

    say(`baseline: ${single} streams`);
    const baselineApi = new ChatApi(baselineProcess.url, false);
    const base = await measure(await createTargets(baselineApi, single, options.runId, 'sb'), [baselineProcess], baselineFake, say);
    await baselineProcess.stop();
    await baselineFake.stop();

    let one: Measured | undefined;
    let targetsA: StreamTarget[] = [];
    if (parley) {
      say(`Parley, one instance: creating ${single} conversations (64 at a time)`);
      const api = new ChatApi(parley.url, true);
      targetsA = await createTargets(api, single, options.runId, 'sa');
      one = await measure(targetsA, [parley], fake, say);
    }
    section.rows.push(
      { measure: 'Streams open at once in one instance', parley: one ? String(one.streams) : 'n/a', baseline: String(base.streams), ratio: dash, target: dash, verdict: one ? `opened in ${num(one.openSeconds)} s (baseline ${num(base.openSeconds)} s)` : '❓ not measured' },
      { measure: 'RSS per open stream', parley: withUnit(one?.rssPerStreamKiB ?? NaN, 'KiB'), baseline: withUnit(base.rssPerStreamKiB, 'KiB'), ratio: ratio(one?.rssPerStreamKiB ?? NaN, base.rssPerStreamKiB), target: '≤ 40 KiB', verdict: atMost(one?.rssPerStreamKiB ?? NaN, 40, 'KiB', 1) },
      { measure: 'Upstream calls closed after every client left', parley: withUnit(one?.close.allClosedMs ?? NaN, 'ms', 0), baseline: withUnit(base.close.allClosedMs, 'ms', 0), ratio: one ? ratio(one.close.allClosedMs, base.close.allClosedMs) : dash, target: '≤ 1000 ms, none open at 1 s', verdict: one ? closeVerdict(one.close) : '❓ not measured' },
    );
    if (one) section.notes.push(`Parley instance: ${single} streams fit under its ${parley ? fdLimit(parley.pid) : '?'}-descriptor limit (2 sockets per stream).`);

    if (!parley || single >= options.streams) return;
    // 5b: the full number across two instances. Instance A reuses half of its conversations (their
    // interrupted turns are stored by now; a late 409 is retried); instance B gets its own.
    const half = Math.ceil(options.streams / 2);
    say(`${options.streams} streams do not fit in one process: two instances, ${half} + ${options.streams - half}`);
    const parleyB = await startParley('parley-b', { llmUrl: fake.url, databaseUrl: options.databaseUrl, dataDir: options.databaseUrl ? undefined : tempDir('data-b') });
    started.push(parleyB);
    const targetsB = await createTargets(new ChatApi(parleyB.url, true), options.streams - half, options.runId, 'sc');
    const both = await measure([...targetsA.slice(0, half), ...targetsB], [parley, parleyB], fake, say);
    section.rows.push(
      {
        measure: `${options.streams} streams across two instances`,
        parley: `${both.streams} open`,
        baseline: dash,
        ratio: dash,
        target: `${options.streams} open`,
        verdict: both.streams === options.streams ? `✅ all open in ${num(both.openSeconds)} s, ${num(both.rssPerStreamKiB)} KiB RSS per stream` : `❌ ${both.streams} open`,
      },
      { measure: `Upstream calls closed after ${options.streams} clients left`, parley: `${num(both.close.allClosedMs, 0)} ms`, baseline: dash, ratio: dash, target: '≤ 1000 ms, none open at 1 s', verdict: closeVerdict(both.close) },
    );
    section.notes.push(
      `${options.streams} streams need ≈ ${2 * options.streams} sockets in one Parley process, above the ${fdLimit(parley.pid)} descriptors a process may hold here, so the full count ran on two instances ${options.databaseUrl ? 'sharing the PostgreSQL database' : 'each with its own PGlite (an embedded database cannot be shared between processes)'}, as behind a load balancer: ${both.perServer.join('; ')}.`,
    );
    say(`RSS now: ${[parley, parleyB].map((s) => `${s.name} ${num(rssBytes(s.pid) / 2 ** 20)} MiB`).join(', ')}`);
  } finally {
    for (const child of started.reverse()) await child.stop();
  }
}
