/**
 * Phase 8: does one large knowledge upload, or one largest message, stall everyone else? `/health`
 * is asked every 10 ms, first with nothing else going on (the baseline), then while each of the
 * largest documents Parley accepts is uploaded, chunked and stored, one after the other, then
 * while the largest messages are answered.
 */
import http from 'node:http';
import { LARGE_DOCUMENTS } from '../test/helpers/documents.js';
import { percentile, postJson } from './client.js';
import { atMost, num, ratio, withUnit, type Section } from './report.js';
import { sleep } from './processes.js';

const TARGET_MS = 100;
const IDLE_MS = 3_000;

/** One GET /health on a fresh connection, timed from the request to the end of the answer. */
function timedHealth(url: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const req = http.request(`${url}/health`, { agent: false }, (res) => {
      res.resume();
      res.on('end', () => (res.statusCode === 200 ? resolve(performance.now() - started) : reject(new Error(`/health answered ${res.statusCode}`))));
    });
    req.on('error', reject);
    req.end();
  });
}

/** Asks /health every 10 ms until `work` settles; returns the answers' times. */
async function probeWhile<T>(url: string, work: Promise<T>): Promise<{ result: T; waits: number[] }> {
  let running = true;
  const waits: number[] = [];
  const probing = (async () => {
    while (running) {
      waits.push(await timedHealth(url));
      await sleep(10);
    }
  })();
  try {
    return { result: await work, waits };
  } finally {
    running = false;
    await probing;
  }
}

const summary = (waits: number[]) => ({ p50: percentile(waits, 50), p99: percentile(waits, 99), max: Math.max(...waits), count: waits.length });

export async function uploadsPhase(section: Section, say: (line: string) => void, options: { url: string; token: string }): Promise<void> {
  const { url, token } = options;
  const bot = await postJson(`${url}/v1/chatbots`, { name: 'Uploads bench' }, { token });
  if (bot.status !== 201) throw new Error(`create chatbot: ${bot.status} ${JSON.stringify(bot.body)}`);

  say(`/health with nothing else running, ${IDLE_MS / 1000} s`);
  const idle = summary((await probeWhile(url, sleep(IDLE_MS))).waits);
  const during: number[] = [];
  for (const [label, make] of LARGE_DOCUMENTS) {
    const content = make();
    const { result, waits } = await probeWhile(url, postJson(`${url}/v1/chatbots/${bot.body.id}/knowledge`, { title: label, content }, { token }));
    if (result.status !== 201) throw new Error(`upload ${label}: ${result.status} ${JSON.stringify(result.body)}`);
    const one = summary(waits);
    say(`${label}: ${content.length.toLocaleString('en-US')} characters, ${result.body.chunk_count} chunks in ${num(result.ms / 1000, 2)} s; /health p99 ${num(one.p99)} ms, max ${num(one.max)} ms over ${one.count} answers`);
    section.notes.push(`${label} (${content.length.toLocaleString('en-US')} characters, ${result.body.chunk_count} chunks, ${num(result.ms / 1000, 2)} s): /health p50 ${num(one.p50)} ms, p99 ${num(one.p99)} ms, max ${num(one.max)} ms over ${one.count} answers.`);
    during.push(...waits);
  }
  const all = summary(during);
  const messages = summary(await largestMessages(section, say, { url, token, chatbotId: bot.body.id as string }));
  section.rows.push(
    { measure: '/health p50', parley: withUnit(all.p50, 'ms'), baseline: withUnit(idle.p50, 'ms'), ratio: ratio(all.p50, idle.p50), target: '—', verdict: '—' },
    { measure: '/health p99', parley: withUnit(all.p99, 'ms'), baseline: withUnit(idle.p99, 'ms'), ratio: ratio(all.p99, idle.p99), target: '—', verdict: '—' },
    { measure: 'Slowest /health', parley: withUnit(all.max, 'ms'), baseline: withUnit(idle.max, 'ms'), ratio: ratio(all.max, idle.max), target: `< ${TARGET_MS} ms`, verdict: atMost(all.max, TARGET_MS, 'ms', 1) },
    { measure: 'Slowest /health, largest messages', parley: withUnit(messages.max, 'ms'), baseline: withUnit(idle.max, 'ms'), ratio: ratio(messages.max, idle.max), target: `< ${TARGET_MS} ms`, verdict: atMost(messages.max, TARGET_MS, 'ms', 1) },
  );
  section.notes.push(`Answers: ${all.count} during uploads, ${messages.count} during the largest messages, ${idle.count} idle.`);
}

/** Space-less Chinese: the slowest text to count and to cut into search terms. */
const chinese = (length: number) => Array.from({ length }, (_, i) => String.fromCharCode(0x4e00 + ((i * 7919) % 20_000))).join('');
const MESSAGE_ROUNDS = 5;

/**
 * The largest messages Parley takes, while /health is asked: a 32,000-character message
 * (MAX_MESSAGE_CHARS) to a conversation, and a /v1/chat/completions call whose client history
 * fills the 1 MiB body with such messages. Both once took 0.4 s of the event loop.
 */
async function largestMessages(section: Section, say: (line: string) => void, options: { url: string; token: string; chatbotId: string }): Promise<number[]> {
  const { url, token, chatbotId } = options;
  const key = await postJson(`${url}/v1/chatbots/${chatbotId}/keys`, { name: 'Largest messages' }, { token });
  if (key.status !== 201) throw new Error(`create key: ${key.status} ${JSON.stringify(key.body)}`);
  const conversation = await postJson(`${url}/v1/conversations`, { chatbot_id: chatbotId }, { token });
  if (conversation.status !== 201) throw new Error(`create conversation: ${conversation.status} ${JSON.stringify(conversation.body)}`);
  const waits: number[] = [];
  const calls: Array<[string, () => ReturnType<typeof postJson>]> = [
    ['a 32,000-character message', () => postJson(`${url}/v1/conversations/${conversation.body.id}/messages`, { content: chinese(32_000) }, { token })],
    [
      '/v1/chat/completions with ten such messages (0.96 MB)',
      () => postJson(`${url}/v1/chat/completions`, { model: chatbotId, messages: Array.from({ length: 10 }, () => ({ role: 'user', content: chinese(32_000) })) }, { token: key.body.key as string }),
    ],
  ];
  for (const [label, call] of calls) {
    // Once before it counts: a route's first answer compiles its serializer, which is not what is measured here.
    await call();
    const mine: number[] = [];
    for (let round = 0; round < MESSAGE_ROUNDS; round++) {
      const { result, waits: during } = await probeWhile(url, call());
      if (result.status !== 200 && result.status !== 201) throw new Error(`${label}: ${result.status} ${JSON.stringify(result.body)}`);
      mine.push(...during);
    }
    const one = summary(mine);
    say(`${label}, ${MESSAGE_ROUNDS} times: /health p99 ${num(one.p99)} ms, max ${num(one.max)} ms over ${one.count} answers`);
    section.notes.push(`${label} (Chinese without spaces), ${MESSAGE_ROUNDS} times: /health p50 ${num(one.p50)} ms, p99 ${num(one.p99)} ms, max ${num(one.max)} ms over ${one.count} answers.`);
    waits.push(...mine);
  }
  return waits;
}
