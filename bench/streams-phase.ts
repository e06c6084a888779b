/**
 * Phase 5 orchestration. A Parley stream holds two sockets in the Parley process (the client's and
 * the upstream call's), so N streams need 2N descriptors there; 10,000 streams need more than the
 * 20,000 one process may hold on this machine. So, honestly, in one pass:
 *   - instance A gets as many streams as fit under its descriptor limit: RSS per stream is measured there;
 *   - instance B (when needed) gets the rest, so BENCH_STREAMS are open at once across two instances, as
 *     behind a load balancer: on the same PostgreSQL, or each on its own PGlite (PGlite cannot be shared);
 *   - then every client leaves at once and the upstream calls must all close.
 * The baseline gets as many streams as instance A, in one process.
 */
import { readFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { beforeFor } from './before.js';
import { ChatApi } from './client.js';
import { cpuTimeMs, fdLimit, openFds, startBaseline, startFakeLlmProcess, startParley, tempDir, type Child, type FakeLlmProcess } from './processes.js';
import { atMost, num, ratio, withUnit, type Section } from './report.js';
import { closeAll, createTargets, endedEarly, openStreams, settledRss, type CloseResult, type StreamTarget } from './streams.js';

// One word at once, then one every 20 s: the streams stay open for minutes, and a chunk arrives well
// within Parley's LLM_TIMEOUT_MS (60 s between chunks by default), as from a slow but live model.
const SLOW = { firstTokenDelayMs: 0, chunkDelayMs: 20_000 };
const FD_MARGIN = 400; // database connections, files, listening sockets and some slack
const dash = '—';

interface Measured {
  streams: number;
  openSeconds: number;
  /** RSS growth per stream of each server, KiB. */
  rssPerStreamKiB: number[];
  /** Streams the server ended by itself before we left, and the fake's open calls just before we left. */
  endedEarly: number;
  upstreamOpen: number;
  close: CloseResult;
  /** CPU each process spent from the destroy until the last poll. */
  closeCpu: string;
  perServer: string[];
  /** Every RSS reading followed a forced full GC. */
  collected: boolean;
}

/** Opens every target's stream (each server's share), measures RSS per stream and the close. */
async function measure(shares: Array<{ server: Child; targets: StreamTarget[] }>, fake: FakeLlmProcess, say: (line: string) => void): Promise<Measured> {
  const all = shares.flatMap((s) => s.targets);
  say(`waiting for memory to settle, then opening ${all.length} streams (${shares.map((s) => `${s.server.name}: ${s.targets.length}`).join(', ')})`);
  const before = await Promise.all(shares.map((s) => settledRss(s.server, 2000)));
  const endedBefore = endedEarly.count;
  endedEarly.errors.clear();
  const { sockets, seconds } = await openStreams(all, say);
  const after = await Promise.all(shares.map((s) => settledRss(s.server, 1000)));
  const collected = [...before, ...after].every((r) => r.collected);
  if (!collected) say('warning: could not force a garbage collection through the inspector; RSS includes garbage');
  const upstreamOpen = (await fake.stats()).open;
  const ended = endedEarly.count - endedBefore;
  say(`all ${sockets.length} streams got message.start in ${num(seconds)} s; ${ended} ended since; the fake LLM holds ${upstreamOpen} open calls`);
  if (endedEarly.errors.size > 0) say(`error events seen: ${JSON.stringify(Object.fromEntries(endedEarly.errors))}`);
  const perServer = shares.map((s, i) => `${s.server.name}: ${s.targets.length} streams, RSS ${num(before[i]!.rss / 2 ** 20)} → ${num(after[i]!.rss / 2 ** 20)} MiB, ${openFds(s.server.pid)} descriptors open`);
  for (const line of perServer) say(line);
  say('destroying every client socket at once');
  const cpuBefore = { servers: shares.map((s) => cpuTimeMs(s.server.pid)), fake: cpuTimeMs(fake.pid), bench: process.cpuUsage() };
  const close = await closeAll(sockets, [fake]);
  const benchCpu = process.cpuUsage(cpuBefore.bench);
  // The three share this machine's cores during the close: what each spent until the last poll.
  const closeCpu = [
    ...shares.map((s, i) => `${s.server.name} ${num(cpuTimeMs(s.server.pid) - cpuBefore.servers[i]!, 0)} ms`),
    `the fake LLM ${num(cpuTimeMs(fake.pid) - cpuBefore.fake, 0)} ms`,
    `the bench's clients ${num((benchCpu.user + benchCpu.system) / 1000, 0)} ms`,
  ].join(', ');
  say(`upstream calls: ${close.openBefore} open before, ${close.openAt1s} still open at 1 s, ${Number.isFinite(close.allClosedMs) ? `all closed after ${num(close.allClosedMs, 0)} ms (a poll learned it at ${num(close.polledMs, 0)} ms)` : `${close.openAtEnd} still open after 15 s`}; CPU meanwhile: ${closeCpu}`);
  return {
    streams: sockets.length,
    openSeconds: seconds,
    rssPerStreamKiB: shares.map((s, i) => (after[i]!.rss - before[i]!.rss) / 1024 / s.targets.length),
    collected,
    endedEarly: ended,
    upstreamOpen,
    close,
    closeCpu,
    perServer,
  };
}

function closeVerdict(close: CloseResult): string {
  if (Number.isFinite(close.allClosedMs) && close.allClosedMs <= 1000) return `✅ met: all ${close.openBefore} closed in ${num(close.allClosedMs, 0)} ms`;
  return `❌ missed: ${close.openAt1s} of ${close.openBefore} still open at 1 s${Number.isFinite(close.allClosedMs) ? `, all closed at ${num(close.allClosedMs, 0)} ms` : `, ${close.openAtEnd} still open after 15 s`}`;
}

function openVerdict(m: Measured): string {
  if (m.endedEarly === 0 && m.upstreamOpen === m.streams) return `✅ all ${m.streams} open (upstream too), opened in ${num(m.openSeconds)} s`;
  return `❌ ${m.endedEarly} ended before the client left; ${m.upstreamOpen} of ${m.streams} upstream calls open`;
}

export async function streamsPhase(section: Section, say: (line: string) => void, options: { runId: string; streams: number; databaseUrl?: string; withParley: boolean }): Promise<void> {
  const started: Child[] = [];
  try {
    const own = Number(/Max open files\s+(\d+)/.exec(readFileSync('/proc/self/limits', 'utf8'))?.[1]);
    if (own < options.streams + 500) say(`warning: this process may open only ${own} files; run through \`npm run bench\`, which raises it`);

    // Baseline: one process, as many streams as fit in it (same rule as for Parley).
    const fit = (server: Child) => Math.floor((fdLimit(server.pid) - openFds(server.pid) - FD_MARGIN) / 2);
    const baselineFake = await startFakeLlmProcess(SLOW);
    started.push(baselineFake);
    const baselineProcess = await startBaseline(baselineFake.url, { inspect: true });
    started.push(baselineProcess);
    let single = Math.min(options.streams, fit(baselineProcess));
    let parley: Child | undefined;
    let fake: FakeLlmProcess | undefined;
    if (options.withParley) {
      fake = await startFakeLlmProcess(SLOW);
      started.push(fake);
      parley = await startParley('parley-a', { llmUrl: fake.url, databaseUrl: options.databaseUrl, inspect: true });
      started.push(parley);
      single = Math.min(single, fit(parley));
      say(`one Parley process may open ${fdLimit(parley.pid)} files, 2 per stream: ${single} of ${options.streams} streams fit in one instance`);
    }

    say(`baseline: ${single} streams in one process`);
    const baselineTargets = await createTargets(new ChatApi(baselineProcess.url, false), single, options.runId, 'sb');
    const base = await measure([{ server: baselineProcess, targets: baselineTargets }], baselineFake, say);
    await baselineProcess.stop();
    await baselineFake.stop();

    let m: Measured | undefined;
    let parleyB: Child | undefined;
    if (parley && fake) {
      const shares = [{ server: parley, targets: [] as StreamTarget[] }];
      if (single < options.streams) {
        say(`${options.streams} streams need ≈ ${2 * options.streams} sockets in one Parley process: the other ${options.streams - single} go to a second instance`);
        parleyB = await startParley('parley-b', { llmUrl: fake.url, databaseUrl: options.databaseUrl, dataDir: options.databaseUrl ? undefined : tempDir('data-b'), inspect: true });
        started.push(parleyB);
        shares.push({ server: parleyB, targets: [] });
      }
      const counts = [single, options.streams - single];
      for (const [i, share] of shares.entries()) {
        say(`${share.server.name}: creating ${counts[i]} conversations (64 at a time)`);
        share.targets = await createTargets(new ChatApi(share.server.url, true), counts[i]!, options.runId, `s${i}`);
      }
      m = await measure(shares, fake, say);
    }

    const perStream = m?.rssPerStreamKiB[0] ?? NaN;
    section.rows.push(
      { measure: 'Streams open at once', parley: m ? `${m.streams}${parleyB ? ` (${single} + ${m.streams - single} on 2 instances)` : ''}` : 'n/a', baseline: String(base.streams), ratio: dash, target: `${options.streams} open until the client leaves`, verdict: m ? openVerdict(m) : '❓ not measured' },
      { measure: `RSS per open stream (one instance, ${single} streams)`, parley: withUnit(perStream, 'KiB'), baseline: withUnit(base.rssPerStreamKiB[0]!, 'KiB'), ratio: ratio(perStream, base.rssPerStreamKiB[0]!), target: '≤ 40 KiB', verdict: atMost(perStream, 40, 'KiB', 1) },
      { measure: `All upstream calls closed after every client left at once (before: ${beforeFor(options.databaseUrl).allClosed})`, parley: withUnit(m?.close.allClosedMs ?? NaN, 'ms', 0), baseline: withUnit(base.close.allClosedMs, 'ms', 0), ratio: m ? ratio(m.close.allClosedMs, base.close.allClosedMs) : dash, target: '≤ 1000 ms, none open at 1 s', verdict: m ? closeVerdict(m.close) : '❓ not measured' },
    );
    section.notes.push(`Time to open them all: Parley ${m ? `${num(m.openSeconds)} s` : 'n/a'}, baseline ${num(base.openSeconds)} s (at most 256 being opened at once). ${base.perServer.join('; ')}.`);
    if (m) section.notes.push(`${m.perServer.join('; ')}.`);
    section.notes.push(
      `The close is timed from the first client socket the bench destroys to the fake LLM's own record of its last close (a poll of the fake learned it at ${m ? `${num(m.close.polledMs, 0)} ms` : 'n/a'} for Parley, ${num(base.close.polledMs, 0)} ms for the baseline: it answers late while busy closing). The bench's own loop over every socket took ${m ? `${num(m.close.destroyMs, 0)} ms of Parley's figure` : 'n/a'} and ${num(base.close.destroyMs, 0)} ms of the baseline's (the clients run on this machine too).`,
      `CPU spent during the close (the processes share ${cpus().length} cores): ${m ? `${m.closeCpu}` : 'n/a'}; baseline run: ${base.closeCpu}.`,
    );
    if (parleyB && m) {
      section.notes.push(
        `${options.streams} streams need ≈ ${2 * options.streams} sockets in one Parley process (client + upstream per stream), above the ${fdLimit(parley!.pid)} descriptors a process may hold here (hard limit, cannot be raised). So instance A held the ${single} that fit and a second instance the other ${options.streams - single}, ${options.databaseUrl ? 'both on the same PostgreSQL' : 'each with its own PGlite (an embedded database cannot be shared between processes)'}, as behind a load balancer; all ${options.streams} were open at the same time. RSS per stream is instance A's.`,
      );
    }
  } finally {
    for (const child of started.reverse()) await child.stop();
  }
}
