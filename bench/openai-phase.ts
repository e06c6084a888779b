/**
 * The OpenAI-compatible endpoint: what POST /v1/chat/completions adds over calling the fake LLM
 * directly (1 keep-alive connection, sequential requests, p50), whole and as streamed time to
 * first token, side by side with Parley's own POST /v1/chat on the same server in the same run.
 *
 * It runs its own Parley process: an API key's requests are held by RATE_LIMIT_API_KEY and
 * RATE_LIMIT_API_KEY_USER (600 and 60 a minute by default), which this instance raises the way
 * the shared one raises the others, so the limiter's cost is measured and never its refusals.
 */
import { directTtft, directTurns, type Distribution } from './latency.js';
import { keepAliveAgent, openAiDelta, parleyDelta, percentile, postJson, streamRequest } from './client.js';
import { startParley } from './processes.js';
import { atMost, num, ratio, withUnit, type Row, type Section } from './report.js';

const MESSAGE = 'What are your opening hours on weekends, and can I book a table for four people?';
const SYSTEM = 'You are a helpful assistant.';
const TARGET_MS = 1;
const dash = '—';
/**
 * Requests before the timed ones: V8 optimises a request's path after a few thousand runs, and
 * until then each one costs about twice as much (seen here: 1.6 ms added in the first 6 s of a
 * fresh process, 1.1 ms after). A steady server is what the added latency is about.
 */
const WARMUP_REQUESTS = 3000;

export const OPENAI_METHOD =
  'One keep-alive connection sends requests one after the other for BENCH_DURATION s each (streamed: half that), after an untimed ' +
  `warm-up of ${WARMUP_REQUESTS.toLocaleString('en-US')} requests (this phase's Parley starts cold; phases 3 and 4 run after phase 1's load): ` +
  'straight to the fake LLM\'s `/chat/completions`, then `POST /v1/chat/completions` with a chatbot API key and `user` ' +
  '(nothing stored but usage), then Parley\'s own `POST /v1/chat` with an account (a new stored conversation each turn). ' +
  '"Parley" is `/v1/chat/completions`, "Baseline" is `/v1/chat`, both on one Parley process of this phase (API-key limits raised, ' +
  'not off). "Added" = route p50 − direct p50; TTFT = request sent → first chunk with content.';

interface Setup {
  url: string;
  key: string;
  slug: string;
  token: string;
}

async function repeat(seconds: number, once: () => Promise<number>): Promise<Distribution> {
  for (let i = 0; i < WARMUP_REQUESTS; i++) await once();
  const values: number[] = [];
  const until = performance.now() + seconds * 1000;
  while (performance.now() < until) values.push(await once());
  return { count: values.length, p50: percentile(values, 50), p99: percentile(values, 99) };
}

async function setUp(url: string, runId: string): Promise<Setup> {
  const registered = await postJson(`${url}/v1/auth/register`, { username: `${runId}-oai`, password: 'bench-password-123' });
  if (registered.status !== 201) throw new Error(`register: ${registered.status} ${JSON.stringify(registered.body)}`);
  const token = registered.body.access_token as string;
  const chatbot = await postJson(`${url}/v1/chatbots`, { name: 'Bench OpenAI desk' }, { token });
  if (chatbot.status !== 201) throw new Error(`create chatbot: ${chatbot.status} ${JSON.stringify(chatbot.body)}`);
  const key = await postJson(`${url}/v1/chatbots/${chatbot.body.id}/keys`, { name: 'bench' }, { token });
  if (key.status !== 201) throw new Error(`create key: ${key.status} ${JSON.stringify(key.body)}`);
  return { url, key: key.body.key as string, slug: chatbot.body.slug as string, token };
}

const completionBody = (setup: Setup, stream: boolean) => ({
  model: setup.slug,
  user: 'bench-user',
  messages: [{ role: 'system', content: SYSTEM }, { role: 'user', content: MESSAGE }],
  ...(stream ? { stream: true } : {}),
});

/** Sequential whole answers of one route; a refusal stops the phase (a figure of errors means nothing). */
function wholeLatency(url: string, body: unknown, token: string, ok: number, seconds: number): Promise<Distribution> {
  const agent = keepAliveAgent();
  return repeat(seconds, async () => {
    const answer = await postJson(url, body, { agent, token });
    if (answer.status !== ok) throw new Error(`${url} answered ${answer.status}: ${JSON.stringify(answer.body).slice(0, 300)}`);
    return answer.ms;
  }).finally(() => agent.destroy());
}

function streamedTtft(url: string, body: unknown, token: string, isDelta: (event: string, data: string) => boolean, seconds: number): Promise<Distribution> {
  const agent = keepAliveAgent();
  return repeat(seconds, async () => {
    const result = await streamRequest(url, body, agent, isDelta, token);
    if (result.status !== 200 || Number.isNaN(result.ttftMs)) throw new Error(`${url} stream: ${result.status}, events ${result.events.slice(0, 5).join(',')}`);
    return result.ttftMs;
  }).finally(() => agent.destroy());
}

function rows(what: string, direct: Distribution, completions: Distribution, chat: Distribution): Row[] {
  const added = completions.p50 - direct.p50;
  const row = (measure: string, parley: number, baseline: number, target = dash, verdict = dash): Row => ({
    measure,
    parley: withUnit(parley, 'ms', 2),
    baseline: withUnit(baseline, 'ms', 2),
    ratio: ratio(parley, baseline),
    target,
    verdict,
  });
  return [
    row(`${what} p50 (direct to the fake LLM: ${num(direct.p50, 2)} ms)`, completions.p50, chat.p50),
    row(`${what} p99 (direct: ${num(direct.p99, 2)} ms)`, completions.p99, chat.p99),
    row(`Added ${what} p50 (route − direct)`, added, chat.p50 - direct.p50, `≤ ${TARGET_MS} ms`, atMost(added, TARGET_MS, 'ms')),
    row(`Added ${what} p99`, completions.p99 - direct.p99, chat.p99 - direct.p99),
  ];
}

export async function openAiPhase(section: Section, say: (line: string) => void, options: { llmUrl: string; databaseUrl?: string; runId: string; seconds: number }): Promise<void> {
  const { llmUrl, seconds } = options;
  const streamSeconds = Math.max(2, Math.round(seconds / 2));
  say('starting a Parley for this phase (API-key limits raised)');
  const parley = await startParley('parley-openai', {
    llmUrl,
    databaseUrl: options.databaseUrl,
    env: { RATE_LIMIT_API_KEY: '1000000/1m', RATE_LIMIT_API_KEY_USER: '1000000/1m' },
  });
  try {
    const setup = await setUp(parley.url, options.runId);
    const completionsUrl = `${setup.url}/v1/chat/completions`;
    const chatUrl = `${setup.url}/v1/chat`;

    say('whole: direct to the fake LLM');
    const direct = await directTurns(llmUrl, seconds);
    say('whole: /v1/chat/completions');
    const completions = await wholeLatency(completionsUrl, completionBody(setup, false), setup.key, 200, seconds);
    say('whole: /v1/chat');
    const chat = await wholeLatency(chatUrl, { message: MESSAGE }, setup.token, 201, seconds);
    section.rows.push(...rows('Whole answer', direct, completions, chat));

    say('TTFT: direct to the fake LLM');
    const directFirst = await directTtft(llmUrl, streamSeconds);
    say('TTFT: /v1/chat/completions');
    const completionsFirst = await streamedTtft(completionsUrl, completionBody(setup, true), setup.key, openAiDelta, streamSeconds);
    say('TTFT: /v1/chat');
    const chatFirst = await streamedTtft(chatUrl, { message: MESSAGE, stream: true }, setup.token, parleyDelta, streamSeconds);
    section.rows.push(...rows('TTFT', directFirst, completionsFirst, chatFirst));

    say(`added p50: whole ${num(completions.p50 - direct.p50, 2)} ms (/v1/chat ${num(chat.p50 - direct.p50, 2)} ms), TTFT ${num(completionsFirst.p50 - directFirst.p50, 2)} ms (/v1/chat ${num(chatFirst.p50 - directFirst.p50, 2)} ms)`);
    section.notes.push(
      `Samples (whole, TTFT): direct ${direct.count}, ${directFirst.count}; /v1/chat/completions ${completions.count}, ${completionsFirst.count}; /v1/chat ${chat.count}, ${chatFirst.count}.`,
      '/v1/chat/completions stores no conversation (the client sends the whole conversation each time), only the usage of the reply; /v1/chat stores both messages of each turn in a new conversation.',
    );
  } finally {
    await parley.stop();
  }
}
