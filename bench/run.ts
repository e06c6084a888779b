/**
 * `npm run bench`: drives the real Parley server over loopback against a fake LLM that answers at
 * once, measures the same things on a minimal baseline server in the same run, and writes
 * docs/benchmarks.md. Env: BENCH_DURATION (s per throughput phase, default 10), BENCH_PHASES (e.g. 1,3,4: only those phases, whose
 * sections then replace the same phases' in the existing report, the rest kept), BENCH_STREAMS (default 10000),
 * BENCH_EXPORT_CONVERSATIONS (phase 12, default 100000), BENCH_LOAD_SECONDS (phase 13's mixed load, default 600), DATABASE_URL (PostgreSQL instead of embedded PGlite; also enables pgbench).
 * `npm run bench -- soak [seconds]` runs the soak of bench/soak.ts instead (its own section of the file).
 *
 * Phases run in the order 1, 2, 3, 4, 6, 7, 8, 14, 9, 10, 11, 12, 13, 5: phase 5 needs fresh processes and the most memory, so it
 * comes last, after the shared fake LLM, baseline and Parley of the other phases are stopped.
 */
import { spawnSync } from 'node:child_process';
import { resolve } from 'node:path';
import { ChatApi, postJson, setupRetries } from './client.js';
import { deltaGaps, directTtft, directTurns, serverTtft, turnLatency, type Distribution } from './latency.js';
import { PROMPT_TURNS, promptTokens, throughput, type ThroughputResult } from './load.js';
import { beforeFor } from './before.js';
import { postgresVersion, runPgbench } from './pgbench.js';
import { cpuTimeMs, startBaseline, startFakeLlmProcess, startParley, type Child } from './processes.js';
import { atLeast, atMost, describeMachine, machineBusy, num, ratio, renderReport, withUnit, writePhaseSections, writeReport, type Row, type Section } from './report.js';
import { publicPhase } from './public-phase.js';
import { rlsPhase } from './rls-phase.js';
import { streamsPhase } from './streams-phase.js';
import { uploadsPhase } from './uploads-phase.js';
import { knowledgePhase } from './knowledge-phase.js';
import { OPENAI_METHOD, openAiPhase } from './openai-phase.js';
import { WIDGET_METHOD, widgetPhase } from './widget-phase.js';
import { EXPORT_METHOD, exportPhase } from './export-phase.js';
import { STARTUP_METHOD, startupPhase } from './startup-phase.js';
import { TURN_SQL_METHOD, runTurnSql } from './turn-sql.js';

const ROOT = new URL('..', import.meta.url).pathname;
// BENCH_REPORT writes elsewhere (e.g. docs/benchmarks-pglite.md for the embedded database's run;
// relative to the repository, or absolute for a scratch run such as /tmp/bench.md).
const REPORT = resolve(ROOT, process.env.BENCH_REPORT || 'docs/benchmarks.md');

function envInt(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value <= 0) throw new Error(`${name} must be a positive integer (got ${JSON.stringify(raw)})`);
  return value;
}

const DURATION = envInt('BENCH_DURATION', 10);
const STREAMS = envInt('BENCH_STREAMS', 10000);
const EXPORT_CONVERSATIONS = envInt('BENCH_EXPORT_CONVERSATIONS', 100000);
/** Phase 13: seconds of mixed load before RSS is read again. */
const LOAD_SECONDS = envInt('BENCH_LOAD_SECONDS', 600);
const BUDGET = envInt('CONTEXT_TOKEN_BUDGET', 8000);
const DATABASE_URL = process.env.DATABASE_URL || undefined;
/** BENCH_PHASES=1,3,4 runs only those phases (a quick before/after, or one phase re-measured into the existing report). */
const ONLY = process.env.BENCH_PHASES ? new Set(process.env.BENCH_PHASES.split(',').map((n) => Number(n.trim()))) : null;
const RUN_ID = `b${Date.now().toString(36).slice(-7)}`; // usernames unique per run (a PostgreSQL keeps old runs' data)
const startedAt = new Date();

const log = (phase: string) => (line: string) => console.log(`[${((Date.now() - startedAt.getTime()) / 1000).toFixed(0).padStart(4)} s] ${phase}: ${line}`);
const sections = new Map<number, Section>();
const problems: string[] = [];
const dash = '—';

/** Runs one phase; a failure is reported in docs/benchmarks.md and the remaining phases still run. */
async function phase(n: number, title: string, method: string, body: (section: Section, say: (line: string) => void) => Promise<void>): Promise<void> {
  if (ONLY && !ONLY.has(n)) return;
  const section: Section = { title: `${n}. ${title}`, method, rows: [], notes: [] };
  sections.set(n, section);
  const say = log(`phase ${n}`);
  console.log(`\n== Phase ${n}: ${title} ==`);
  try {
    await body(section, say);
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    say(`FAILED: ${message}`);
    section.notes.push(`**Failed:** ${message.split('\n')[0]}`);
    problems.push(`Phase ${n} failed: ${message.split('\n')[0]}`);
  }
}

/** Does Parley answer a chat turn yet? (Its chat endpoints are being built while this harness is.) */
async function probeTurn(api: ChatApi): Promise<string | null> {
  try {
    const token = await api.register(`${RUN_ID}-probe`);
    const conversation = await api.createConversation(token);
    const answer = await api.send(token, conversation, 'Hello?');
    return answer.status === 201 ? null : `POST /v1/conversations/{id}/messages answered ${answer.status}`;
  } catch (error) {
    return error instanceof Error ? error.message : String(error);
  }
}

const latencyRow = (measure: string, parley: number, baseline: number, target = dash, verdict = dash): Row => ({
  measure,
  parley: withUnit(parley, 'ms', 2),
  baseline: withUnit(baseline, 'ms', 2),
  ratio: ratio(parley, baseline),
  target,
  verdict,
});

async function main(): Promise<void> {
  const say = log('setup');
  say('building Parley (npm run build)');
  const build = spawnSync('npm', ['run', 'build'], { cwd: ROOT, encoding: 'utf8' });
  if (build.status !== 0) {
    // tsc still emits JavaScript on type errors; run it, but say so loudly in the report.
    const first = `${build.stdout}`.split('\n').find((line) => line.includes('error TS')) ?? build.stderr.trim();
    say(`warning: npm run build failed (${first}); running what tsc emitted`);
    problems.push(`\`npm run build\` reported errors (${first}); the run used what tsc emitted anyway.`);
  }
  const database = DATABASE_URL ? `PostgreSQL ${postgresVersion(DATABASE_URL)} (DATABASE_URL, same machine)` : 'PGlite (embedded, in the Parley process)';
  say(`database: ${database}`);
  const busy = await machineBusy();
  say(`machine CPU busy with other work right now: ${Math.round(busy * 100)}%`);
  if (busy > 0.15) {
    say('warning: something else is using the CPU; figures will be noisy');
    problems.push(`Other processes kept ${Math.round(busy * 100)}% of the CPU busy when the bench started: figures are noisier and lower than on an idle machine.`);
  }

  say('starting the fake LLM, the baseline server and Parley, each in its own process');
  const fake = await startFakeLlmProcess();
  const baselineProcess = await startBaseline(fake.url);
  const parleyProcess = await startParley('parley', { llmUrl: fake.url, databaseUrl: DATABASE_URL });
  say(`fake LLM ${fake.url} (pid ${fake.pid}), baseline ${baselineProcess.url} (pid ${baselineProcess.pid}), Parley ${parleyProcess.url} (pid ${parleyProcess.pid})`);
  const baseline = new ChatApi(baselineProcess.url, false);
  const parley = new ChatApi(parleyProcess.url, true);
  const notReady = await probeTurn(parley);
  if (notReady) {
    say(`Parley cannot answer a chat turn yet (${notReady}): measuring the baseline only`);
    problems.push(`Parley could not answer a chat turn (${notReady}); only the baseline was measured.`);
  }
  const withParley = notReady === null;
  const parleyToken = withParley ? await parley.register(`${RUN_ID}-lat`) : '';

  let parleyLoad: ThroughputResult | undefined;
  await phase(1, 'Chat-turn throughput (32 connections, non-streaming)', `32 connections (autocannon), each with its own user and conversation, send non-streamed turns back to back for ${DURATION} s after a 3 s warm-up on other conversations. Latency is per turn as the client sees it; CPU is the server process's utime+stime over the measured run ÷ completed turns.`, async (section, say) => {
    const options = { runId: RUN_ID, connections: 32, seconds: DURATION, warmupSeconds: 3 };
    say('baseline');
    const base = await throughput(baseline, baselineProcess.pid, { ...options, runId: `${RUN_ID}b` }, say);
    say(`baseline: ${num(base.turnsPerSecond)} turns/s, p50 ${num(base.p50, 2)} ms, p99 ${num(base.p99, 2)} ms, ${num(base.cpuMsPerTurn, 3)} ms CPU/turn`);
    const p = withParley ? await throughputOf(parley, parleyProcess, options, say) : undefined;
    parleyLoad = p;
    const value = (f: (r: ThroughputResult) => number) => (p ? f(p) : NaN);
    section.rows.push(
      { measure: 'Turns per second', parley: num(value((r) => r.turnsPerSecond)), baseline: num(base.turnsPerSecond), ratio: ratio(value((r) => r.turnsPerSecond), base.turnsPerSecond), target: 'ratio ≥ 0.5', verdict: atLeast(value((r) => r.turnsPerSecond) / base.turnsPerSecond, 0.5, '×') },
      latencyRow('Turn latency p50', value((r) => r.p50), base.p50),
      latencyRow('Turn latency p99', value((r) => r.p99), base.p99),
      { measure: 'Server CPU per turn', parley: withUnit(value((r) => r.cpuMsPerTurn), 'ms', 3), baseline: withUnit(base.cpuMsPerTurn, 'ms', 3), ratio: ratio(value((r) => r.cpuMsPerTurn), base.cpuMsPerTurn), target: dash, verdict: dash },
      {
        measure: 'Errors + non-2xx + timeouts',
        parley: p ? String(p.errors + p.non2xx + p.timeouts) : 'n/a',
        baseline: String(base.errors + base.non2xx + base.timeouts),
        ratio: dash,
        target: '0',
        verdict: p ? (p.errors + p.non2xx + p.timeouts === 0 ? '✅ none' : `❌ ${JSON.stringify(p.statusCodes)}, ${p.errors} errors, ${p.timeouts} timeouts`) : '❓ not measured',
      },
    );
    section.notes.push(`Completed turns: Parley ${p ? p.turns : 'n/a'} in ${p ? num(p.seconds) : 'n/a'} s, baseline ${base.turns} in ${num(base.seconds)} s. Status codes: Parley ${p ? JSON.stringify(p.statusCodes) : 'n/a'}, baseline ${JSON.stringify(base.statusCodes)}.`);
  });

  await phase(2, 'pgbench ceiling of the turn’s SQL', 'PostgreSQL only: `pgbench -n -c 32 -j 2 -T <BENCH_DURATION> -f bench/turn.sql` on the ids of the 32 conversations phase 1 measured (table `bench_targets`). Its transactions per second are the most turns per second this database can serve; the "Baseline" column holds that ceiling and the ratio is how much of it Parley reached.', async (section, say) => {
    if (!DATABASE_URL) {
      say('skipped: needs DATABASE_URL');
      section.notes.push('skipped: needs DATABASE_URL');
      return;
    }
    if (!parleyLoad) throw new Error('phase 1 has no Parley conversations to sample');
    const result = runPgbench(DATABASE_URL, parleyLoad.conversations, DURATION, say);
    say(`pgbench: ${num(result.tps)} tps${result.placeholder ? ' (placeholder SQL)' : ''}`);
    section.rows.push({ measure: 'Turns per second (Parley, phase 1) vs pgbench tps', parley: num(parleyLoad.turnsPerSecond), baseline: num(result.tps), ratio: ratio(parleyLoad.turnsPerSecond, result.tps), target: dash, verdict: dash });
    if (result.placeholder) {
      section.notes.push('`bench/turn.sql` is a placeholder (the turn’s real SQL was not written yet): the pgbench figure is NOT a ceiling for a turn.');
      problems.push('bench/turn.sql is a placeholder; the pgbench figure means nothing yet.');
    }
    if (result.failedTransactions > 0) section.notes.push(`pgbench reported ${result.failedTransactions} failed transactions.`);
  });

  await phase(3, 'Added latency of a turn (1 connection, non-streaming)', `One keep-alive connection sends turns one after the other for ${DURATION} s each: straight to the fake LLM's \`/chat/completions\`, then through the baseline, then through Parley (a new conversation every 10 turns, so history stays short). "Added" = server p50 − direct p50. ${TURN_SQL_METHOD}`, async (section, say) => {
    say('direct to the fake LLM');
    const direct = await directTurns(fake.url, DURATION);
    say('baseline');
    const base = await turnLatency(baseline, '', DURATION);
    const p = withParley ? await step(say, 'Parley', () => turnLatency(parley, parleyToken, DURATION)) : undefined;
    addedRows(section, direct, base, p, 1.0, 'turn', beforeFor(DATABASE_URL).addedTurn);
    if (DATABASE_URL && p) await turnSqlRows(section, say, p.p50 - direct.p50, parley.url, parleyToken);
  });

  await phase(4, 'Streaming: time to first token, no buffering', `Sequential streamed turns on one connection for ${Math.max(2, Math.round(DURATION / 2))} s each: TTFT = request sent → first \`message.delta\` (direct: first chunk with content). Then the fake LLM sends its chunks 50 ms apart and we take the gaps between deltas as the client receives them over 3 turns (≈ 20 chunks each).`, async (section, say) => {
    const seconds = Math.max(2, Math.round(DURATION / 2));
    say('TTFT direct to the fake LLM');
    const direct = await directTtft(fake.url, seconds);
    say('TTFT baseline');
    const base = await serverTtft(baseline, '', seconds);
    const p = withParley ? await step(say, 'TTFT Parley', () => serverTtft(parley, parleyToken, seconds)) : undefined;
    addedRows(section, direct, base, p, 2.0, 'TTFT', beforeFor(DATABASE_URL).addedTtft);
    say('fake LLM now sends chunks 50 ms apart: measuring gaps between deltas');
    await fake.setDelays({ firstTokenDelayMs: 0, chunkDelayMs: 50 });
    try {
      const directGaps = await deltaGaps(null, fake.url, '', 3);
      const baseGaps = await deltaGaps(baseline, fake.url, '', 3);
      const parleyGaps = withParley ? await deltaGaps(parley, fake.url, parleyToken, 3) : undefined;
      const pm = parleyGaps?.median ?? NaN;
      section.rows.push({
        measure: 'Median gap between deltas (chunks sent 50 ms apart)',
        parley: withUnit(pm, 'ms'),
        baseline: withUnit(baseGaps.median, 'ms'),
        ratio: ratio(pm, baseGaps.median),
        target: '≈ 50 ms (45–55)',
        verdict: Number.isFinite(pm) ? (Math.abs(pm - 50) <= 5 ? `✅ met: ${num(Math.abs(pm - 50))} ms from 50` : `❌ missed: ${num(Math.abs(pm - 50))} ms from 50`) : '❓ not measured',
      });
      section.notes.push(
        `Gaps p10/median/p90: Parley ${parleyGaps ? `${num(parleyGaps.p10)}/${num(parleyGaps.median)}/${num(parleyGaps.p90)} ms over ${parleyGaps.count} gaps` : 'n/a'}; baseline ${num(baseGaps.p10)}/${num(baseGaps.median)}/${num(baseGaps.p90)} ms; fake LLM direct ${num(directGaps.p10)}/${num(directGaps.median)}/${num(directGaps.p90)} ms.`,
      );
    } finally {
      await fake.setDelays({ firstTokenDelayMs: 0, chunkDelayMs: 0 });
    }
  });

  await phase(6, 'Prompt tokens over a long conversation', `150 non-streamed turns in one conversation, each user message ≈ 40 words of varied text; \`reply.usage.prompt_tokens\` is the fake LLM's count of what the server sent. Budget: CONTEXT_TOKEN_BUDGET = ${BUDGET}. The baseline cuts history at ${BUDGET * 4} characters (≈ 4 per token).`, async (section, say) => {
    const base = await promptTokens(baseline, `${RUN_ID}b`, 'baseline', say);
    const p = withParley ? await promptTokens(parley, RUN_ID, 'parley', say) : undefined;
    const last = PROMPT_TURNS[PROMPT_TURNS.length - 1]!;
    for (const turn of PROMPT_TURNS) {
      const value = p?.[turn] ?? NaN;
      let target = dash;
      let verdict = dash;
      if (turn === last) {
        target = `≤ ${Math.round(BUDGET * 1.1)} (budget + 10%)`;
        verdict = atMost(value, Math.round(BUDGET * 1.1), 'tokens', 0);
      } else if (turn === 100) {
        const t150 = p?.[last] ?? NaN;
        target = `≈ turn ${last} (within 5%)`;
        const drift = Math.abs(value - t150) / t150;
        verdict = Number.isFinite(drift) ? `${drift <= 0.05 ? '✅ met' : '❌ missed'}: ${num(drift * 100)}% from turn ${last}` : '❓ not measured';
      }
      section.rows.push({ measure: `Prompt tokens at turn ${turn}`, parley: num(value, 0), baseline: num(base[turn] ?? NaN, 0), ratio: ratio(value, base[turn] ?? NaN), target, verdict });
    }
    section.notes.push('The fake LLM counts prompt tokens with gpt-tokenizer over the messages’ text plus 3 per message, so framing adds a little over what the server budgets.');
  });

  await phase(7, 'Row Level Security cost on the chat turn', `Phase 1's load (32 connections, non-streamed turns, ${DURATION} s after a 3 s warm-up) on Parley alone, six rounds alternating row security on and off. "Parley" is on (every tenant table's policies enforced, as always); "Baseline" is off: the tables' owner ran \`ALTER TABLE … DISABLE ROW LEVEL SECURITY\` on every tenant table, so the same server and SQL run without policies. ${DATABASE_URL ? 'Toggled live on the database phase 1 used.' : 'PGlite lives inside the Parley process, so a separate Parley is stopped, its folder toggled, and started again for each round.'}`, async (section, say) => {
    if (!withParley) throw new Error('Parley cannot answer a chat turn');
    await rlsPhase(section, say, { runId: RUN_ID, seconds: DURATION, llmUrl: fake.url, databaseUrl: DATABASE_URL, parley: parleyProcess });
  });

  await phase(8, 'Other requests during the largest knowledge uploads and messages', 'One at a time, the largest documents Parley accepts in the shapes slowest to chunk (≈1 MB of Chinese, Thai, Hangul and space-less Arabic, one 499,999-character word, 250,000 short lines, 250,000 empty headings) are uploaded to one chatbot while `GET /health` is asked every 10 ms on a fresh connection; "Baseline" is the same probe for 3 s with nothing else running. Chunking runs on a worker thread; storing the chunks yields between batches of 50. Then, five times each, the largest messages in the shape slowest to count and to cut into search terms (Chinese without spaces): a 32,000-character message to a conversation, and a `/v1/chat/completions` call with ten of them (0.96 MB).', async (section, say) => {
    if (!withParley) throw new Error('Parley cannot answer a chat turn');
    await uploadsPhase(section, say, { url: parleyProcess.url, token: await parley.register(`${RUN_ID}-up`) });
  });

  await phase(14, 'A chat turn against a large knowledge base', 'One chatbot holds ≈11,000 chunks of prose (22 documents of 72,000 words drawn from a seeded 6,000-word vocabulary in which twelve everyday words are a third of all words) and one line of weekend hours. Each question is asked 15 times, one turn at a time, each in a new conversation; "Baseline" is the same turn to a chatbot of the same owner without knowledge, which searches nothing. On the embedded database the search runs on Parley\'s own thread.', async (section, say) => {
    if (!withParley) throw new Error('Parley cannot answer a chat turn');
    await knowledgePhase(section, say, { url: parleyProcess.url, token: await parley.register(`${RUN_ID}-kb`) });
  });

  await phase(9, 'Public chatbot visitors against signed-in users', `Phase 1's load (32 connections, non-streamed turns, ${DURATION} s after a 3 s warm-up) on the same Parley, four rounds alternating: signed-in users, each with their own conversation ("Baseline"), and visitors of one public chatbot, each connection its own visitor with their visitor token and the page's Origin ("Parley"). The chatbot lists allowed origins and has a monthly token budget, so each visitor turn verifies the visitor token, checks the origin, counts three public limits and reads the month's usage. Medians of the two rounds of each.`, async (section, say) => {
    if (!withParley) throw new Error('Parley cannot answer a chat turn');
    await publicPhase(section, say, { api: parley, pid: parleyProcess.pid, runId: RUN_ID, seconds: DURATION });
  });

  await phase(10, 'The embeddable widget in a real browser', WIDGET_METHOD, async (section, say) => {
    await widgetPhase(section, say, { api: parley, runId: RUN_ID });
  });

  await phase(11, 'The OpenAI-compatible endpoint: added latency', OPENAI_METHOD, (section, say) =>
    openAiPhase(section, say, { llmUrl: fake.url, databaseUrl: DATABASE_URL, runId: RUN_ID, seconds: DURATION }),
  );

  await phase(12, `Bulk export of ${EXPORT_CONVERSATIONS.toLocaleString('en-US')} conversations with collected data`, EXPORT_METHOD, (section, say) =>
    exportPhase(section, say, { llmUrl: fake.url, databaseUrl: DATABASE_URL, runId: RUN_ID, conversations: EXPORT_CONVERSATIONS }),
  );

  say('stopping the shared fake LLM, baseline and Parley before phase 5');
  await Promise.all([fake.stop(), baselineProcess.stop(), parleyProcess.stop()]);

  await phase(13, 'Start-up and memory', STARTUP_METHOD, (section, say) =>
    startupPhase(section, say, { databaseUrl: DATABASE_URL, runId: RUN_ID, loadSeconds: LOAD_SECONDS }),
  );

  await phase(5, `${STREAMS.toLocaleString('en-US')} concurrent open streams`, 'Each stream is a raw node:http request on its own socket (no keep-alive) that counts as open once `message.start` arrived; the fake LLM sends one word at once and then one every 20 s, so every upstream call stays open (a live but slow model; Parley’s default LLM_TIMEOUT_MS allows 60 s between chunks). RSS per stream = (RSS with all open − RSS before opening, after creating the conversations) ÷ streams; before each reading the bench asks V8 for two full garbage collections (the phase-5 servers listen for the inspector on loopback for that alone) and waits 1–2 s. In PGlite mode the embedded database’s memory is part of Parley’s RSS. Then every client socket is destroyed at once and we watch the fake LLM’s open calls drop to 0; the close time is the fake’s own record of its last close.', (section, say) =>
    streamsPhase(section, say, { runId: RUN_ID, streams: STREAMS, databaseUrl: DATABASE_URL, withParley }),
  );

  if (setupRetries.length > 0) problems.push(`${setupRetries.length} set-up request(s) met a reset connection and were sent again: ${[...new Set(setupRetries)].join(', ')}.`);
  const command = `${DATABASE_URL ? 'DATABASE_URL=postgres://… ' : ''}${process.env.BENCH_REPORT ? `BENCH_REPORT=${process.env.BENCH_REPORT} ` : ''}${ONLY ? `BENCH_PHASES=${[...ONLY].join(',')} ` : ''}BENCH_DURATION=${DURATION} BENCH_STREAMS=${STREAMS} BENCH_EXPORT_CONVERSATIONS=${EXPORT_CONVERSATIONS} BENCH_LOAD_SECONDS=${LOAD_SECONDS} npm run bench`;
  const totalSeconds = (Date.now() - startedAt.getTime()) / 1000;
  const ran = [...sections.entries()].sort(([a], [b]) => a - b);
  const machine = describeMachine(database, busy);
  const markdown = renderReport({
    command,
    settings: [`BENCH_DURATION=${DURATION} s per throughput phase, BENCH_STREAMS=${STREAMS}, BENCH_EXPORT_CONVERSATIONS=${EXPORT_CONVERSATIONS}, BENCH_LOAD_SECONDS=${LOAD_SECONDS}, CONTEXT_TOKEN_BUDGET=${BUDGET}`, `Run id (username prefix): ${RUN_ID}`],
    machine,
    startedAt,
    totalSeconds,
    sections: ran.map(([, s]) => s),
    problems,
  });
  if (ONLY) {
    // Only some phases ran: their sections replace the same phases' in the report, with this run's own particulars.
    const stamp = `Measured apart from the rest of this file on ${startedAt.toISOString().replace(/\.\d+Z$/, 'Z')} by \`${command}\` (${Math.round(totalSeconds)} s; ${machine.cpu}, ${machine.cores} cores, ${machine.database}; ${machine.background}; a kernel call ${num(machine.kernelCallUs, 2)} µs).`;
    for (const [, section] of ran) section.notes.push(...problems.filter((p) => !p.startsWith('Phase ')).map((p) => `Problem in this run: ${p}`));
    writePhaseSections(REPORT, ran.map(([n, section]) => ({ n, section })), stamp, markdown);
  } else {
    writeReport(REPORT, markdown);
  }
  console.log(`\nwrote ${REPORT} (${Math.round((Date.now() - startedAt.getTime()) / 1000)} s in all)`);
  if (problems.length > 0) console.log(`problems:\n- ${problems.join('\n- ')}`);
}

async function step<T>(say: (line: string) => void, what: string, run: () => Promise<T>): Promise<T> {
  say(what);
  return run();
}

async function throughputOf(api: ChatApi, child: Child, options: { runId: string; connections: number; seconds: number; warmupSeconds: number }, say: (line: string) => void): Promise<ThroughputResult> {
  say('Parley');
  const before = cpuTimeMs(child.pid);
  const result = await throughput(api, child.pid, options, say);
  say(`Parley: ${num(result.turnsPerSecond)} turns/s, p50 ${num(result.p50, 2)} ms, p99 ${num(result.p99, 2)} ms, ${num(result.cpuMsPerTurn, 3)} ms CPU/turn (${num((cpuTimeMs(child.pid) - before) / 1000)} s CPU incl. set-up)`);
  return result;
}

/** Phase 3 on PostgreSQL: the turn's own SQL on one connection (pgbench), and what Parley adds over it (issue 15). */
async function turnSqlRows(section: Section, say: (line: string) => void, added: number, parleyUrl: string, parleyToken: string): Promise<void> {
  const conversation = await postJson(`${parleyUrl}/v1/conversations`, {}, { token: parleyToken });
  const userId = JSON.parse(Buffer.from(parleyToken.split('.')[1]!, 'base64url').toString('utf8')).sub as string;
  const sqlTurn = runTurnSql(DATABASE_URL!, { userId, chatbotId: conversation.body.chatbot_id as string }, DURATION, say);
  say(`the turn's SQL alone: p50 ${num(sqlTurn.p50Ms, 2)} ms, average ${num(sqlTurn.latencyMs, 2)} ms a turn (${sqlTurn.turns} turns); Parley adds ${num(added, 2)} ms (p50) over the fake LLM`);
  const over = added - sqlTurn.p50Ms;
  section.rows.push(
    latencyRow('The turn\'s SQL alone, p50 (pgbench, 1 connection, prepared, as the request role)', sqlTurn.p50Ms, NaN),
    latencyRow('The turn\'s SQL alone, average', sqlTurn.latencyMs, NaN),
    latencyRow(`Added turn p50 beyond the turn's SQL p50 (server − direct − SQL; before: ${beforeFor(DATABASE_URL).beyondSql})`, over, NaN, '≤ 0.5 ms', atMost(over, 0.5, 'ms')),
  );
  if (sqlTurn.failed > 0) section.notes.push(`pgbench reported ${sqlTurn.failed} failed turns.`);
}

function addedRows(section: Section, direct: Distribution, base: Distribution, p: Distribution | undefined, targetMs: number, what: string, before: string): void {
  const pp50 = p?.p50 ?? NaN;
  const pp99 = p?.p99 ?? NaN;
  section.rows.push(
    latencyRow(`${what} p50 (direct to the fake LLM: ${num(direct.p50, 2)} ms)`, pp50, base.p50),
    latencyRow(`${what} p99 (direct: ${num(direct.p99, 2)} ms)`, pp99, base.p99),
    latencyRow(`Added ${what} p50 (server − direct; before: ${before})`, pp50 - direct.p50, base.p50 - direct.p50, `≤ ${targetMs} ms`, atMost(pp50 - direct.p50, targetMs, 'ms')),
    latencyRow(`Added ${what} p99`, pp99 - direct.p99, base.p99 - direct.p99),
  );
  section.notes.push(`Samples: direct ${direct.count}, baseline ${base.count}, Parley ${p?.count ?? 'n/a'}.`);
}

// `npm run bench -- soak [seconds]`: the soak (bench/soak.ts) instead of the phases.
const run = process.argv[2] === 'soak' ? import('./soak.js').then((soak) => soak.runSoak(process.argv.slice(3))) : main().then(() => 0);
run.then(
  (status) => process.exit(status),
  (error: unknown) => {
    console.error(`\nbench failed: ${error instanceof Error ? error.stack : String(error)}`);
    process.exit(1);
  },
);
