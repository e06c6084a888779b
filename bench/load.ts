/**
 * Phase 1 (chat-turn throughput under 32 connections) and phase 6 (prompt tokens over a long
 * conversation). Both talk to Parley and to the baseline the same way through ChatApi.
 */
import autocannon from 'autocannon';
import { pool, type ChatApi } from './client.js';
import { cpuTimeMs, sleep } from './processes.js';

export interface ThroughputResult {
  turns: number;
  seconds: number;
  turnsPerSecond: number;
  p50: number;
  p99: number;
  errors: number;
  timeouts: number;
  non2xx: number;
  statusCodes: Record<string, number>;
  cpuMsPerTurn: number;
  /** The conversation each connection used in the measured run (phase 2 samples its ids). */
  conversations: string[];
}

const TURN_MESSAGE = 'Hello! Could you tell me in a few words what a benchmark measures and why it matters?';

/** Where one connection sends its turns: its own conversation, with its own credentials. */
export interface TurnRoute {
  path: string;
  headers: Record<string, string>;
}

const accountRoute = (token: string, conversation: string): TurnRoute => ({
  path: `/v1/conversations/${conversation}/messages`,
  headers: token ? { authorization: `Bearer ${token}` } : {},
});

/**
 * One autocannon run in which connection i sends every request to its own conversation: setupClient is
 * called once per connection and fixes that connection's path and headers, so no two connections
 * ever share a conversation (a shared one would answer 409 while the other's turn runs).
 */
async function autocannonRun(url: string, routes: TurnRoute[], seconds: number, onLatency?: (ms: number) => void) {
  let nextClient = 0;
  const instance = autocannon({
    url,
    connections: routes.length,
    duration: seconds,
    timeout: 30,
    setupClient: (client) => {
      const own = routes[nextClient++ % routes.length]!;
      const headers: Record<string, string> = { 'content-type': 'application/json', ...own.headers };
      // setRequests, not setRequest: autocannon goes back to requests[0] after each response.
      client.setRequests([{ method: 'POST', path: own.path, headers, body: JSON.stringify({ content: TURN_MESSAGE }) }]);
    },
  });
  if (onLatency) {
    instance.on('response', (_client: unknown, status: number, _bytes: number, ms: number) => {
      if (status >= 200 && status < 300) onLatency(ms);
    });
  }
  return instance;
}

export async function throughput(api: ChatApi, pid: number, opts: { runId: string; connections: number; seconds: number; warmupSeconds: number }, log: (line: string) => void): Promise<ThroughputResult> {
  log(`registering ${opts.connections} users, each with a warm-up and a measured conversation`);
  const users = await pool(opts.connections, 8, async (i) => {
    const token = await api.register(`${opts.runId}-t${i}`);
    return { token, warm: await api.createConversation(token), measured: await api.createConversation(token) };
  });
  const result = await measureTurns(
    api.url,
    pid,
    { warm: users.map((u) => accountRoute(u.token, u.warm)), measured: users.map((u) => accountRoute(u.token, u.measured)) },
    opts,
    log,
  );
  return { ...result, conversations: users.map((u) => u.measured) };
}

/** Warm-up on one set of conversations, then the measured run on another: turns/s, latency and server CPU. */
export async function measureTurns(
  url: string,
  pid: number,
  routes: { warm: TurnRoute[]; measured: TurnRoute[] },
  opts: { seconds: number; warmupSeconds: number },
  log: (line: string) => void,
): Promise<ThroughputResult> {
  const connections = routes.measured.length;
  log(`warm-up: ${opts.warmupSeconds} s, ${connections} connections`);
  await autocannonRun(url, routes.warm, opts.warmupSeconds);
  // The warm-up's last turns were cut mid-flight; let the server finish them before measuring.
  await sleep(1000);

  log(`measuring: ${opts.seconds} s, ${connections} connections, one conversation each, non-streaming`);
  const latencies: number[] = [];
  const cpuBefore = cpuTimeMs(pid);
  const started = performance.now();
  const result = await autocannonRun(url, routes.measured, opts.seconds, (ms) => latencies.push(ms));
  const seconds = (performance.now() - started) / 1000;
  const cpuMs = cpuTimeMs(pid) - cpuBefore;
  latencies.sort((a, b) => a - b);
  const at = (p: number) => latencies[Math.min(latencies.length - 1, Math.ceil((p / 100) * latencies.length) - 1)] ?? NaN;
  const turns = result['2xx'];
  const statusCodes: Record<string, number> = {};
  for (const [code, { count }] of Object.entries(result.statusCodeStats)) statusCodes[code] = count;
  await sleep(1000);
  return {
    turns,
    seconds,
    turnsPerSecond: turns / seconds,
    p50: at(50),
    p99: at(99),
    errors: result.errors,
    timeouts: result.timeouts,
    non2xx: result.non2xx,
    statusCodes,
    cpuMsPerTurn: turns > 0 ? cpuMs / turns : NaN,
    conversations: [],
  };
}

// ~40 words of varied text per turn: a fixed pseudo-random sequence over a small vocabulary, so every
// run sends the same prompts and the tokenizer sees ordinary English rather than one repeated line.
const WORDS = (
  'the a an our their your my this that every some many few customer order invoice team project ' +
  'meeting budget report server database question answer idea plan week month year morning evening ' +
  'quickly carefully really often never always usually perhaps maybe certainly ' +
  'write read send check review update explain describe compare suggest improve deliver schedule ' +
  'new old small large simple complex urgent important useful difficult clear short long ' +
  'about for with without after before during between under over into from because although while'
).split(' ');

export function variedMessage(turn: number, words = 40): string {
  let seed = (turn + 1) * 2654435761;
  const out: string[] = [];
  for (let i = 0; i < words; i++) {
    seed = (seed * 1103515245 + 12345) % 2147483648;
    out.push(WORDS[seed % WORDS.length]!);
  }
  return `Turn ${turn}: ${out.join(' ')}.`;
}

export const PROMPT_TURNS = [1, 20, 100, 150];

/** Phase 6: 150 non-streamed turns in one conversation; `usage.prompt_tokens` at the turns we report. */
export async function promptTokens(api: ChatApi, runId: string, label: string, log: (line: string) => void): Promise<Record<number, number>> {
  const token = await api.register(`${runId}-p${label}`);
  const conversation = await api.createConversation(token);
  const last = PROMPT_TURNS[PROMPT_TURNS.length - 1]!;
  const seen: Record<number, number> = {};
  for (let turn = 1; turn <= last; turn++) {
    const answer = await api.send(token, conversation, variedMessage(turn));
    if (answer.status !== 201) throw new Error(`${label} turn ${turn}: ${answer.status} ${JSON.stringify(answer.body)}`);
    if (PROMPT_TURNS.includes(turn)) {
      seen[turn] = Number(answer.body.reply?.usage?.prompt_tokens);
      log(`${label}: turn ${turn}: prompt_tokens = ${seen[turn]}`);
    }
  }
  return seen;
}
